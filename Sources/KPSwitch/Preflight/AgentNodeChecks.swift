import KubeAPI

/// How preflight runs agent pods: `--node-image`, `--node-concurrency` and `--node-timeout`.
public struct NodeAgentOptions: Sendable {
    public let image: String?
    public let concurrency: Int
    /// The pods' `activeDeadlineSeconds`.
    public let deadlineSeconds: Int
    /// Why no agent pod may be started (`migrate --dry-run` changes nothing in the cluster), or nil.
    public let withheld: String?

    public init(
        image: String? = nil, concurrency: Int = NodeAgentRunner.defaultConcurrency,
        deadlineSeconds: Int = NodeAgentRunner.defaultDeadlineSeconds, withheld: String? = nil
    ) {
        self.image = image
        self.concurrency = concurrency
        self.deadlineSeconds = deadlineSeconds
        self.withheld = withheld
    }
}

/// The node checks cluster preflight runs on every node kube-proxy runs on, through agent pods: only those
/// that need facts the API cannot give. iptables needs none; nftables' one fact, the kernel version, the
/// API gives (NodeKernels), so neither target starts a pod. To IPVS, a node's foreign virtual servers are
/// judged against the Services' addresses, since the agent cannot read the node's.
enum AgentNodeChecks {
    static func checks(
        for target: ProxyMode?, scheduler: String, agents: NodeAgents, requireEveryNode: Bool
    ) -> [any PreflightCheck] {
        guard target == .ipvs else { return [] }
        let survey = agents.survey
        let services: @Sendable () async throws -> ServiceAddresses = { try await survey.services().addresses }
        return [
            AcrossNodes(name: "IPVSKernelSupport", agents: agents, requireEveryNode: requireEveryNode) {
                IPVSKernelSupport(node: $0, scheduler: scheduler)
            },
            // A node whose agent did not run is IPVSKernelSupport's error already; here it is only skipped.
            AcrossNodes(name: "ForeignIPVSServices", agents: agents, requireEveryNode: false) {
                ForeignIPVSServices(node: $0, ipvs: $0, services: services)
            },
        ]
    }
}

/// Every kube-proxy node's agent facts for one preflight run, gathered once and shared by the checks.
actor NodeAgents {
    /// The nodes in ProxyNodes order, each with its facts or why it has none; or why no agent ran, and the
    /// nodes it would have run on when they are known.
    typealias Gathered = Ran<AgentNode>

    let survey: ClusterSurvey
    let options: NodeAgentOptions
    /// The node bundle each agent also writes (`NodeSnapshots`), or nil for facts only.
    let snapshot: String?
    /// Only these nodes get an agent (a retry of the ones that failed); nil for all.
    let only: Set<String>?
    private var gathered: Gathered?

    init(survey: ClusterSurvey, options: NodeAgentOptions, snapshot: String? = nil, only: Set<String>? = nil) {
        self.survey = survey
        self.options = options
        self.snapshot = snapshot
        self.only = only
    }

    func gather() async -> Gathered {
        if let gathered { return gathered }
        let result = await run()
        gathered = result
        return result
    }

    private func run() async -> Gathered {
        let snapshot = snapshot
        return await run(.facts(snapshot: snapshot)) { log throws(NodeAgentLogError) in try AgentNode(log: log, snapshot: snapshot) }
    }

    /// Each node's answer to `program`, or why it has none.
    enum Ran<Answer: Sendable>: Sendable {
        case ran(nodes: [String], results: [String: Result<Answer, NodeAgentFailure>], leftOut: String?)
        case notRun(reason: String, nodes: [String]?)
    }

    /// Runs `program` on every kube-proxy node (those in `only`), reading each log with `read`.
    func run<Answer: Sendable>(
        _ program: NodeAgentProgram, read: @escaping @Sendable (NodeAgentLog) throws(NodeAgentLogError) -> Answer
    ) async -> Ran<Answer> {
        let fleet: ProxyNodes
        do {
            fleet = try await survey.proxyNodes()
        } catch {
            return .notRun(reason: "could not list the nodes: \(KPSwitchError(error).message)", nodes: nil)
        }
        let nodes = fleet.nodes.map(\.name)
        if let withheld = options.withheld { return .notRun(reason: withheld, nodes: nodes) }
        let template: JSONValue
        do {
            guard let daemonSet = try await survey.kubeProxy().daemonSet,
                let spec = daemonSet.json[path: ["spec", "template"]]
            else {
                return .notRun(reason: "kube-proxy runs without a DaemonSet whose pod template the agents could copy", nodes: nodes)
            }
            template = spec
        } catch {
            return .notRun(reason: "kube-proxy's DaemonSet, whose pod template the agents copy, could not be read: \(KPSwitchError(error).message)", nodes: nodes)
        }
        let namespace = survey.namespace
        let missing: [Permission]
        do {
            missing = try await MigrationPermissions.missing(survey.client, namespace: namespace, of: NodeAgentRunner.permissions(namespace: namespace))
        } catch {
            return .notRun(reason: "could not ask the API server whether this user may run agent pods (SelfSubjectAccessReview): \(error)", nodes: nodes)
        }
        if !missing.isEmpty {
            return .notRun(
                reason: "this user may not \(missing.map(\.description).joined(separator: ", ")), which running an agent pod on each node needs; "
                    + "grant it, or run 'kpswitch preflight --scope node' as root on each node",
                nodes: nodes)
        }
        // A NotReady node's kubelet would leave the pod pending until the deadline: say so at once instead.
        let notReady = Set(fleet.nodes.filter { !$0.isReady }.map(\.name))
        let runner = NodeAgentRunner(
            client: survey.client, namespace: namespace, template: template, image: options.image,
            concurrency: options.concurrency, deadlineSeconds: options.deadlineSeconds)
        var results = await runner.run(program, on: nodes.filter { !notReady.contains($0) && only?.contains($0) != false }, read: read)
        for node in notReady {
            results[node] = .failure(NodeAgentFailure(node: node, reason: "the node is NotReady, so its kubelet would not start an agent pod"))
        }
        return .ran(nodes: nodes, results: results, leftOut: fleet.leftOutSentence)
    }
}

/// One node check run on every node through its agent, one finding per distinct outcome naming its nodes:
/// `2 of 5 nodes: worker-3, worker-4: ip_vs is not loaded, ...`, with every node in `nodes`. A node whose
/// agent could not run is skipped for that node with the reason, never passed; for a migration
/// (`requireEveryNode`) that is an error, because the new mode would meet that node unchecked.
struct AcrossNodes: PreflightCheck {
    let name: CheckName
    let scope: CheckScope = .nodes
    let agents: NodeAgents
    let requireEveryNode: Bool
    let check: @Sendable (AgentNode) -> any PreflightCheck

    func run() async -> [Finding] {
        switch await agents.gather() {
        case .notRun(let reason, let nodes):
            return [unchecked(reason, nodes: nodes, total: nodes?.count ?? 0)]
        case .ran(let nodes, let results, let leftOut):
            guard !nodes.isEmpty else { return [.skipped("kube-proxy's DaemonSet runs on no Linux node, so no node was checked")] }
            var outcomes: [Finding] = []
            var nodesOf: [Int: [String]] = [:]
            for node in nodes {
                let findings: [Finding]
                switch results[node] {
                case .success(let agent)?: findings = await check(agent).run()
                case .failure(let failure)?: findings = [.skipped("its agent could not run: \(failure.reason)")]
                case nil: findings = [.skipped("its agent could not run: no result")]
                }
                for finding in findings {
                    let index = outcomes.firstIndex(of: finding) ?? {
                        outcomes.append(finding)
                        return outcomes.count - 1
                    }()
                    nodesOf[index, default: []].append(node)
                }
            }
            // The worst outcomes first, each kind in the order the nodes first showed it.
            let rank: [Finding.Severity: Int] = [.error: 0, .skipped: 1, .warning: 2, .note: 3]
            let order = outcomes.indices.sorted { (rank[outcomes[$0].severity] ?? 4, $0) < (rank[outcomes[$1].severity] ?? 4, $1) }
            var findings = order.map { index in
                let outcome = outcomes[index], named = nodesOf[index] ?? []
                if outcome.severity == .skipped { return unchecked(outcome.message, nodes: named, total: nodes.count) }
                return Finding(
                    outcome.severity, subject: outcome.subject, "\(Self.which(named, of: nodes.count)): \(outcome.message)",
                    remediation: outcome.remediation, nodes: named)
            }
            if let leftOut { findings.append(.note(leftOut)) }
            return findings
        }
    }

    /// Nodes this check could not look at: skipped, or for a migration an error.
    func unchecked(_ reason: String, nodes: [String]?, total: Int) -> Finding {
        let message = nodes.map { "\(Self.which($0, of: total)): \(reason)" } ?? reason
        guard requireEveryNode else { return .skipped(message, nodes: nodes) }
        return .error(
            "\(message); a migration would switch them unchecked",
            remediation: "Fix what kept the agent from running and retry, or pass --ignore-preflight-errors=\(name) to migrate those nodes unchecked.",
            nodes: nodes)
    }

    /// `all 5 nodes`, `node worker-1`, or `2 of 5 nodes: worker-3, worker-4` (the first few names).
    static func which(_ nodes: [String], of total: Int) -> String {
        if nodes.count == total { return total == 1 ? "node \(nodes[0])" : "all \(total) nodes" }
        return "\(nodes.count) of \(total) nodes: \(Sample(nodes).listed)"
    }
}
