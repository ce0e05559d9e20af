/// The migration as a state machine with no I/O: events in, the next action out. `MigrationRunner`
/// records the machine's `record` in `kpswitch-state` before performing each action, so that a run killed
/// at any point is resumed (or rolled back) from a fresh process with `init(record:)`.
public struct MigrationMachine: Sendable {
    public enum Action: Equatable, Sendable {
        case perform(MigrationStep)
        case finish(MigrationOutcome)
    }

    /// What is persisted: the plan, how far it got, and the rollback if one began.
    public struct Record: Codable, Equatable, Sendable {
        public let plan: MigrationPlan
        public let rollbackAllowed: Bool
        public fileprivate(set) var completed: Int
        public fileprivate(set) var rollback: [MigrationStep]?
        public fileprivate(set) var rollbackCompleted: Int
        /// Why the migration stopped going forward, when it did.
        public fileprivate(set) var failure: String?
        public fileprivate(set) var outcome: MigrationOutcome?

        /// The forward steps done so far.
        public var done: [MigrationStep] { Array(plan.steps.prefix(completed)) }

        /// The steps done plus the one in progress, which may have acted before the failure or the kill:
        /// undoing is idempotent, so it is undone too.
        var attempted: [MigrationStep] { Array(plan.steps.prefix(min(completed + 1, plan.steps.count))) }
    }

    public private(set) var record: Record

    public init(plan: MigrationPlan, rollbackAllowed: Bool = true) {
        record = Record(plan: plan, rollbackAllowed: rollbackAllowed, completed: 0, rollback: nil,
                        rollbackCompleted: 0, failure: nil, outcome: nil)
    }

    /// Continues a recorded migration; the step in progress when the last run stopped runs again.
    public init(record: Record) {
        self.record = record
    }

    /// What to do now: the step to (re-)run, or the end.
    public var nextAction: Action {
        if let outcome = record.outcome { return .finish(outcome) }
        if let rollback = record.rollback {
            return .perform(rollback[record.rollbackCompleted])
        }
        return .perform(record.plan.steps[record.completed])
    }

    public mutating func stepSucceeded(_ step: MigrationStep) -> Action {
        guard nextAction == .perform(step) else { return nextAction }
        if let rollback = record.rollback {
            record.rollbackCompleted += 1
            if record.rollbackCompleted == rollback.count { finishRollback() }
        } else {
            record.completed += 1
            if record.completed == record.plan.steps.count { record.outcome = .migrated }
        }
        return nextAction
    }

    /// A step failed. Before anything changed in the cluster, the migration just ends; once the new mode is
    /// proven everywhere, only leftovers remain to name; in between, it rolls back unless told not to.
    ///
    /// `mayRollBack` false (someone else changed kube-proxy's objects) stops where it is: a rollback would
    /// overwrite their change.
    public mutating func stepFailed(_ step: MigrationStep, error: String, mayRollBack: Bool = true) -> Action {
        guard nextAction == .perform(step) else { return nextAction }
        if let rollback = record.rollback {
            let remaining = Array(rollback[record.rollbackCompleted...])
            record.outcome = .rollbackIncomplete(
                reason: record.failure ?? error, rollbackError: error, remaining: remaining)
            return nextAction
        }
        let attempted = record.attempted
        record.failure = "\(step.summary) failed: \(error)"
        if !attempted.contains(where: \.changesCluster) {
            // Nothing to put back but the lock, if it was taken.
            record.rollback = record.done.contains(.acquireLock) ? [.releaseLock] : []
            record.rollbackCompleted = 0
            if record.rollback?.isEmpty == true { finishRollback() }
        } else if provenEverywhere(record.done) {
            record.outcome = .migratedWithLeftovers(reason: error, remaining: Array(record.plan.steps[record.completed...]))
        } else if !record.rollbackAllowed || !mayRollBack {
            record.outcome = .stopped(reason: record.failure ?? error, done: attempted)
        } else {
            record.rollback = record.plan.rollbackSteps(after: attempted)
            record.rollbackCompleted = 0
        }
        return nextAction
    }

    /// `kpswitch rollback` on a recorded migration that is not finished (or was stopped with --no-rollback).
    public mutating func rollBack(reason: String) -> Action {
        switch record.outcome {
        case .stopped?, .migrated?, .migratedWithLeftovers?:
            // A finished migration is undone as well: the record still holds what was there before it.
            record.outcome = nil
        case .rollbackIncomplete? where record.rollback != nil:
            // Try the remaining rollback steps again, from the one that failed.
            record.outcome = nil
            return nextAction
        default:
            break
        }
        guard record.outcome == nil, record.rollback == nil else { return nextAction }
        record.failure = reason
        record.rollback = record.plan.rollbackSteps(after: record.completed == record.plan.steps.count ? record.done : record.attempted)
        record.rollbackCompleted = 0
        if record.rollback?.isEmpty == true { finishRollback() }
        return nextAction
    }

    /// `migrate --resume`: a run stopped by a failure (--no-rollback, or someone else's change) retries
    /// the step that failed; an incomplete rollback retries its remaining steps; otherwise nothing changes.
    public mutating func resume() {
        switch record.outcome {
        case .stopped? where record.rollback == nil:
            record.outcome = nil
            record.failure = nil
        case .rollbackIncomplete? where record.rollback != nil:
            record.outcome = nil
        default:
            break
        }
    }

    /// A rollback that had nothing of the cluster to put back is a plain failure (exit 1), not exit 4.
    private mutating func finishRollback() {
        let reason = record.failure ?? "rolled back on request"
        record.outcome = record.attempted.contains(where: \.changesCluster) ? .rolledBack(reason: reason) : .failed(reason: reason)
    }

    /// Once the rollout of the target mode finished (rolling), or the final batches are verified and the
    /// original update strategy is back (canary), the migration has succeeded whatever fails later.
    private func provenEverywhere(_ done: [MigrationStep]) -> Bool {
        done.contains(.awaitRollout(mode: record.plan.to)) || done.contains(.restoreDaemonSet)
    }
}

extension MigrationStep {
    /// Whether the step changes kube-proxy's objects or pods (the lock and the backup record do not).
    var changesCluster: Bool {
        switch self {
        case .acquireLock, .backUp, .releaseLock, .verifyNodes, .awaitRollout, .cleanNodes: false
        default: true
        }
    }

    /// The step as the progress and error messages name it.
    public var summary: String {
        switch self {
        case .acquireLock: "taking the kpswitch lock"
        case .backUp: "recording the original configuration"
        case .createStagedConfig: "creating the staged ConfigMap"
        case .pointDaemonSetAtStaged: "pointing the DaemonSet at the staged ConfigMap"
        case .replacePods(let batch, let nodes): "replacing kube-proxy on \(nodes.count) node(s) (batch \(batch + 1))"
        case .verifyNodes(let batch, let nodes, let mode):
            "verifying \(mode.rawValue) on \(nodes.count) node(s) (batch \(batch + 1))"
        case .writeOriginalConfig: "writing the new mode into the original ConfigMap"
        case .pointDaemonSetAtOriginal: "pointing the DaemonSet back at the original ConfigMap"
        case .restoreDaemonSet: "restoring the DaemonSet's update strategy"
        case .editConfigInPlace: "editing the ConfigMap in place"
        case .restartDaemonSet: "restarting the DaemonSet"
        case .awaitRollout(let mode): "waiting for every node to run \(mode.rawValue)"
        case .deleteStagedConfig: "deleting the staged ConfigMap"
        case .cleanNodes(let mode): "removing \(mode.rawValue) leftovers from every node through agent pods"
        case .releaseLock: "releasing the kpswitch lock"
        case .restoreOriginalConfig: "restoring the original ConfigMap"
        case .restoreOriginalDaemonSet: "restoring the original DaemonSet"
        }
    }
}
