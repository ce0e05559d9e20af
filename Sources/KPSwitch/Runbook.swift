/// A section of the operator runbooks shipped in `Runbooks/`, linked from messages by anchor.
public struct Runbook: CustomStringConvertible, Encodable, Hashable, Sendable {
    public let file: String
    public let anchor: String

    public init(file: String, anchor: String) {
        self.file = file
        self.anchor = anchor
    }

    public var description: String { "Runbooks/\(file)#\(anchor)" }

    public static func migrate(_ anchor: String) -> Runbook { Runbook(file: "migrate.md", anchor: anchor) }
    public static func rollback(_ anchor: String) -> Runbook { Runbook(file: "rollback.md", anchor: anchor) }

    /// Encoded as the link itself, the way messages print it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
