/// A preflight check's contract name: what `[ERROR Name]` prints and `--ignore-preflight-errors` accepts.
public struct CheckName: Hashable, Comparable, Codable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String

    public init(stringLiteral value: String) {
        rawValue = value
    }

    public var description: String { rawValue }

    /// The section of Runbooks/preflight.md that explains this check and its fix.
    public var runbook: Runbook { Runbook(file: "preflight.md", anchor: rawValue.lowercased()) }

    public static func < (lhs: CheckName, rhs: CheckName) -> Bool { lhs.rawValue < rhs.rawValue }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }
}

/// Where a check looks.
public enum CheckScope: String, Codable, Sendable {
    /// The host kpswitch runs on.
    case node
    case cluster
    /// Every node kube-proxy runs on, each through an agent pod.
    case nodes
}
