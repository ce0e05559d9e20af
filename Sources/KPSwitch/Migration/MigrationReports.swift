/// `migrate --dry-run` (and the plan shown before confirming): what will change, how, in which order.
public struct MigrationPlanReport: Report {
    public static let kind = "MigrationPlan"

    public let namespace: String
    public let configMap: String
    public let daemonSet: String
    public let from: ProxyMode
    public let to: ProxyMode
    public let strategy: MigrationPlan.Strategy
    public let cleanup: CleanupStrategy
    public let batches: [[String]]
    /// Canary: the batches in which the pods are replaced again from the original template at finalize.
    public let finalBatches: [[String]]
    public let steps: [String]
    public let configDiff: String
    public let daemonSetChanges: [String]
    /// What the mode pair and strategy risk, then what preflight warned of here (nodes and versions named).
    public internal(set) var risks: [String]

    private enum CodingKeys: String, CodingKey {
        case namespace, configMap, daemonSet, from, to, strategy, cleanup, batches, finalBatches, steps, configDiff, daemonSetChanges, risks
    }

    /// Preflight's warnings, ignored errors among them, as `[WARNING Name] message`: a check that found nothing
    /// adds nothing, so the plan repeats no generic sentence a check has already settled.
    /// Nodes a check could not look at are a risk too: the new mode would meet them unchecked.
    static func risks(from preflight: PreflightReport?) -> [String] {
        (preflight?.checks ?? []).flatMap { check in
            check.findings.compactMap { finding in
                switch finding.severity {
                case .warning: "[WARNING \(check.name)]\(finding.ignored ? " (ignored error)" : ""): \(finding.message)"
                case .skipped where check.scope == .nodes: "[SKIPPED \(check.name)]: \(finding.message)"
                default: nil
                }
            }
        }
    }
}

/// How `migrate` (or `migrate --resume`) ended.
public struct MigrationResult: Report {
    public static let kind = "MigrationResult"

    public let outcome: MigrationOutcome.Name
    public let from: ProxyMode
    public let to: ProxyMode
    public let strategy: MigrationPlan.Strategy
    public let reason: String?
    /// Steps still to do by hand (exit 5) or leftovers (migratedWithLeftovers).
    public let remaining: [String]?
    /// What a human does next, when anything.
    public let nextSteps: [String]
    public let exitStatus: ExitStatus

    private enum CodingKeys: String, CodingKey { case outcome, from, to, strategy, reason, remaining, nextSteps }
}

/// How `rollback` ended.
public struct RollbackResult: Report {
    public static let kind = "RollbackResult"

    public enum Outcome: String, Encodable, Sendable {
        case rolledBack, rollbackIncomplete, nothingToRollBack
    }

    public let outcome: Outcome
    public let from: ProxyMode?
    public let to: ProxyMode?
    public let reason: String?
    public let remaining: [String]?
    public let nextSteps: [String]
    public let exitStatus: ExitStatus

    private enum CodingKeys: String, CodingKey { case outcome, from, to, reason, remaining, nextSteps }
}

/// `status`: the configured mode, what each node runs, and the migration recorded in the cluster.
public struct MigrationStatusReport: Report {
    public static let kind = "MigrationStatus"

    public struct NodeStatus: Encodable, Sendable {
        public let node: String
        public let pod: String
        /// `iptables`, `ipvs`, `nftables` or `unknown` (no start-up line in the log).
        public let observedMode: String
        public let ready: Bool
        public let restarts: Int

        private enum CodingKeys: String, CodingKey { case node, pod, observedMode, ready, restarts }
    }

    public struct Migration: Encodable, Sendable {
        public let phase: String
        public let from: ProxyMode
        public let to: ProxyMode
        public let strategy: MigrationPlan.Strategy
        public let cleanup: CleanupStrategy
        public let completed: Int
        public let steps: Int
        public let step: String?
        public let outcome: String?
        public let failure: String?
        public let holder: String
        public let startedAt: String
        public let updatedAt: String
        public let batch: Int
        public let batches: Int
        public let nodesMigrated: Int
        public let nodesVerified: Int
        public let nodesTotal: Int

        private enum CodingKeys: String, CodingKey {
            case phase, from, to, strategy, cleanup, completed, steps, step, outcome, failure, holder, startedAt, updatedAt
            case batch, batches, nodesMigrated, nodesVerified, nodesTotal
        }
    }

    public let configuredMode: String
    public let nodes: [NodeStatus]
    public let migration: Migration?
    public let history: [MigrationState.HistoryEntry]
    public let pastMigrations: [MigrationState.PastMigration]

    private enum CodingKeys: String, CodingKey { case configuredMode, nodes, migration, history, pastMigrations }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(configuredMode, forKey: .configuredMode)
        try container.encode(nodes, forKey: .nodes)
        // Always present, null when no migration was ever recorded (the contract's shape).
        try container.encode(migration, forKey: .migration)
        try container.encode(history, forKey: .history)
        try container.encode(pastMigrations, forKey: .pastMigrations)
    }
}

/// Batch progress derived from a record: the progress line and `status`.
public struct BatchProgress: Equatable, Sendable {
    public let batch: Int
    public let batches: Int
    public let migrated: Int
    public let verified: Int
    public let total: Int

    init(record: MigrationMachine.Record) {
        var batches = 0, batch = 0, migrated = 0, verified = 0, total = 0
        // The final batches replace the same nodes again: they count as batches, not as more nodes.
        var final = false
        for (index, step) in record.plan.steps.enumerated() {
            let done = index < record.completed
            switch step {
            case .writeOriginalConfig:
                final = true
            case .replacePods(let number, let nodes):
                batches += 1
                if !final { total += nodes.count }
                if done {
                    batch = number + 1
                    if !final { migrated += nodes.count }
                }
            case .verifyNodes(_, let nodes, _):
                if done && !final { verified += nodes.count }
            default: break
            }
        }
        self.batch = batch
        self.batches = batches
        self.migrated = migrated
        self.verified = verified
        self.total = total
    }

    /// `batch 2/4: nodes migrated 2 / verified 2 / total 5, elapsed 14s`
    public func line(elapsed: Duration) -> String {
        "batch \(batch)/\(batches): nodes migrated \(migrated) / verified \(verified) / total \(total), elapsed \(Self.format(elapsed))"
    }

    static func format(_ duration: Duration) -> String {
        let seconds = Int(duration.components.seconds)
        return seconds >= 60 ? "\(seconds / 60)m\(seconds % 60)s" : "\(seconds)s"
    }
}
