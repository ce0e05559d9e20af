import Logging
import NodeState

/// `kpswitch preflight`: optionally load the IPVS modules (the one action, reported as such), then run
/// the node checks and the cluster checks for the target in one list, so that one
/// `--ignore-preflight-errors` list is validated against everything that runs.
public struct PreflightRun: Sendable {
    public enum Scope: Sendable {
        case node
        case cluster
        /// Both; without a usable kubeconfig the cluster checks are reported as skipped, with the reason.
        case all
    }

    public let target: ProxyMode?
    public let scheduler: String
    public let loadModules: Bool
    public let ignoring: [String]
    public let scope: Scope
    public let nodeAgents: NodeAgentOptions
    /// True for the preflight a migration runs: a node whose agent could not run is an error, not a skip.
    public let requireEveryNode: Bool
    /// True for `migrate`'s preflight (dry run too): adds `NodeSnapshot`, for the back-up step's node snapshot.
    public let snapshotsNodes: Bool

    public init(
        target: ProxyMode?, scheduler: String, loadModules: Bool, ignoring: [String], scope: Scope,
        nodeAgents: NodeAgentOptions = NodeAgentOptions(), requireEveryNode: Bool = false, snapshotsNodes: Bool = false
    ) {
        self.snapshotsNodes = snapshotsNodes
        self.target = target
        self.scheduler = scheduler
        self.loadModules = loadModules
        self.ignoring = ignoring
        self.scope = scope
        self.nodeAgents = nodeAgents
        self.requireEveryNode = requireEveryNode
    }

    public func run(
        node: any NodeInspector, ipvs: any IPVSReader, cluster access: ClusterAccess,
        logger: Logger = Logger(label: "kpswitch.preflight")
    ) async throws(KPSwitchError) -> PreflightReport {
        let nodeChecks = scope == .cluster ? [] : NodeChecks.checks(for: target, scheduler: scheduler, node: node, ipvs: ipvs)
        guard scope != .node else {
            return try await run(nodeChecks, node: node, host: node.hostname, logger: logger)
        }
        do {
            return try await access.withClient(logger: logger) { client in
                let survey = ClusterSurvey(client: client, namespace: access.namespace)
                let agents = NodeAgents(survey: survey, options: nodeAgents)
                let clusterChecks = ClusterChecks.checks(survey: survey, target: target)
                    + AgentNodeChecks.checks(for: target, scheduler: scheduler, agents: agents, requireEveryNode: requireEveryNode)
                    + (snapshotsNodes ? [NodeSnapshotCheck(survey: survey, withheld: nodeAgents.withheld)] : [])
                return try await run(nodeChecks + clusterChecks,
                                     node: node, host: scope == .cluster ? nil : node.hostname,
                                     cluster: client.config.contextName ?? client.config.server, logger: logger)
            }
        } catch where scope == .all && error.status == .usageError && access.kubeconfig == nil {
            // No kubeconfig anywhere (a node without one, say): the node checks still run; the cluster's are
            // reported as not run, with the reason.
            let unreachable: [any PreflightCheck] = ClusterChecks.names.map { ClusterUnreachable(name: $0, reason: error.message) }
            return try await run(nodeChecks + unreachable, node: node, host: node.hostname, logger: logger)
        }
    }

    private func run(
        _ checks: [any PreflightCheck], node: any NodeInspector, host: String?, cluster: String? = nil, logger: Logger
    ) async throws(KPSwitchError) -> PreflightReport {
        let runner = try PreflightRunner(checks: checks, ignoring: ignoring)
        let actions = loadModules ? await loadMissingModules(on: node) : []
        let report = await runner.run(target: target, host: host, logger: logger)
        return PreflightReport(target: report.target, host: report.host, cluster: cluster, actions: actions, checks: report.checks)
    }

    /// modprobe for every IPVS module that is loadable but not loaded; each attempt becomes a finding.
    func loadMissingModules(on node: any NodeInspector) async -> [Finding] {
        guard node.isPrivileged else {
            return [.skipped("--load-modules needs root on the node; nothing was loaded")]
        }
        do {
            let kernel = try await node.kernelRelease()
            let modules = try await node.kernelModules()
            var findings: [Finding] = []
            for module in NodeChecks.ipvsModules(scheduler: scheduler, kernel: kernel)
            where modules.state(of: module) == .loadable {
                do {
                    try await node.loadModule(module)
                    findings.append(.note("loaded \(module) with modprobe", subject: module))
                } catch {
                    findings.append(.error("modprobe \(module) failed: \(error)", subject: module))
                }
            }
            if findings.isEmpty {
                findings.append(.note("nothing to load: every IPVS module is loaded, built in or absent"))
            }
            return findings
        } catch {
            return [.couldNotRead("the kernel's module lists", error)]
        }
    }
}
