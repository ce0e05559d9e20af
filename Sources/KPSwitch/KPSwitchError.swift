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

    /// A command whose issue is still open: it says so instead of printing made-up results.
    public static func notImplemented(_ command: String, issue: Int) -> KPSwitchError {
        KPSwitchError(
            status: .runtimeError,
            message: "kpswitch \(command) is not implemented yet (issue #\(issue)); nothing was read or changed.",
            remediation: "Follow the manual procedure in the runbook meanwhile.",
            runbook: .troubleshooting("not-implemented-yet")
        )
    }
}
