/// The result of a preflight run: every check in the order it ran, with its findings.
public struct PreflightReport: Report, Equatable {
    public static let kind = "PreflightReport"

    public struct CheckResult: Codable, Equatable, Sendable {
        public enum Status: String, Codable, Sendable {
            case passed
            case warning
            case error
            case skipped
        }

        public let name: CheckName
        public let scope: CheckScope
        public let findings: [Finding]

        /// The worst finding decides; a check whose every finding is a skip was not run, and one that could not
        /// look at some nodes was not run there: neither passed.
        public var status: Status {
            if findings.contains(where: { $0.severity == .error }) { return .error }
            if findings.contains(where: { $0.severity == .warning }) { return .warning }
            if !findings.isEmpty && findings.allSatisfy({ $0.severity == .skipped }) { return .skipped }
            if findings.contains(where: { $0.severity == .skipped && $0.nodes != nil }) { return .skipped }
            return .passed
        }

        public var runbook: Runbook { name.runbook }

        private enum CodingKeys: String, CodingKey { case name, scope, status, findings, runbook }

        public init(name: CheckName, scope: CheckScope, findings: [Finding]) {
            self.name = name
            self.scope = scope
            self.findings = findings
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(scope, forKey: .scope)
            try container.encode(status, forKey: .status)
            try container.encode(findings, forKey: .findings)
            try container.encode(runbook, forKey: .runbook)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(CheckName.self, forKey: .name)
            scope = try container.decode(CheckScope.self, forKey: .scope)
            findings = try container.decode([Finding].self, forKey: .findings)
        }
    }

    public struct Summary: Codable, Equatable, Sendable {
        public let passed: Int
        public let warnings: Int
        public let errors: Int
        public let skipped: Int
    }

    /// The mode checked for; nil when every mode was checked.
    public let target: ProxyMode?
    /// The node checked, when node checks ran.
    public let host: String?
    /// The kubeconfig context (else the server) checked, when cluster checks ran.
    public let cluster: String?
    /// What preflight did before checking, such as modules loaded by `--load-modules`.
    public let actions: [Finding]
    public let checks: [CheckResult]

    public init(target: ProxyMode?, host: String?, cluster: String? = nil, actions: [Finding] = [], checks: [CheckResult]) {
        self.target = target
        self.host = host
        self.cluster = cluster
        self.actions = actions
        self.checks = checks
    }

    public var summary: Summary {
        Summary(
            passed: checks.count { $0.status == .passed },
            warnings: checks.count { $0.status == .warning },
            errors: checks.count { $0.status == .error },
            skipped: checks.count { $0.status == .skipped })
    }

    /// True when an error that was not ignored remains: the command exits 3.
    public var isBlocking: Bool { checks.contains { $0.status == .error } }

    private enum CodingKeys: String, CodingKey { case target, host, cluster, actions, checks, summary, blocking }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(target, forKey: .target)
        try container.encode(host, forKey: .host)
        try container.encode(cluster, forKey: .cluster)
        try container.encode(actions, forKey: .actions)
        try container.encode(checks, forKey: .checks)
        try container.encode(summary, forKey: .summary)
        try container.encode(isBlocking, forKey: .blocking)
    }
}
