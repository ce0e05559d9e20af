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
    }

    /// The kube-proxy version when it differs from the server's (its image tag), else the server's.
    public let kubernetesVersion: KubernetesVersion
    public let currentMode: ProxyMode
    public let services: Int
    public let servicePorts: Int
    public let endpoints: Int
    public let maxEndpointsPerService: Int
    public let p99EndpointsPerService: Int
    public let nodes: [Node]

    private enum CodingKeys: String, CodingKey {
        case kubernetesVersion, currentMode, services, servicePorts, endpoints, maxEndpointsPerService
        case p99EndpointsPerService, nodes
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
    }

    public init(
        kubernetesVersion: KubernetesVersion, currentMode: ProxyMode, services: Int, servicePorts: Int, endpoints: Int,
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
