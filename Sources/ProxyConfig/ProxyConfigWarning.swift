/// A note for the operator that does not block migration.
public struct ProxyConfigWarning: Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public let runbook: RunbookReference

    public var description: String { "\(message) See \(runbook)." }
}
