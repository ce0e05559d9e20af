import Foundation
import KubeAPI

/// What `kpswitch-state` holds: everything a fresh process on any machine needs to resume or roll back a
/// migration. Each part is one key of the ConfigMap (Docs/migration-state.md lists them).
public struct MigrationState: Codable, Equatable, Sendable {
    /// The original kube-proxy ConfigMap, byte for byte.
    public struct OriginalConfigMap: Codable, Equatable, Sendable {
        public let name: String
        /// The key kube-proxy reads (`config.conf`, `config`).
        public let key: String
        public let resourceVersion: String
        public let data: [String: String]
    }

    /// The original DaemonSet's update strategy and pod template, as the API server returned them.
    public struct OriginalDaemonSet: Codable, Equatable, Sendable {
        public let name: String
        /// The container that runs kube-proxy (its log shows the mode).
        public let container: String
        /// The pod template volume that carries the ConfigMap.
        public let volume: String
        public let resourceVersion: String
        public let generation: Int
        public let updateStrategy: JSONValue
        public let template: JSONValue
    }

    /// The target and the text kpswitch writes, decided once at plan time so that a resume writes the same.
    public struct Target: Codable, Equatable, Sendable {
        public let mode: ProxyMode
        public let scheduler: String?
        public let strictARP: Bool?
        /// `<original>-kpswitch-<mode>`.
        public let stagedConfigMap: String
        /// The original key's text with the surgical edit.
        public let configText: String
        /// The keys whose values change, for the plan and status.
        public let changedKeys: [String]
        /// kube-proxy's `--config` path, which the cleanup init container passes on.
        public let configPath: String
    }

    /// What kpswitch itself last wrote, so a later step can tell its own change from someone else's.
    public struct Applied: Codable, Equatable, Sendable {
        public var configMapResourceVersion: String?
        public var daemonSetGeneration: Int?
        /// The DaemonSet's spec parts as the API server returned them after kpswitch's last write.
        public var daemonSetUpdateStrategy: JSONValue?
        public var daemonSetTemplate: JSONValue?
    }

    public struct HistoryEntry: Codable, Equatable, Sendable {
        public let time: String
        public let holder: String
        public let event: String
    }

    /// One finished migration, kept for `status`.
    public struct PastMigration: Codable, Equatable, Sendable {
        public let from: ProxyMode
        public let to: ProxyMode
        public let strategy: MigrationPlan.Strategy
        public let outcome: String
        public let startedAt: String
        public let finishedAt: String
    }

    /// The node snapshot the back-up step takes before the first change: how, and once taken, what each
    /// node's agent reported.
    public struct NodeSnapshot: Codable, Equatable, Sendable {
        public let id: String
        public let image: String?
        public let concurrency: Int
        public let deadlineSeconds: Int
        /// `--ignore-preflight-errors` names `NodeSnapshot` (or all): a node without a bundle does not stop the run.
        public let ignoreFailures: Bool
        /// nil until the back-up step ran.
        public var report: NodeSnapshotReport?

        public init(options: NodeAgentOptions, ignoring: [String]) {
            id = NodeSnapshots.newID()
            image = options.image
            concurrency = options.concurrency
            deadlineSeconds = options.deadlineSeconds
            ignoreFailures = ignoring.contains { ["all", NodeSnapshots.checkName.rawValue.lowercased()].contains($0.lowercased()) }
            report = nil
        }

        var options: NodeAgentOptions {
            NodeAgentOptions(image: image, concurrency: concurrency, deadlineSeconds: deadlineSeconds)
        }
    }

    public var record: MigrationMachine.Record
    /// nil for a migration started by a kpswitch without node snapshots, or one whose back-up takes none.
    public var nodeSnapshot: NodeSnapshot? = nil
    public let originalConfigMap: OriginalConfigMap
    public let originalDaemonSet: OriginalDaemonSet
    public let target: Target
    public var applied: Applied
    public var holder: String
    public let startedAt: String
    public var updatedAt: String
    /// `acting` while the step named by `step` runs, `done` after it completed.
    public var stepState: String
    public var history: [HistoryEntry]
    public var pastMigrations: [PastMigration]

    /// Whether the migration still needs `--resume` or `rollback`.
    public var isUnfinished: Bool {
        switch record.outcome {
        case nil, .stopped?, .rollbackIncomplete?: true
        default: false
        }
    }

    /// Whether `rollback` has something to put back: an unfinished migration, or one that migrated.
    public var canRollBack: Bool {
        switch record.outcome {
        case .migrated?, .migratedWithLeftovers?: true
        default: isUnfinished
        }
    }

    /// `migrating`, `rollingBack` or `finished`.
    public var phase: String {
        if record.outcome != nil { return "finished" }
        return record.rollback == nil ? "migrating" : "rollingBack"
    }

    /// The step in progress or next, as progress messages name it.
    public var currentStep: String? {
        guard case .perform(let step) = MigrationMachine(record: record).nextAction else { return nil }
        return step.summary
    }

    static let maxHistory = 500

    mutating func log(_ event: String, at time: Date = Date()) {
        history.append(HistoryEntry(time: Timestamp.rfc3339(time), holder: holder, event: event))
        if history.count > Self.maxHistory { history.removeFirst(history.count - Self.maxHistory) }
    }
}

extension MigrationState {
    /// The ConfigMap's name.
    public static let configMapName = "kpswitch-state"

    enum Key {
        static let record = "record"
        static let completed = "completed"
        static let rollbackCompleted = "rollbackCompleted"
        static let phase = "phase"
        static let step = "step"
        static let stepState = "stepState"
        static let outcome = "outcome"
        static let originalConfigMap = "originalConfigMap"
        static let originalDaemonSet = "originalDaemonSet"
        static let target = "target"
        static let applied = "applied"
        static let holder = "holder"
        static let startedAt = "startedAt"
        static let updatedAt = "updatedAt"
        static let history = "history"
        static let pastMigrations = "pastMigrations"
        static let nodeSnapshot = "nodeSnapshot"
    }

    /// The ConfigMap's data: JSON documents for the structured parts, plain strings for what a watcher reads.
    ///
    /// - Parameter constants: the encodings of the parts a run never changes (the originals and the target),
    ///   made by the first call and reused by the next: the state is written before and after every step.
    func encodedData(constants: inout [String: String]?) throws(KPSwitchError) -> [String: String] {
        if constants == nil {
            constants = [
                Key.originalConfigMap: try Self.json(originalConfigMap),
                Key.originalDaemonSet: try Self.json(originalDaemonSet),
                Key.target: try Self.json(target),
            ]
        }
        var data: [String: String] = [
            Key.record: try Self.json(record),
            Key.completed: String(record.completed),
            Key.rollbackCompleted: String(record.rollbackCompleted),
            Key.phase: phase,
            Key.stepState: stepState,
            Key.applied: try Self.json(applied),
            Key.holder: holder,
            Key.startedAt: startedAt,
            Key.updatedAt: updatedAt,
            Key.history: try Self.json(history),
            Key.pastMigrations: try Self.json(pastMigrations),
        ]
        data.merge(constants ?? [:]) { current, _ in current }
        if let nodeSnapshot { data[Key.nodeSnapshot] = try Self.json(nodeSnapshot) }
        if let step = currentStep { data[Key.step] = step }
        if let outcome = record.outcome { data[Key.outcome] = outcome.name.rawValue }
        return data
    }

    init(data: [String: String]) throws(KPSwitchError) {
        record = try Self.decode(MigrationMachine.Record.self, data, Key.record)
        originalConfigMap = try Self.decode(OriginalConfigMap.self, data, Key.originalConfigMap)
        originalDaemonSet = try Self.decode(OriginalDaemonSet.self, data, Key.originalDaemonSet)
        target = try Self.decode(Target.self, data, Key.target)
        applied = try Self.decode(Applied.self, data, Key.applied)
        history = try Self.decode([HistoryEntry].self, data, Key.history)
        pastMigrations = data[Key.pastMigrations] == nil ? [] : try Self.decode([PastMigration].self, data, Key.pastMigrations)
        nodeSnapshot = data[Key.nodeSnapshot] == nil ? nil : try Self.decode(NodeSnapshot.self, data, Key.nodeSnapshot)
        holder = data[Key.holder] ?? ""
        startedAt = data[Key.startedAt] ?? ""
        updatedAt = data[Key.updatedAt] ?? ""
        stepState = data[Key.stepState] ?? "done"
    }

    private static func json<T: Encodable>(_ value: T) throws(KPSwitchError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw KPSwitchError(status: .runtimeError, message: "the migration state could not be encoded: \(error).")
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ data: [String: String], _ key: String) throws(KPSwitchError) -> T {
        guard let text = data[key] else {
            throw unreadable("key \(key) is missing")
        }
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw unreadable("key \(key) is not what this kpswitch version writes (\(error))")
        }
    }

    static func unreadable(_ reason: String) -> KPSwitchError {
        KPSwitchError(
            status: .runtimeError,
            message: "ConfigMap \(configMapName) cannot be read: \(reason).",
            remediation: "Use the kpswitch version that started the migration, or follow the manual rollback.",
            runbook: .rollback("manual-rollback-on-kubeadm"))
    }
}

extension MigrationOutcome {
    /// The outcome as JSON reports and `kpswitch-state` spell it.
    public enum Name: String, Encodable, Sendable {
        case migrated, migratedWithLeftovers, failed, rolledBack, rollbackIncomplete, stopped
    }

    public var name: Name {
        switch self {
        case .migrated: .migrated
        case .migratedWithLeftovers: .migratedWithLeftovers
        case .failed: .failed
        case .rolledBack: .rolledBack
        case .rollbackIncomplete: .rollbackIncomplete
        case .stopped: .stopped
        }
    }
}

/// Kubernetes timestamps: RFC 3339 for ours, MicroTime for Lease fields.
enum Timestamp {
    /// Swift's own ISO 8601 style (`2026-12-03T11:41:29Z`): no ICU formatter is built for each state write.
    static func rfc3339(_ date: Date) -> String { date.ISO8601Format() }

    static func microTime(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micros = Int(((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded(.down))
        return rfc3339(Date(timeIntervalSince1970: seconds)).dropLast() + "." + String(format: "%06d", micros) + "Z"
    }

    /// Read once per pod event in a waiting phase: the plain RFC 3339 forms the API server writes are read by
    /// hand (a formatter costs more than the rest of the event, building its ICU calendar each time).
    static func parse(_ text: String) -> Date? {
        if let date = parseRFC3339(Array(text.utf8)) { return date }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        // MicroTime has six fractional digits, more than ISO8601DateFormatter reads: drop the extra ones.
        if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            let fraction = text[text.index(after: dot)..<zone].prefix(3)
            return parse(String(text[..<dot]) + "." + fraction + String(text[zone...]))
        }
        return nil
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, nil for anything else.
    private static func parseRFC3339(_ bytes: [UInt8]) -> Date? {
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<start + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func byte(_ index: Int, is characters: String) -> Bool { index < bytes.count && characters.utf8.contains(bytes[index]) }
        guard let year = number(0, 4), byte(4, is: "-"), let month = number(5, 2), byte(7, is: "-"), let day = number(8, 2),
            byte(10, is: "Tt"), let hour = number(11, 2), byte(13, is: ":"), let minute = number(14, 2), byte(16, is: ":"),
            let second = number(17, 2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if byte(index, is: ".") {
            var scale = 0.1
            index += 1
            let start = index
            while let digit = number(index, 1) {
                fraction += Double(digit) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if byte(index, is: "Zz"), index + 1 == bytes.count {
            offset = 0
        } else if byte(index, is: "+-"), index + 6 == bytes.count, let hours = number(index + 1, 2), byte(index + 3, is: ":"),
            let minutes = number(index + 4, 2)
        {
            offset = (hours * 60 + minutes) * 60 * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}
