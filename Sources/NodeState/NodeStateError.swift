/// A node-local program or file could not be read or changed; the description names it and the next step.
public struct NodeStateError: Error, CustomStringConvertible, Sendable {
    public enum Code: Equatable, Sendable {
        case programMissing(String)
        case commandFailed
        case unparsable
    }

    public let code: Code
    public let message: String
    public let remediation: String

    init(_ code: Code, _ message: String, remediation: String) {
        self.code = code
        self.message = message
        self.remediation = remediation
    }

    public var description: String { "\(message) \(remediation)" }
}
