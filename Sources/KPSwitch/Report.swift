/// A command's result: one value that the CLI renders as text or as one JSON document.
///
/// Every JSON document kpswitch prints is `{"apiVersion": "kpswitch/v1", "kind": <kind>, ...}`
/// with the report's own fields beside `apiVersion` and `kind` (README, "JSON output").
public protocol Report: Encodable, Sendable {
    static var kind: String { get }
}

/// What `-o json` prints for a command that failed, so machine readers never have to scrape stderr.
public struct FailureReport: Report {
    public static let kind = "Failure"

    public let exitCode: ExitStatus
    public let message: String
    public let remediation: String?
    public let runbook: Runbook?

    public init(_ error: KPSwitchError) {
        exitCode = error.status
        message = error.message
        remediation = error.remediation
        runbook = error.runbook
    }

    private enum CodingKeys: String, CodingKey { case exitCode, message, remediation, runbook }
}
