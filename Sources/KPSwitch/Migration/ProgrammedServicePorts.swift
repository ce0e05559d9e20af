import Foundation
import IPVS
import KubeAPI
import NodeState

/// The Service ports the API lists with a ClusterIP (one per port and ClusterIP family, headless and
/// ExternalName Services have none): what every node's kube-proxy programs whatever its mode.
struct ClusterIPPorts: Sendable, Equatable {
    private(set) var keys: Set<IPVSService.Key> = []

    var count: Int { keys.count }

    mutating func add(_ service: Service) {
        guard let spec = service.json["spec"] else { return }
        var addresses = (spec["clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        if addresses.isEmpty, let clusterIP = spec["clusterIP"]?.stringValue { addresses = [clusterIP] }
        let parsed = addresses.compactMap(IPVSAddress.init)
        for port in spec["ports"]?.arrayValue ?? [] {
            guard let number = port["port"]?.intValue.flatMap(UInt16.init(exactly:)) else { continue }
            let proto: IPVSProtocol = switch (port["protocol"]?.stringValue ?? "TCP").uppercased() {
            case "UDP": .udp
            case "SCTP": .sctp
            default: .tcp
            }
            for address in parsed { keys.insert(.endpoint(proto, address, port: number)) }
        }
    }

    /// One paged pass over every namespace's Services.
    static func list(_ client: KubeClient) async throws(KubeAPIError) -> ClusterIPPorts {
        var ports = ClusterIPPorts()
        var pages = client.listPages(Service.self, namespace: "").makeAsyncIterator()
        while let page = try await pages.next() {
            for service in page.items { ports.add(service) }
        }
        return ports
    }
}

/// Issue 15's verification of a migrated node: the ClusterIP service ports its new mode programs, counted by
/// its agent (iptables: KUBE-SERVICES `cluster IP` rules and filter's `has no endpoints` REJECTs; nftables:
/// `service-*` chains and `no-endpoint-services` rejects; IPVS: virtual servers at a Service's ClusterIP and
/// port), against the ports the API lists; and, where the new mode cleans the old one itself (to or from
/// nftables), that nothing of the old mode is left.
enum ProgrammedServicePorts {
    /// Services created or deleted while the migration runs make a node's count differ a little from the
    /// list's: up to 5% of the listed ports (rounded down) fewer is tolerated, anything below fails.
    static func shortfallTolerated(of expected: Int) -> Int { expected / 20 }

    /// The node's count of ClusterIP service ports programmed in `mode`: iptables kube-proxy writes one
    /// backend, so the backend holding more counts; each family adds up.
    static func count(_ agent: AgentNode, mode: ProxyMode, expected: ClusterIPPorts) throws -> Int {
        switch mode {
        case .iptables:
            return IPTablesChains.Backend.allCases.map { backend in
                IPTablesChains.Family.allCases.reduce(0) { $0 + (agent.programmedServicePorts["iptables-\(backend.rawValue)-\($1.rawValue)"] ?? 0) }
            }.max() ?? 0
        case .nftables:
            return (agent.programmedServicePorts["nft-ip"] ?? 0) + (agent.programmedServicePorts["nft-ip6"] ?? 0)
        case .ipvs:
            return try agent.serviceKeys().filter(expected.keys.contains).count
        }
    }

    /// Why `agent`'s node fails verification for `mode` (migrated from `from`), or nil when it passes.
    static func failure(agent: AgentNode, mode: ProxyMode, from: ProxyMode, expected: ClusterIPPorts) -> String? {
        let programmed: Int
        do {
            programmed = try count(agent, mode: mode, expected: expected)
        } catch {
            return "its \(mode.rawValue) service ports could not be counted: \(error)"
        }
        if programmed < expected.count - shortfallTolerated(of: expected.count) {
            return "kube-proxy programs \(programmed) of the \(expected.count) ClusterIP service ports the API lists in \(mode.rawValue) mode (\(expected.count - programmed) missing; at most \(shortfallTolerated(of: expected.count)) may be)"
        }
        let left = leftovers(agent, of: from, after: mode, expected: expected)
        guard left.isEmpty else {
            return "kube-proxy in \(mode.rawValue) mode cleans up \(from.rawValue) at start, yet the node still holds \(Sample(left).listed)"
        }
        return nil
    }

    /// What of `old` is left where `new` removes it at start (kube-proxy's platformCleanup; iptables and
    /// ipvs leave each other's alone, which is the migration's own cleanup).
    static func leftovers(_ agent: AgentNode, of old: ProxyMode, after new: ProxyMode, expected: ClusterIPPorts) -> [String] {
        switch (old, new) {
        case (.iptables, .nftables), (.ipvs, .nftables):
            var left = agent.iptablesChains().flatMap { chains in
                chains.kubeProxyChains.map { "\(chains.backend.rawValue) \(chains.family.rawValue) \($0)" }
            }
            if old == .ipvs {
                let servers = ((try? agent.serviceKeys()) ?? []).filter(expected.keys.contains)
                if !servers.isEmpty { left.append("\(servers.count) IPVS virtual servers at ClusterIPs") }
                if (try? agent.linkExists("kube-ipvs0")) == true { left.append("link kube-ipvs0") }
            }
            return left
        case (.nftables, .iptables), (.nftables, .ipvs):
            return ((try? agent.nftablesTables()) ?? []).filter { $0 == "ip kube-proxy" || $0 == "ip6 kube-proxy" }
                .map { "nftables table \($0)" }
        default:
            return []
        }
    }
}

/// The verification step of every batch and of the final rollout (`verify`, `awaitRollout`).
extension MigrationRunner {
    /// Issue 15's verification, when the node agents are in use (the back-up step's node snapshot) and the run
    /// goes forward: each node's agent counts the ClusterIP service ports `mode` programs there
    /// (`ProgrammedServicePorts`). A node that falls short is looked at once more, after a pause (a big
    /// ruleset's first sync takes a while) and against a fresh list of the Services, before it fails the step.
    func verifyProgrammed(nodes: [String], mode: ProxyMode) async throws(StepFailure) {
        guard let plan = state.nodeSnapshot, state.record.rollback == nil, !nodes.isEmpty else { return }
        var failures = try await programmedFailures(nodes, mode: mode, options: plan.options, ignoringAgents: plan.ignoreFailures)
        if !failures.isEmpty {
            try? await Task.sleep(for: Self.programmedRetryPause)
            clusterIPPorts = nil
            failures = try await programmedFailures(
                failures.keys.sorted(), mode: mode, options: plan.options, ignoringAgents: plan.ignoreFailures)
        }
        let expected = clusterIPPorts?.count ?? 0
        guard !failures.isEmpty else {
            progress("programmed: \(nodes.count == 1 ? "node \(nodes[0]) programs" : "all \(nodes.count) nodes program") the \(expected) ClusterIP service ports in \(mode.rawValue) mode")
            return
        }
        let failing = failures.keys.sorted()
        let named = failing.prefix(3).map { "node \($0): \(failures[$0] ?? "")" }.joined(separator: "; ")
        let more = failing.count > 3 ? "; and \(failing.count - 3) more of the \(nodes.count) nodes" : ""
        throw StepFailure(message: "the programmed rules fail verification on \(named)\(more). See Runbooks/migrate.md#programmed-service-ports.")
    }

    static let programmedRetryPause: Duration = .seconds(5)

    /// Each node's reason to fail, by node.
    func programmedFailures(
        _ nodes: [String], mode: ProxyMode, options: NodeAgentOptions, ignoringAgents: Bool
    ) async throws(StepFailure) -> [String: String] {
        let ports: ClusterIPPorts
        if let clusterIPPorts {
            ports = clusterIPPorts
        } else {
            let client = client
            ports = try await api { () async throws(KubeAPIError) in try await ClusterIPPorts.list(client) }
            clusterIPPorts = ports
        }
        let runner = NodeAgentRunner(
            client: client, namespace: namespace, template: state.originalDaemonSet.template, image: options.image,
            concurrency: options.concurrency, deadlineSeconds: options.deadlineSeconds)
        var failures: [String: String] = [:]
        for (node, result) in await runner.inspect(nodes: nodes) {
            switch result {
            case .success(let agent):
                failures[node] = ProgrammedServicePorts.failure(
                    agent: agent, mode: mode, from: state.record.plan.from, expected: ports)
            case .failure(let failure) where !ignoringAgents:
                failures[node] = "its agent could not count the programmed service ports: \(failure.reason.trimmingCharacters(in: CharacterSet(charactersIn: ". ")))"
            case .failure:
                continue
            }
        }
        return failures
    }
}
