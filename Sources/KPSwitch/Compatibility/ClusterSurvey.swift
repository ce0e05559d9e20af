import KubeAPI
import ProxyConfig

/// What the cluster checks and `advise` read, read once per run and shared: kube-proxy's state, the nodes, the
/// DaemonSets of every namespace, and one paged pass over the Services that keeps counts and a few names.
actor ClusterSurvey {
    let client: KubeClient
    let namespace: String
    /// A refusal is kept too, so that every check reports it without detecting the flavour again.
    private var cachedProxy: Result<KubeProxyState, any Error>?
    private var cachedDetection: Result<(FlavourReport, [DaemonSet], [ConfigMap]), any Error>?
    private var cachedNodes: [Node]?
    private var cachedServices: ServiceSummary?
    private var cachedDaemonSets: [DaemonSet]?

    init(client: KubeClient, namespace: String) {
        self.client = client
        self.namespace = namespace
    }

    /// kube-proxy's state; throws the flavour's refusal (exit 3) when kpswitch cannot migrate it.
    func kubeProxy() async throws -> KubeProxyState {
        if let cachedProxy { return try cachedProxy.get() }
        do {
            let state = try KubeProxyState.state(detected: try await detection(), namespace: namespace)
            cachedProxy = .success(state)
            return state
        } catch {
            cachedProxy = .failure(error)
            throw error
        }
    }

    /// Flavour detection over kube-proxy's objects, once: KubeProxyFlavour reports it, the other checks use its state.
    func detection() async throws -> (FlavourReport, [DaemonSet], [ConfigMap]) {
        if let cachedDetection { return try cachedDetection.get() }
        do {
            let detected = try await KubeProxyState.detect(client: client, namespace: namespace)
            cachedDetection = .success(detected)
            return detected
        } catch {
            cachedDetection = .failure(error)
            throw error
        }
    }

    func nodes() async throws -> [Node] {
        if let cachedNodes { return cachedNodes }
        let nodes = try await client.list(Node.self).items
        cachedNodes = nodes
        return nodes
    }

    /// The nodes kube-proxy's DaemonSet runs on, and those it leaves out; all nodes when kube-proxy's state
    /// cannot be read (the flavour check reports why).
    func proxyNodes() async throws -> ProxyNodes {
        let daemonSet = try? await kubeProxy().daemonSet
        return ProxyNodes(nodes: try await nodes(), daemonSet: daemonSet)
    }

    /// DaemonSets of every namespace: clusters run tens of them, so holding them is cheap.
    func daemonSets() async throws -> [DaemonSet] {
        if let cachedDaemonSets { return cachedDaemonSets }
        let sets = try await client.list(DaemonSet.self, namespace: "").items
        cachedDaemonSets = sets
        return sets
    }

    func services() async throws -> ServiceSummary {
        if let cachedServices { return cachedServices }
        let nodeIPs = Set(try await nodes().flatMap(Self.addresses))
        var summary = ServiceSummary()
        for try await page in client.listPages(Service.self, namespace: "") {
            for service in page.items { summary.add(service, nodeIPs: nodeIPs) }
        }
        cachedServices = summary
        return summary
    }

    static func addresses(_ node: Node) -> [String] {
        (node.json[path: ["status", "addresses"]]?.arrayValue ?? [])
            .filter { $0["type"]?.stringValue == "InternalIP" || $0["type"]?.stringValue == "ExternalIP" }
            .compactMap { $0["address"]?.stringValue }
    }
}

/// A count and the first few names of what was counted, so that a finding can cite objects without holding
/// every one of them.
struct Sample: Sendable, Equatable {
    static let limit = 5
    private(set) var total = 0
    private(set) var first: [String] = []

    mutating func add(_ item: @autoclosure () -> String) {
        total += 1
        if first.count < Self.limit { first.append(item()) }
    }

    var isEmpty: Bool { total == 0 }

    /// `a, b, c` or `a, b, c, d, e and 12 more`.
    var listed: String {
        first.joined(separator: ", ") + (total > first.count ? " and \(total - first.count) more" : "")
    }
}

/// The Services, reduced to what the advice and the compatibility checks cite.
struct ServiceSummary: Sendable, Equatable {
    var count = 0
    var ports = 0
    /// Services with allocated NodePorts (`namespace/name:port`).
    var nodePorts = Sample()
    var externalIPs = Sample()
    /// Services whose externalIPs include a node's own address.
    var externalIPsOnNodes = Sample()
    var clientIPAffinity = Sample()
    /// What IPVS virtual servers the Services make, to tell a node's foreign ones from kube-proxy's.
    var addresses = ServiceAddresses()

    mutating func add(_ service: Service, nodeIPs: Set<String>) {
        count += 1
        addresses.add(service)
        let spec = service.json["spec"]
        let servicePorts = spec?["ports"]?.arrayValue ?? []
        ports += servicePorts.count
        let name = "\(service.namespace ?? "")/\(service.name)"
        let allocated = servicePorts.compactMap { $0["nodePort"]?.intValue }
        if !allocated.isEmpty {
            nodePorts.add("\(name):\(allocated.map(String.init).joined(separator: ","))")
        }
        let ips = (spec?["externalIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        if !ips.isEmpty {
            externalIPs.add("\(name) (\(ips.joined(separator: ", ")))")
            let onNodes = ips.filter(nodeIPs.contains)
            if !onNodes.isEmpty { externalIPsOnNodes.add("\(name) (\(onNodes.joined(separator: ", ")))") }
        }
        if spec?["sessionAffinity"]?.stringValue == "ClientIP" {
            // The API server defaults the timeout to 10800 s (3 h) when ClientIP is set.
            let timeout = spec?[path: ["sessionAffinityConfig", "clientIP", "timeoutSeconds"]]?.intValue ?? 10800
            clientIPAffinity.add("\(name) (\(timeout) s)")
        }
    }
}
