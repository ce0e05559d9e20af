/// A section of the operator runbooks (`Runbooks/<file>#<anchor>`) that a refusal or warning points to.
///
/// KPSwitch turns it into its own `Runbook` link; ProxyConfig only names the section.
public struct RunbookReference: Hashable, Sendable, CustomStringConvertible {
    public let file: String
    public let anchor: String

    public init(file: String, anchor: String) {
        self.file = file
        self.anchor = anchor
    }

    public var description: String { "Runbooks/\(file)#\(anchor)" }

    static func migrate(_ anchor: String) -> RunbookReference { RunbookReference(file: "migrate.md", anchor: anchor) }
}
