import NodeState

/// What `advise` and cluster preflight read from the cluster, reduced to the numbers the advice uses.
public struct ClusterFacts: Codable, Equatable, Sendable {
    public struct Version: Codable, Comparable, Sendable, CustomStringConvertible {
        public let major: Int
        public let minor: Int

        public init(major: Int, minor: Int) {
            self.major = major
            self.minor = minor
        }

        /// `v1.34.2`, `1.31`, `v1.33.5-eks-1234`.
        public init?(_ text: String) {
            let parts = text.drop(while: { $0 == "v" }).split(separator: ".").prefix(2)
                .map { Int($0.prefix(while: \.isNumber)) }
            guard parts.count == 2, let major = parts[0], let minor = parts[1] else { return nil }
            self.init(major: major, minor: minor)
        }

        public var description: String { "\(major).\(minor)" }

        public static func < (lhs: Version, rhs: Version) -> Bool { (lhs.major, lhs.minor) < (rhs.major, rhs.minor) }
    }

    public struct Node: Codable, Equatable, Sendable {
        public let name: String
        public let kernel: String
        public let osImage: String

        public init(name: String, kernel: String, osImage: String) {
            self.name = name
            self.kernel = kernel
            self.osImage = osImage
        }
    }

    /// The kube-proxy version when it differs from the server's (its image tag), else the server's.
    public let kubernetesVersion: Version
    public let currentMode: ProxyMode
    public let services: Int
    public let servicePorts: Int
    public let endpoints: Int
    public let maxEndpointsPerService: Int
    public let p99EndpointsPerService: Int
    public let nodes: [Node]

    public init(
        kubernetesVersion: Version, currentMode: ProxyMode, services: Int, servicePorts: Int, endpoints: Int,
        maxEndpointsPerService: Int, p99EndpointsPerService: Int, nodes: [Node]
    ) {
        self.kubernetesVersion = kubernetesVersion
        self.currentMode = currentMode
        self.services = services
        self.servicePorts = servicePorts
        self.endpoints = endpoints
        self.maxEndpointsPerService = maxEndpointsPerService
        self.p99EndpointsPerService = p99EndpointsPerService
        self.nodes = nodes
    }

    /// Nodes whose kernel is older than nftables mode needs (5.13), or whose kernel cannot be read.
    public var nodesBelowNFTablesKernel: [Node] {
        nodes.filter { node in KernelRelease(node.kernel).map { $0 < KernelRelease(major: 5, minor: 13) } ?? true }
    }
}
