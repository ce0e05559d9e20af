import Foundation
import KubeAPI
import ProxyConfig

/// What the operator asked `migrate` for.
public struct MigrationRequest: Sendable {
    let target: ProxyTarget
    public var mode: ProxyMode { target.mode }
    public let strategy: MigrationPlan.Strategy
    public let batches: NodeBatches
    public let finalBatches: NodeBatches
    public let cleanup: CleanupStrategy.Requested
    public let rollbackAllowed: Bool

    /// Validates the target as kube-proxy would (scheduler name, IPVS options only with ipvs): exit 2 if not.
    public init(
        mode: ProxyMode, scheduler: String?, strictARP: Bool, strategy: MigrationPlan.Strategy, batches: NodeBatches,
        finalBatches: NodeBatches = .finalDefault, cleanup: CleanupStrategy.Requested, rollbackAllowed: Bool
    ) throws(KPSwitchError) {
        do throws(ProxyConfigError) {
            target = try ProxyTarget(mode: mode, ipvsScheduler: scheduler, ipvsStrictARP: strictARP ? true : nil)
        } catch {
            throw KPSwitchError(status: .usageError, message: error.message, remediation: error.remediation)
        }
        self.strategy = strategy
        self.batches = batches
        self.finalBatches = finalBatches
        self.cleanup = cleanup
        self.rollbackAllowed = rollbackAllowed
    }
}

/// A plan with everything the runner records before acting.
struct PreparedMigration: Sendable {
    let state: MigrationState
    let report: MigrationPlanReport
}

/// A plan as shown to the user, and the state it records once the Lease is taken.
public struct PlannedMigration: Sendable {
    public let report: MigrationPlanReport
    let state: MigrationState
}

/// Reads kube-proxy's objects and decides the plan; reads only.
struct MigrationPlanner {
    let client: KubeClient
    let namespace: String

    func prepare(_ request: MigrationRequest, holder: String, now: Date = Date()) async throws(KPSwitchError) -> PreparedMigration {
        let detected: (FlavourReport, [DaemonSet], [ConfigMap])
        do {
            detected = try await KubeProxyState.detect(client: client, namespace: namespace)
        } catch {
            throw KPSwitchError(error)
        }
        let (report, daemonSets, configMaps) = detected
        if let blocker = report.blocker {
            throw KPSwitchError(
                status: .preflightFailed, message: blocker.message, remediation: blocker.remediation,
                runbook: blocker.runbook.map { Runbook(file: $0.file, anchor: $0.anchor) })
        }
        let proxy: KubeProxyState
        do {
            proxy = try KubeProxyState.state(report: report, daemonSets: daemonSets, configMaps: configMaps, namespace: namespace)
        } catch {
            throw KPSwitchError(error)
        }
        guard let location = report.location,
            case .configMap(let configMapName, let key, let volume, let configPath) = location.source
        else {
            throw KPSwitchError(
                status: .preflightFailed,
                message: "kube-proxy in \(namespace) takes its mode from command-line flags, not from a ConfigMap; kpswitch migrate edits ConfigMap-backed configurations only.",
                remediation: "Change --proxy-mode where the DaemonSet comes from.", runbook: .migrate("locate-mode"))
        }
        guard let daemonSet = daemonSets.first(where: { $0.name == location.daemonSet }),
            let configMap = configMaps.first(where: { $0.name == configMapName }), let text = configMap.data[key]
        else {
            throw KPSwitchError(status: .runtimeError, message: "kube-proxy's DaemonSet or ConfigMap disappeared while planning; run again.")
        }
        let from = proxy.mode
        let to = request.target.mode
        guard from != to || request.target.ipvsScheduler != nil || request.target.ipvsStrictARP != nil else {
            throw KPSwitchError(
                status: .usageError, message: "kube-proxy in \(namespace) already runs in \(to.rawValue) mode; there is nothing to migrate.",
                remediation: "Choose another --to, or run kpswitch status to see what each node runs.")
        }
        try Self.requireRolledOut(daemonSet)

        let version: KubernetesVersion
        if let known = proxy.version {
            version = known
        } else {
            let nodes: [Node]
            do { nodes = try await client.list(Node.self).items } catch { throw KPSwitchError(error) }
            guard let oldest = ClusterFactsReader.oldestKubelet(nodes) else {
                throw KPSwitchError(
                    status: .runtimeError,
                    message: "kube-proxy's version is unknown: its image has no version tag and no node reports a kubelet version.")
            }
            version = oldest
        }
        let rewrite: ConfigRewrite
        do throws(ProxyConfigError) {
            rewrite = try ConfigRewrite(of: text, to: request.target, version: version)
        } catch {
            throw KPSwitchError(
                status: .usageError, message: "ConfigMap \(namespace)/\(configMapName): \(error.message)",
                remediation: error.remediation, runbook: error.runbook.map { Runbook(file: $0.file, anchor: $0.anchor) })
        }

        let nodes = try await Self.nodeOrder(client: client, namespace: namespace, daemonSet: daemonSet)
        let cleanup = try Self.cleanup(from: from, to: to, request: request)
        let plan: MigrationPlan
        switch request.strategy {
        case .canary: plan = .canary(from: from, to: to, nodes: nodes, batches: request.batches, finalBatches: request.finalBatches, cleanup: cleanup)
        case .rolling: plan = .rolling(from: from, to: to, cleanup: cleanup)
        }
        let container = location.container
        let staged = "\(configMapName)-kpswitch-\(to.rawValue)"
        let originalDaemonSet = MigrationState.OriginalDaemonSet(
            name: daemonSet.name, container: container, volume: volume, resourceVersion: daemonSet.resourceVersion ?? "",
            generation: daemonSet.generation ?? 0, updateStrategy: daemonSet.json[path: ["spec", "updateStrategy"]] ?? ["type": "RollingUpdate"],
            template: daemonSet.json[path: ["spec", "template"]] ?? [:])
        let stamp = Timestamp.rfc3339(now)
        let state = MigrationState(
            record: MigrationMachine(plan: plan, rollbackAllowed: request.rollbackAllowed).record,
            originalConfigMap: .init(name: configMapName, key: key, resourceVersion: configMap.resourceVersion ?? "", data: configMap.data),
            originalDaemonSet: originalDaemonSet,
            target: .init(
                mode: to, scheduler: request.target.ipvsScheduler, strictARP: request.target.ipvsStrictARP, stagedConfigMap: staged,
                configText: rewrite.text, changedKeys: rewrite.applied.map(\.key), configPath: configPath),
            applied: .init(), holder: holder, startedAt: stamp, updatedAt: stamp, stepState: "done", history: [], pastMigrations: [])

        let planReport = MigrationPlanReport(
            namespace: namespace, configMap: configMapName, daemonSet: daemonSet.name, from: from, to: to,
            strategy: request.strategy, cleanup: cleanup,
            batches: plan.canaryBatches, finalBatches: plan.finalBatches,
            steps: plan.steps.map(\.summary),
            configDiff: UnifiedDiff.diff(
                text, rewrite.text, oldName: "ConfigMap \(namespace)/\(configMapName) \(key)",
                newName: request.strategy == .canary ? "ConfigMap \(namespace)/\(staged) \(key), then \(configMapName) at finalize" : "ConfigMap \(namespace)/\(configMapName) \(key)"),
            daemonSetChanges: DaemonSetChange.describe(
                originalDaemonSet, strategy: request.strategy, stagedConfigMap: staged, cleanup: cleanup, configMap: configMapName),
            risks: Self.risks(from: from, to: to, strategy: request.strategy, cleanup: cleanup))
        return PreparedMigration(state: state, report: planReport)
    }

    /// Refuses a DaemonSet that is not rolled out; the KubeProxyRollout check reports the same rule.
    static func requireRolledOut(_ daemonSet: DaemonSet) throws(KPSwitchError) {
        if let problem = rolloutProblem(daemonSet) {
            throw KPSwitchError(
                status: .preflightFailed, message: problem + "; kpswitch will not start a migration on top of another change.",
                remediation: rolloutRemediation(daemonSet), runbook: .migrate("before-you-start"))
        }
    }

    /// kubectl's rule: the DaemonSet has observed its spec and every scheduled pod is updated and available
    /// (with OnDelete, older pods are the strategy working as meant, not a rollout in progress).
    static func rolloutProblem(_ daemonSet: DaemonSet) -> String? {
        let desired = daemonSet.desiredNumberScheduled
        let observed = (daemonSet.observedGeneration ?? 0) >= (daemonSet.generation ?? 0)
        let onDelete = daemonSet.updateStrategyType == "OnDelete"
        if observed, onDelete || daemonSet.updatedNumberScheduled >= desired, daemonSet.numberAvailable >= desired { return nil }
        let unobserved = observed ? "" : ", its controller has not yet seen generation \(daemonSet.generation ?? 0)"
        return "DaemonSet \(daemonSet.namespace ?? "")/\(daemonSet.name) is not fully rolled out (updated \(daemonSet.updatedNumberScheduled), available \(daemonSet.numberAvailable) of \(desired)\(unobserved))"
    }

    static func rolloutRemediation(_ daemonSet: DaemonSet) -> String {
        "Wait for kubectl rollout status daemonset/\(daemonSet.name) -n \(daemonSet.namespace ?? "kube-system") to finish, then run again."
    }

    /// The nodes that run the DaemonSet's pods: workers first, control-plane nodes last, each group by name,
    /// so the canary is an ordinary worker.
    static func nodeOrder(client: KubeClient, namespace: String, daemonSet: DaemonSet) async throws(KPSwitchError) -> [String] {
        // Page by page, keeping names only: the whole pods and nodes of a large cluster are not held at once.
        var names = Set<String>()
        var controlPlane = Set<String>()
        do {
            for try await page in client.listPages(
                Pod.self, namespace: namespace, labelSelector: selector(of: daemonSet), pageSize: ClusterSurvey.pageSize,
                keeping: .only(["spec": .only(["nodeName": .all])]))
            {
                names.formUnion(page.items.compactMap(\.nodeName))
            }
            let labels: JSONProjection = .only(["metadata": .only(["labels": .all])])
            for try await page in client.listPages(Node.self, pageSize: ClusterSurvey.pageSize, keeping: labels) {
                controlPlane.formUnion(page.items.filter { $0.labels["node-role.kubernetes.io/control-plane"] != nil }.map(\.name))
            }
        } catch {
            throw KPSwitchError(error)
        }
        guard !names.isEmpty else {
            throw KPSwitchError(
                status: .runtimeError, message: "DaemonSet \(namespace)/\(daemonSet.name) runs no pods; there is no node to migrate.")
        }
        return names.sorted { (controlPlane.contains($0) ? 1 : 0, $0) < (controlPlane.contains($1) ? 1 : 0, $1) }
    }

    /// `matchLabels` as a label selector string.
    static func selector(of daemonSet: DaemonSet) -> String {
        (daemonSet.json[path: ["spec", "selector", "matchLabels"]]?.objectValue ?? [:])
            .compactMap { key, value in value.stringValue.map { "\(key)=\($0)" } }.sorted().joined(separator: ",")
    }

    static func cleanup(from: ProxyMode, to: ProxyMode, request: MigrationRequest) throws(KPSwitchError) -> CleanupStrategy {
        let chosen = CleanupStrategy.choose(from: from, to: to, requested: request.cleanup)
        guard request.strategy == .rolling, chosen == .initContainer else { return chosen }
        if request.cleanup == .initContainer {
            throw KPSwitchError(
                status: .usageError, message: "--cleanup init-container needs --strategy canary: the rolling strategy keeps the pod template as it is.",
                remediation: "Use --strategy canary, or --cleanup node (kpswitch then cleans every node through agent pods after the rollout).")
        }
        // Rolling keeps the template; the operator cleans the nodes.
        return .node
    }

    static func risks(from: ProxyMode, to: ProxyMode, strategy: MigrationPlan.Strategy, cleanup: CleanupStrategy) -> [String] {
        // IPVS's deprecation, kernels, MetalLB and localhost NodePorts are preflight checks (KubeProxyVersion,
        // NodeKernels, MetalLB, LocalhostNodePorts); what they find joins the risks with the nodes and versions.
        var risks: [String] = []
        switch cleanup {
        case .initContainer:
            risks.append("The cleanup init container runs kube-proxy --cleanup, which flushes EVERY IPVS virtual server on the node, Kubernetes' or not.")
            risks.append("A rollback does not clean the new mode's state: run kpswitch cleanup --mode \(to.rawValue) --nodes NODES on the nodes that were migrated.")
        case .node:
            risks.append("After the rollout kpswitch removes the old mode's \(from.rawValue) state from every node through agent pods (what \(to.rawValue) shares with it stays); a node it cannot clean (its agent cannot run, or it holds kube-ipvs0 and --node-image lacks ipvsadm and ip) is named with the command to run there, and migrate exits 1.")
        case .none:
            risks.append("The old mode's \(from.rawValue) state stays on every node (--cleanup none).")
        case .kubeProxyCleansItself:
            break
        }
        if strategy == .rolling {
            risks.append("Rolling strategy: the ConfigMap is edited before any node has proven the new mode; a kube-proxy that restarts for any reason picks it up.")
        }
        return risks
    }
}
