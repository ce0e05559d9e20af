/// A failure the CLI reports and exits on: what failed, what to do next, and the contract's exit status.
public struct KPSwitchError: Error, CustomStringConvertible, Sendable {
    public let status: ExitStatus
    public let message: String
    public let remediation: String?
    public let runbook: Runbook?

    public init(status: ExitStatus, message: String, remediation: String? = nil, runbook: Runbook? = nil) {
        self.status = status
        self.message = message
        self.remediation = remediation
        self.runbook = runbook
    }

    public var description: String {
        var text = message
        if let remediation { text += " \(remediation)" }
        if let runbook { text += " See \(runbook)." }
        return text
    }
}
