/// A bundle could not be written, read or trusted; the description names the file and the next step.
public struct SnapshotError: Error, CustomStringConvertible, Sendable {
    /// The bundle-relative file the failure concerns, when there is one.
    public let file: String?
    public let message: String
    public let remediation: String

    init(file: String? = nil, _ message: String, remediation: String) {
        self.file = file
        self.message = message
        self.remediation = remediation
    }

    public var description: String { "\(message) \(remediation)" }
}
