/// One thing a check found. Errors block, warnings inform, notes record a fact or an action taken,
/// and a skipped finding says why the check could not look — it is never reported as passed.
public struct Finding: Codable, Equatable, Sendable {
    public enum Severity: String, Codable, Sendable {
        case error
        case warning
        case note
        case skipped
    }

    public var severity: Severity
    /// What the finding is about: a module, a node, an object (`ip_vs`, `worker-3`, `ConfigMap kube-proxy`).
    public let subject: String?
    public let message: String
    /// The command or step that fixes it, when there is one.
    public let remediation: String?
    /// True when `--ignore-preflight-errors` demoted this error to a warning.
    public var ignored: Bool
    /// Every node the finding is about, when it is about nodes; the message names only the first few.
    public let nodes: [String]?

    public init(
        _ severity: Severity, subject: String? = nil, _ message: String, remediation: String? = nil, nodes: [String]? = nil
    ) {
        self.severity = severity
        self.subject = subject
        self.message = message
        self.remediation = remediation
        self.nodes = nodes
        ignored = false
    }

    public static func error(_ message: String, subject: String? = nil, remediation: String? = nil, nodes: [String]? = nil) -> Finding {
        Finding(.error, subject: subject, message, remediation: remediation, nodes: nodes)
    }

    public static func warning(_ message: String, subject: String? = nil, remediation: String? = nil, nodes: [String]? = nil) -> Finding {
        Finding(.warning, subject: subject, message, remediation: remediation, nodes: nodes)
    }

    public static func note(_ message: String, subject: String? = nil) -> Finding {
        Finding(.note, subject: subject, message)
    }

    public static func skipped(_ reason: String, subject: String? = nil, nodes: [String]? = nil) -> Finding {
        Finding(.skipped, subject: subject, reason, nodes: nodes)
    }

    private enum CodingKeys: String, CodingKey { case severity, subject, message, remediation, ignored, nodes }
}
