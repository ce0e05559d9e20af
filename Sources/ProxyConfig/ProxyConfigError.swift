/// Why kpswitch will not read or rewrite a kube-proxy configuration: what, where, and what to do.
public struct ProxyConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kind of failure, for callers that branch on it (preflight maps `.unsupportedFlavour` to exit 3).
    public enum Kind: String, Sendable {
        case unparsable
        case notKubeProxyConfiguration
        case invalidTarget
        case unsupportedVersion
        case unsupportedLayout
        case proofFailed
        case unsupportedFlavour
        case notFound
    }

    public let kind: Kind
    /// What failed, including the line when one is known.
    public let message: String
    /// The next step for the operator.
    public let remediation: String
    public let runbook: RunbookReference?
    /// 1-based line in the configuration text, when the failure has one.
    public let line: Int?

    init(_ kind: Kind, _ message: String, remediation: String, runbook: RunbookReference? = nil, line: Int? = nil) {
        self.kind = kind
        self.message = message
        self.remediation = remediation
        self.runbook = runbook
        self.line = line
    }

    public var description: String {
        var text = line.map { "line \($0): \(message)" } ?? message
        text += " \(remediation)"
        if let runbook { text += " See \(runbook)." }
        return text
    }
}
