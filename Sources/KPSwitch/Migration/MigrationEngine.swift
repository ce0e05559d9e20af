import Foundation
import KubeAPI
import Logging

/// The domain entry points of `migrate`, `rollback` and `status`; the CLI renders what they return.
public struct MigrationEngine: Sendable {
    public let access: ClusterAccess
    public let logger: Logger
    /// Progress lines (batch, nodes migrated / verified / total, elapsed); the CLI prints them.
    public let progress: @Sendable (String) -> Void
    let pollInterval: Duration

    public init(access: ClusterAccess, logger: Logger, progress: @escaping @Sendable (String) -> Void) {
        self.init(access: access, logger: logger, pollInterval: .milliseconds(500), progress: progress)
    }

    init(access: ClusterAccess, logger: Logger, pollInterval: Duration, progress: @escaping @Sendable (String) -> Void) {
        self.access = access
        self.logger = logger
        self.pollInterval = pollInterval
        self.progress = progress
    }

    var namespace: String { access.namespace }

    /// Reads the cluster and decides the plan; changes nothing. Refuses when an unfinished migration is
    /// recorded. The warnings of `preflight` (the run that cleared this migration) become the plan's risks.
    public func plan(_ request: MigrationRequest, preflight: PreflightReport? = nil) async throws(KPSwitchError) -> PlannedMigration {
        try await access.withClient(logger: logger) { client in
            try await Self.refuseUnfinished(client: client, namespace: namespace)
            let prepared = try await MigrationPlanner(client: client, namespace: namespace)
                .prepare(request, holder: LockHolder.current.description)
            var report = prepared.report
            report.risks += MigrationPlanReport.risks(from: preflight)
            return PlannedMigration(report: report, state: prepared.state)
        }
    }

    /// Refuses, before any preflight or plan, when another process holds the Lease or an unfinished
    /// migration is recorded: their half-changed objects would only confuse the checks.
    public func refuseBusy() async throws(KPSwitchError) {
        try await access.withClient(logger: logger) { client in
            try await Self.refuseHeld(client: client, namespace: namespace)
            try await Self.refuseUnfinished(client: client, namespace: namespace)
        }
    }

    /// Refuses when another live process holds the Lease, naming it.
    static func refuseHeld(client: KubeClient, namespace: String) async throws(KPSwitchError) {
        let lease: Lease?
        do throws(KubeAPIError) {
            lease = try await client.get(Lease.self, name: MigrationLock.leaseName, namespace: namespace)
        } catch where error.kind == .notFound {
            lease = nil
        } catch {
            throw KPSwitchError(error)
        }
        if let lease, case .refuse(let holder, let until) = LockHolder.decide(
            lease: lease, me: LockHolder.current.description, now: Date(), isAlive: LockHolder.isAlive)
        {
            throw MigrationLock.held(by: holder, until: until, namespace: namespace)
        }
    }

    /// Takes the Lease, records the plan as shown, runs. The cluster is not read for a second plan: the
    /// first step under the Lease (`backUp`) stops, changing nothing, when kube-proxy's ConfigMap or DaemonSet
    /// moved since the plan was made.
    ///   - nodeSnapshot: the bundle every node writes in the back-up step, before the first change.
    public func migrate(
        _ planned: PlannedMigration, timeout: Duration, apiUnavailableTimeout: Duration = .seconds(600),
        nodeSnapshot: MigrationState.NodeSnapshot? = nil
    ) async throws(KPSwitchError) -> MigrationResult {
        try await access.withClient(logger: logger) { client in
            // The Lease first: a migration running elsewhere is refused by its holder's name, before its
            // half-changed objects could confuse the plan.
            let lock = MigrationLock(client: client, namespace: namespace)
            try await lock.acquire()
            return try await releasing(lock) { () async throws(KPSwitchError) in
                let existing = try await MigrationRunner.readState(client: client, namespace: namespace)
                if let (old, _) = existing, old.isUnfinished { throw Self.unfinished(old, namespace: namespace) }
                var prepared = planned.state
                prepared.holder = lock.identity
                prepared.nodeSnapshot = nodeSnapshot
                if let (old, _) = existing { prepared.pastMigrations = old.pastMigrations + [old.summary] }
                prepared.log("migration to \(prepared.target.mode.rawValue) planned (\(prepared.record.plan.strategy.rawValue), \(prepared.record.plan.steps.count) steps)")
                let runner = MigrationRunner(
                    client: client, namespace: namespace, lock: lock, state: prepared, stateResourceVersion: existing?.1,
                    timeout: timeout, pollInterval: pollInterval, apiUnavailableTimeout: apiUnavailableTimeout, logger: logger,
                    progress: progress)
                let outcome = try await runner.drive(MigrationMachine(record: prepared.record))
                return Self.result(outcome, state: await runner.state, namespace: namespace)
            }
        }
    }

    /// Continues the recorded migration (or its rollback) from the last recorded step.
    public func resume(timeout: Duration, apiUnavailableTimeout: Duration = .seconds(600)) async throws(KPSwitchError) -> MigrationResult {
        try await access.withClient(logger: logger) { client in
            let lock = MigrationLock(client: client, namespace: namespace)
            try await lock.acquire()
            return try await releasing(lock) { () async throws(KPSwitchError) in
                guard var (state, version) = try await MigrationRunner.readState(client: client, namespace: namespace) else {
                    throw KPSwitchError(
                        status: .runtimeError, message: "no migration is recorded in \(namespace) (ConfigMap \(MigrationState.configMapName) does not exist); there is nothing to resume.",
                        remediation: "Start one with kpswitch migrate --to MODE.")
                }
                guard state.isUnfinished else {
                    throw KPSwitchError(
                        status: .runtimeError,
                        message: "the migration recorded in \(namespace) already finished (\(state.record.outcome?.name.rawValue ?? "?")); there is nothing to resume.",
                        remediation: "kpswitch status shows the result.")
                }
                var machine = MigrationMachine(record: state.record)
                machine.resume()
                state.holder = lock.identity
                state.log("resumed by \(lock.identity)")
                let runner = MigrationRunner(
                    client: client, namespace: namespace, lock: lock, state: state, stateResourceVersion: version,
                    timeout: timeout, pollInterval: pollInterval, apiUnavailableTimeout: apiUnavailableTimeout, logger: logger,
                    progress: progress)
                let outcome = try await runner.drive(machine)
                return Self.result(outcome, state: await runner.state, namespace: namespace)
            }
        }
    }

    /// `kpswitch rollback`: from the recorded state, put the original ConfigMap and DaemonSet back.
    public func rollback(
        force: Bool, timeout: Duration, apiUnavailableTimeout: Duration = .seconds(600)
    ) async throws(KPSwitchError) -> RollbackResult {
        try await access.withClient(logger: logger) { client in
            let recorded = try await MigrationRunner.readState(client: client, namespace: namespace)?.0
            guard let recorded, recorded.canRollBack else {
                let why = recorded.map { "the last migration recorded in \(namespace) ended \($0.record.outcome?.name.rawValue ?? "?"); nothing of it is in place" }
                return RollbackResult(
                    outcome: .nothingToRollBack, from: nil, to: nil,
                    reason: why ?? "no migration is recorded in \(namespace)", remaining: nil, nextSteps: [], exitStatus: .success)
            }
            let lock = MigrationLock(client: client, namespace: namespace)
            try await lock.acquire()
            return try await releasing(lock) { () async throws(KPSwitchError) in
                guard var (state, version) = try await MigrationRunner.readState(client: client, namespace: namespace) else {
                    throw KPSwitchError(status: .runtimeError, message: "ConfigMap \(MigrationState.configMapName) disappeared; nothing was changed.")
                }
                state.holder = lock.identity
                state.log("rollback requested by \(lock.identity)\(force ? " with --force" : "")")
                let runner = MigrationRunner(
                    client: client, namespace: namespace, lock: lock, state: state, stateResourceVersion: version,
                    timeout: timeout, force: force, pollInterval: pollInterval, apiUnavailableTimeout: apiUnavailableTimeout,
                    logger: logger, progress: progress)
                try await runner.checkUnchangedForRollback()
                var machine = MigrationMachine(record: state.record)
                _ = machine.rollBack(reason: "rollback requested by \(lock.identity)")
                let outcome = try await runner.drive(machine)
                let final = await runner.state
                let result = Self.result(outcome, state: final, namespace: namespace)
                // Asked for, a rollback that completes is a success whatever the migration's own outcome.
                let incomplete = outcome.exitStatus == .rollbackIncomplete
                return RollbackResult(
                    outcome: incomplete ? .rollbackIncomplete : .rolledBack, from: final.record.plan.to, to: final.record.plan.from,
                    reason: result.reason, remaining: result.remaining, nextSteps: result.nextSteps,
                    exitStatus: incomplete ? .rollbackIncomplete : .success)
            }
        }
    }

    /// Runs `body` and deletes the Lease afterwards, whatever happened.
    func releasing<T: Sendable>(
        _ lock: MigrationLock, _ body: () async throws(KPSwitchError) -> T
    ) async throws(KPSwitchError) -> T {
        let result: Result<T, KPSwitchError>
        do throws(KPSwitchError) {
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        do throws(KPSwitchError) {
            try await lock.release()
        } catch {
            // The command's own result matters more; the Lease expires 30 s after its last renewal anyway.
            logger.warning("the kpswitch Lease could not be deleted (\(error.message)); it expires within \(MigrationLock.duration) s")
        }
        return try result.get()
    }

    static func refuseUnfinished(client: KubeClient, namespace: String) async throws(KPSwitchError) {
        guard let (state, _) = try await MigrationRunner.readState(client: client, namespace: namespace), state.isUnfinished
        else { return }
        // A record being written by a live holder is a migration running now, not one left behind: name the
        // holder rather than offer --resume (a second migrate started with it lands here while it runs).
        try await refuseHeld(client: client, namespace: namespace)
        throw unfinished(state, namespace: namespace)
    }

    static func unfinished(_ state: MigrationState, namespace: String) -> KPSwitchError {
        KPSwitchError(
            status: .runtimeError,
            message: "an unfinished migration is recorded in \(namespace) (\(state.record.plan.from.rawValue) -> \(state.record.plan.to.rawValue), \(state.phase), at '\(state.currentStep ?? state.record.outcome?.name.rawValue ?? "?")', last run by \(state.holder)); kpswitch will not start another.",
            remediation: "Continue it with kpswitch migrate --resume, or undo it with kpswitch rollback.",
            runbook: .rollback("kpswitch-rollback"))
    }

    static func result(_ outcome: MigrationOutcome, state: MigrationState, namespace: String) -> MigrationResult {
        let plan = state.record.plan
        var reason: String?
        var remaining: [String]?
        var next: [String] = []
        let replaced = plan.steps.prefix(state.record.completed + 1).flatMap { step -> [String] in
            if case .replacePods(_, let nodes) = step { return nodes }
            return []
        }
        switch outcome {
        case .migrated:
            break
        case .migratedWithLeftovers(let why, let steps):
            reason = why
            remaining = steps.map(\.summary)
            next = steps.map { Self.instruction(for: $0, state: state, namespace: namespace) }
        case .failed(let why):
            reason = why
        case .rolledBack(let why):
            reason = why
            if plan.cleanup == .initContainer, !replaced.isEmpty {
                next.append("The \(plan.to.rawValue) state stays on the nodes that ran it: kpswitch cleanup --mode \(plan.to.rawValue) --nodes \(replaced.joined(separator: ",")).")
            }
            next.append("See Runbooks/rollback.md#after-a-rollback.")
        case .rollbackIncomplete(let why, let rollbackError, let steps):
            reason = "\(why); the rollback then failed: \(rollbackError)"
            remaining = steps.map(\.summary)
            next.append("Fix the cause, then run kpswitch rollback again: it continues from '\(steps.first?.summary ?? "the end")'. If kpswitch cannot reach the cluster, do by hand:")
            next += steps.map { Self.instruction(for: $0, state: state, namespace: namespace) }
        case .stopped(let why, let done):
            reason = why
            remaining = done.filter(\.changesCluster).map(\.summary)
            next.append("kpswitch stopped and overwrote nothing of anyone else's. Look at the change, then either kpswitch rollback (add --force to put the recorded original back over it) or kpswitch migrate --resume.")
        }
        return MigrationResult(
            outcome: outcome.name, from: plan.from, to: plan.to, strategy: plan.strategy, reason: reason, remaining: remaining,
            nextSteps: next, exitStatus: outcome.exitStatus)
    }

    /// The manual equivalent of a step, for exit 5.
    static func instruction(for step: MigrationStep, state: MigrationState, namespace: String) -> String {
        let ns = "-n \(namespace)"
        let record = "kubectl \(ns) get configmap \(MigrationState.configMapName)"
        switch step {
        case .restoreOriginalConfig:
            return "Put ConfigMap \(state.originalConfigMap.name)'s data back from: \(record) -o jsonpath='{.data.originalConfigMap}' (its \"data\")."
        case .restoreOriginalDaemonSet, .restoreDaemonSet, .pointDaemonSetAtOriginal:
            return "Put DaemonSet \(state.originalDaemonSet.name)'s spec.updateStrategy and spec.template back from: \(record) -o jsonpath='{.data.originalDaemonSet}'."
        case .replacePods(_, let nodes):
            return "Replace kube-proxy on \(nodes.joined(separator: ", ")): kubectl \(ns) delete pod -l \(MigrationPlanner.selectorText(state)) --field-selector spec.nodeName=<node>, for each node."
        case .verifyNodes(_, _, let mode), .awaitRollout(let mode):
            return "Check that every kube-proxy pod is Ready and logs \"Using \(mode.rawValue) Proxier\": kpswitch status."
        case .restartDaemonSet:
            return "kubectl \(ns) rollout restart daemonset/\(state.originalDaemonSet.name)"
        case .deleteStagedConfig:
            return "kubectl \(ns) delete configmap \(state.target.stagedConfigMap)"
        case .cleanNodes(let mode):
            return "Clean the nodes named above: as root on each, kpswitch cleanup --mode \(mode.rawValue) --running-mode \(state.record.plan.to.rawValue); or from here kpswitch cleanup --mode \(mode.rawValue) --nodes all, with --node-image of an image that has ipvsadm and ip where IPVS state was refused."
        case .releaseLock:
            return "kubectl \(ns) delete lease \(MigrationLock.leaseName)"
        default:
            return step.summary
        }
    }
}

extension MigrationState {
    var summary: PastMigration {
        PastMigration(
            from: record.plan.from, to: record.plan.to, strategy: record.plan.strategy, outcome: record.outcome?.name.rawValue ?? phase,
            startedAt: startedAt, finishedAt: updatedAt)
    }
}

extension MigrationPlanner {
    static func selectorText(_ state: MigrationState) -> String {
        (state.originalDaemonSet.template[path: ["metadata", "labels"]]?.objectValue ?? [:])
            .compactMap { key, value in value.stringValue.map { "\(key)=\($0)" } }.sorted().joined(separator: ",")
    }
}

extension MigrationRunner {
    /// `rollback` without `--force` refuses when kube-proxy's objects hold neither the original nor what
    /// kpswitch wrote; with `--force` it also puts the original ConfigMap back when someone else changed it.
    func checkUnchangedForRollback() async throws(KPSwitchError) {
        let configMap: ConfigMap
        let daemonSet: DaemonSet
        do {
            configMap = try await client.get(ConfigMap.self, name: state.originalConfigMap.name, namespace: namespace)
            daemonSet = try await client.get(DaemonSet.self, name: state.originalDaemonSet.name, namespace: namespace)
        } catch {
            throw KPSwitchError(error)
        }
        var changed: [String] = []
        if configMap.data != state.originalConfigMap.data && configMap.data != editedData {
            changed.append("ConfigMap \(namespace)/\(state.originalConfigMap.name) (resourceVersion \(configMap.resourceVersion ?? "?"))")
        }
        if !isAsKPSwitchLeftIt(daemonSet, rollingBack: true) {
            changed.append("DaemonSet \(namespace)/\(state.originalDaemonSet.name) (generation \(daemonSet.generation ?? 0))")
        }
        guard !changed.isEmpty else { return }
        guard force else {
            throw KPSwitchError(
                status: .runtimeError,
                message: "someone changed \(changed.joined(separator: " and ")) since kpswitch last wrote it; rollback would overwrite that change, so nothing was changed.",
                remediation: "Look at the change; run kpswitch rollback --force to put the recorded original back over it.",
                runbook: .rollback("kpswitch-rollback"))
        }
        state.log("--force: rolling back over changes to \(changed.joined(separator: " and "))")
        if configMap.data != state.originalConfigMap.data && configMap.data != editedData {
            do throws(StepFailure) {
                try await writeConfig(state.originalConfigMap.data, over: configMap.data)
            } catch {
                throw KPSwitchError(status: .rollbackIncomplete, message: error.message)
            }
        }
    }
}

extension MigrationEngine {
    /// `kpswitch status`: the configured mode, what each node's kube-proxy logged, the recorded migration.
    public func status() async throws(KPSwitchError) -> MigrationStatusReport {
        try await access.withClient(logger: logger) { client in
            let (report, daemonSets, configMaps) = try await KubeProxyState.detect(client: client, namespace: namespace)
            let configured: String
            var container = "kube-proxy"
            var selector = "k8s-app=kube-proxy"
            if let location = report.location, let daemonSet = daemonSets.first(where: { $0.name == location.daemonSet }) {
                container = location.container
                selector = MigrationPlanner.selector(of: daemonSet)
                let state = try KubeProxyState.state(report: report, daemonSets: daemonSets, configMaps: configMaps, namespace: namespace)
                configured = state.mode.rawValue
            } else {
                configured = "unknown"
            }
            let pods = try await client.list(Pod.self, namespace: namespace, labelSelector: selector).items
            var nodes: [MigrationStatusReport.NodeStatus] = []
            for pod in pods.sorted(by: { ($0.nodeName ?? "", $0.name) < ($1.nodeName ?? "", $1.name) }) {
                let observed: String
                do {
                    observed = NodeVerdict.observedMode(inLog: try await client.logs(pod: pod.name, namespace: namespace, container: container))?.rawValue ?? "unknown"
                } catch {
                    // A pod still starting has no log yet: its mode is unknown, which is what status reports.
                    observed = "unknown"
                }
                let restarts = (pod.json[path: ["status", "containerStatuses"]]?.arrayValue ?? [])
                    .first { $0["name"]?.stringValue == container }?["restartCount"]?.intValue ?? 0
                nodes.append(.init(node: pod.nodeName ?? "", pod: pod.name, observedMode: observed, ready: pod.isReady, restarts: restarts))
            }
            let recorded = try await MigrationRunner.readState(client: client, namespace: namespace)?.0
            let migration = recorded.map { state -> MigrationStatusReport.Migration in
                let progress = BatchProgress(record: state.record)
                return MigrationStatusReport.Migration(
                    phase: state.phase, from: state.record.plan.from, to: state.record.plan.to, strategy: state.record.plan.strategy,
                    cleanup: state.record.plan.cleanup, completed: state.record.completed, steps: state.record.plan.steps.count,
                    step: state.currentStep, outcome: state.record.outcome?.name.rawValue, failure: state.record.failure, holder: state.holder,
                    startedAt: state.startedAt, updatedAt: state.updatedAt, batch: progress.batch, batches: progress.batches,
                    nodesMigrated: progress.migrated, nodesVerified: progress.verified, nodesTotal: progress.total)
            }
            return MigrationStatusReport(
                configuredMode: configured, nodes: nodes, migration: migration, history: recorded?.history ?? [],
                pastMigrations: recorded?.pastMigrations ?? [])
        }
    }
}
