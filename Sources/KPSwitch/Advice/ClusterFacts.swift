import KubeAPI
import NodeState
import ProxyConfig

/// What `advise` and cluster preflight read from the cluster, reduced to the numbers the advice uses.
public struct ClusterFacts: Encodable, Equatable, Sendable {
    public struct Node: Encodable, Equatable, Sendable {
        public let name: String
        public let kernel: String
        public let osImage: String

        public init(name: String, kernel: String, osImage: String) {
            self.name = name
            self.kernel = kernel
            self.osImage = osImage
        }

        init(_ node: KubeAPI.Node) {
            self.init(name: node.name, kernel: node.kernelVersion ?? "", osImage: node.osImage ?? "")
        }

        /// `5.10.227` of `5.10.227-219.884.amzn2.x86_64`: enough to judge by, short enough to list.
        var shortKernel: String {
            kernel.isEmpty ? "kernel unknown" : String(kernel.prefix { $0 != "-" })
        }
    }

    /// A node left out of the counts, and why (`windows`, or `notSelected` by kube-proxy's DaemonSet).
    public struct LeftOutNode: Encodable, Equatable, Sendable {
        public let name: String
        public let reason: String
    }

    /// The kube-proxy version when it differs from the server's (its image tag), else the server's.
    public let kubernetesVersion: KubernetesVersion
    public let currentMode: ProxyMode
    public let services: Int
    public let servicePorts: Int
    public let endpoints: Int
    public let maxEndpointsPerService: Int
    public let p99EndpointsPerService: Int
    /// The nodes kube-proxy's DaemonSet runs on (Windows nodes and nodes it does not select are in `leftOut`).
    public let nodes: [Node]
    public let leftOut: [LeftOutNode]

    private enum CodingKeys: String, CodingKey {
        case kubernetesVersion, currentMode, services, servicePorts, endpoints, maxEndpointsPerService
        case p99EndpointsPerService, nodes, leftOut
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kubernetesVersion.description, forKey: .kubernetesVersion)
        try container.encode(currentMode, forKey: .currentMode)
        try container.encode(services, forKey: .services)
        try container.encode(servicePorts, forKey: .servicePorts)
        try container.encode(endpoints, forKey: .endpoints)
        try container.encode(maxEndpointsPerService, forKey: .maxEndpointsPerService)
        try container.encode(p99EndpointsPerService, forKey: .p99EndpointsPerService)
        try container.encode(nodes, forKey: .nodes)
        try container.encode(leftOut, forKey: .leftOut)
    }

    public init(
        kubernetesVersion: KubernetesVersion, currentMode: ProxyMode, services: Int, servicePorts: Int, endpoints: Int,
        maxEndpointsPerService: Int, p99EndpointsPerService: Int, nodes: [Node], leftOut: [LeftOutNode] = []
    ) {
        self.kubernetesVersion = kubernetesVersion
        self.currentMode = currentMode
        self.services = services
        self.servicePorts = servicePorts
        self.endpoints = endpoints
        self.maxEndpointsPerService = maxEndpointsPerService
        self.p99EndpointsPerService = p99EndpointsPerService
        self.nodes = nodes
        self.leftOut = leftOut
    }

    /// nftables mode needs nft's kernel features of 5.13 (kube-proxy refuses to start below it).
    static let nftablesMinimumKernel = KernelRelease(major: 5, minor: 13)

    /// Nodes whose kernel is older than nftables mode needs, or whose kernel cannot be read.
    public var nodesBelowNFTablesKernel: [Node] { Self.belowNFTablesKernel(nodes) }

    static func belowNFTablesKernel(_ nodes: [Node]) -> [Node] {
        nodes.filter { node in KernelRelease(node.kernel).map { $0 < nftablesMinimumKernel } ?? true }
    }

    /// The one sentence `advise` and the NodeKernels check both say, or nil when every node is new enough.
    static func nftablesKernelProblem(_ nodes: [Node]) -> String? {
        let old = belowNFTablesKernel(nodes)
        guard !old.isEmpty else { return nil }
        let named = Sample(old.map { "\($0.name) (\($0.shortKernel))" })
        return "\(old.count) of \(nodes.count) nodes run a kernel older than \(nftablesMinimumKernel.major).\(nftablesMinimumKernel.minor), "
            + "which nftables mode requires: \(named.listed)"
    }
}
