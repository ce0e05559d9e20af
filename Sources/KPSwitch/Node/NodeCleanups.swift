import KubeAPI
import Logging
import NodeState

/// What one node's cleanup agent removed (or, in a dry run, would remove), read from its log: the same
/// `LeftoverCleanup` and virtual servers `LeftoverRemoval` finds locally, so that one `CleanupReport` renders both.
struct AgentCleanup: Sendable {
    /// Why the agent changed nothing on the node (a tool its image lacks), or nil.
    let refusal: String?
    /// The step that failed on the node, with its error; the later steps were not attempted.
    let failure: String?
    let plan: LeftoverCleanup
    /// kube-proxy's virtual servers, removed (or to be), and the others, kept; as `ipvsadm -L -n` names them.
    let ipvsServices: [String]
    let keptIPVSServices: [String]

    init(log: NodeAgentLog) throws(NodeAgentLogError) {
        var failures: [String] = []
        /// A failed section is kept as the node's failure; the sections before it still say what went.
        func output(_ name: String) throws(NodeAgentLogError) -> String? {
            do throws(NodeAgentLogError) {
                return try log.output(name)
            } catch .failed(let section, let code, let text) {
                failures.append(NodeAgentLogError.failed(section: section, exitCode: code, output: text).description)
                return nil
            }
        }
        refusal = try output("refused")?.trimmingCharacters(in: .whitespacesAndNewlines)
        var notChecked: [String] = []
        var owned: [String] = []
        var kept: [String] = []
        if let text = try output("ipvs") {
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ", maxSplits: 1)
                guard words.count == 2 else { throw .garbled("section ipvs holds '\(line.prefix(80))'") }
                switch words[0] {
                case "deleted": owned.append(String(words[1]))
                case "kept": kept.append(String(words[1]))
                default: throw .garbled("section ipvs holds '\(line.prefix(80))'")
                }
            }
        }
        var iptables: [(variant: IPTablesVariant, removal: IPTablesCleanup)] = []
        for variant in IPTablesVariant.all {
            let name = NodeAgentCleanupScript.section(variant)
            guard let text = try output(name) else {
                if let reason = log.reason(name), !Self.notApplicable(reason) { notChecked.append("\(variant): \(reason)") }
                continue
            }
            do {
                let removal = try IPTablesCleanup(restoreScript: text)
                if !removal.isEmpty { iptables.append((variant, removal)) }
            } catch {
                throw .garbled("section \(name): \(error.message)")
            }
        }
        let ipsets = Self.lines(try output("ipsets"))
        if let reason = log.reason("ipsets"), !Self.notApplicable(reason) { notChecked.append("ipsets: \(reason)") }
        let tables = try Self.lines(try output("nft-tables")).map { line throws(NodeAgentLogError) in
            let words = line.split(separator: " ")
            guard words.count == 2 else { throw .garbled("section nft-tables holds '\(line.prefix(80))'") }
            return NFTTable(family: String(words[0]), name: String(words[1]))
        }
        if let reason = log.reason("nft-tables"), !Self.notApplicable(reason) { notChecked.append("nftables: \(reason)") }
        let links = Self.lines(try output("links"))
        failure = failures.first
        plan = LeftoverCleanup(iptables: iptables, ipsets: ipsets, nftTables: tables, links: links, notChecked: notChecked)
        ipvsServices = owned
        keptIPVSServices = kept
    }

    /// Skip reasons that say the mode has no such state, or that the node was refused: no gap in the check.
    private static func notApplicable(_ reason: String) -> Bool {
        reason.hasPrefix("kube-proxy in this mode") || reason.hasPrefix("not attempted:")
    }

    private static func lines(_ text: String?) -> [String] {
        (text ?? "").split(separator: "\n").map(String.init)
    }
}

/// `kpswitch cleanup --mode MODE --nodes ...`: removes MODE's leftovers from each named node through an agent
/// pod, keeping what the mode kube-proxy runs in now (the cluster's) owns. Cleaning the running mode is
/// refused. A node whose agent could not run, that was refused, or where a step failed is reported as not
/// cleaned, with the command that cleans it by hand.
public struct NodeCleanups: Sendable {
    let options: NodeAgentOptions

    public init(options: NodeAgentOptions) {
        self.options = options
    }

    /// - Parameter nodes: the node names, or nil for every node kube-proxy runs on.
    public func run(mode: ProxyMode, nodes: [String]?, dryRun: Bool, cluster access: ClusterAccess) async throws(KPSwitchError)
        -> NodeCleanupReport
    {
        let options = options
        return try await access.withClient(logger: Logger(label: "kpswitch.cleanup")) { client in
            // Mid-migration some nodes run the old mode and some the new, whatever the ConfigMap says.
            if let (state, _) = try await MigrationRunner.readState(client: client, namespace: access.namespace), state.isUnfinished {
                throw KPSwitchError(
                    status: .preflightFailed,
                    message: "a migration from \(state.record.plan.from) to \(state.record.plan.to) is unfinished (\(state.phase)); its nodes run either mode, so no node is cleaned.",
                    remediation: "Finish it with 'kpswitch migrate --resume' or 'kpswitch rollback', then clean up.")
            }
            let survey = ClusterSurvey(client: client, namespace: access.namespace)
            let running = try await survey.kubeProxy().mode
            guard running != mode else {
                throw KPSwitchError(
                    status: .usageError,
                    message: "kube-proxy runs in \(mode) mode in this cluster; cleaning up \(mode) would remove the running mode's rules on every node.",
                    remediation: "Name the mode kube-proxy ran in before the migration, e.g. 'kpswitch cleanup --mode \(mode == .iptables ? "ipvs" : "iptables") --nodes ...'.")
            }
            return await Self.clean(mode: mode, running: running, nodes: nodes, dryRun: dryRun, survey: survey, options: options)
        }
    }

    /// What cleans one node by hand, as root on it.
    static func command(mode: ProxyMode, running: ProxyMode) -> String {
        "kpswitch cleanup --mode \(mode) --running-mode \(running)"
    }

    static func clean(
        mode: ProxyMode, running: ProxyMode, nodes requested: [String]?, dryRun: Bool, survey: ClusterSurvey, options: NodeAgentOptions
    ) async -> NodeCleanupReport {
        let program = NodeAgentCleanupScript.program(LeftoverRemoval.footprint(of: mode, alongside: running), dryRun: dryRun)
        let agents = NodeAgents(survey: survey, options: options, only: requested.map(Set.init))
        let command = Self.command(mode: mode, running: running)
        var report: [NodeCleanupReport.Node] = []
        switch await agents.run(program, read: { log throws(NodeAgentLogError) in try AgentCleanup(log: log) }) {
        case .notRun(let reason, let names):
            let names = requested ?? names ?? []
            report = names.map { .init(node: $0, reason: NodeCleanupReport.Node.agentFailurePrefix + reason, command: command) }
        case .ran(let names, let results, _):
            let known = Set(names)
            for name in requested ?? names {
                guard known.contains(name) else {
                    report.append(.init(node: name, reason: "kube-proxy does not run on a node of this name", command: nil))
                    continue
                }
                report.append(.init(node: name, agent: results[name], mode: mode, command: command, dryRun: dryRun))
            }
        }
        return NodeCleanupReport(mode: mode, runningMode: running, dryRun: dryRun, nodes: report)
    }
}

/// `kpswitch cleanup --nodes`: per node, what its agent removed, or why the node was not cleaned and how to clean it.
public struct NodeCleanupReport: Report {
    public static let kind = "NodeCleanup"

    public struct Node: Encodable, Sendable {
        public let node: String
        public let cleaned: Bool
        /// Why the node was not cleaned; nil when it was.
        public let reason: String?
        /// What cleans the node instead, run as root on it.
        public let command: String?
        /// The other way, when there is one (a `--node-image` with the tools the node needs).
        public let alternative: String?
        /// What was removed (or would be); on a node where a step failed, what went before it.
        public let cleanup: CleanupReport?

        init(node: String, cleanup: CleanupReport) {
            self.node = node
            cleaned = true
            reason = nil
            command = nil
            alternative = nil
            self.cleanup = cleanup
        }

        init(node: String, reason: String, command: String?, cleanup: CleanupReport? = nil, alternative: String? = nil) {
            self.node = node
            cleaned = false
            self.reason = reason
            self.command = command
            self.alternative = alternative
            self.cleanup = cleanup
        }

        /// The node as its agent left it, or why the agent could not run.
        init(node: String, agent: Result<AgentCleanup, NodeAgentFailure>?, mode: ProxyMode, command: String, dryRun: Bool) {
            switch agent {
            case .success(let agent)?:
                let cleanup = CleanupReport(
                    mode: mode, dryRun: dryRun, plan: agent.plan, ipvsServices: agent.ipvsServices, keptIPVSServices: agent.keptIPVSServices)
                if let refusal = agent.refusal {
                    self.init(
                        node: node, reason: "refused, nothing was changed: \(refusal)", command: command,
                        alternative: "or rerun with --node-image IMAGE, an image that has ipvsadm and ip")
                } else if let failure = agent.failure {
                    self.init(node: node, reason: failure, command: command, cleanup: cleanup)
                } else {
                    self.init(node: node, cleanup: cleanup)
                }
            case .failure(let failure)?:
                self.init(node: node, reason: Self.agentFailurePrefix + failure.reason, command: command)
            case nil:
                self.init(node: node, reason: Self.agentFailurePrefix + "no result", command: command)
            }
        }

        /// How the reason of a node whose agent gave no answer begins (worth another try, unlike a refusal).
        static let agentFailurePrefix = "its agent could not run: "

        private enum CodingKeys: String, CodingKey { case node, cleaned, reason, command, alternative, cleanup }
    }

    public let mode: ProxyMode
    /// The mode kube-proxy runs in, whose state every agent kept.
    public let runningMode: ProxyMode
    public let dryRun: Bool
    public let nodes: [Node]

    public var notCleaned: [Node] { nodes.filter { !$0.cleaned } }

    /// This report with the nodes of `retry` (a second try on some of them) replaced by its answers.
    func merging(_ retry: NodeCleanupReport) -> NodeCleanupReport {
        let again = Dictionary(retry.nodes.map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
        return NodeCleanupReport(mode: mode, runningMode: runningMode, dryRun: dryRun, nodes: nodes.map { again[$0.node] ?? $0 })
    }

    private enum CodingKeys: String, CodingKey { case mode, runningMode, dryRun, nodes }
}
