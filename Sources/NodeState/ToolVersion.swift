/// A userspace tool's version, parsed from its `--version` output.
public struct ToolVersion: Comparable, Codable, Sendable, CustomStringConvertible {
    public let components: [Int]

    public init(_ components: [Int]) {
        self.components = components
    }

    /// The first `vX.Y[.Z]` or `X.Y[.Z]` in `output`: `ipset v7.17, protocol version: 7`,
    /// `nftables v1.0.6 (Lester Gooch #5)`, `iptables v1.8.9 (nf_tables)`.
    public init?(parsing output: String) {
        for word in output.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" }) {
            let candidate = word.hasPrefix("v") ? word.dropFirst() : word[...]
            let parts = candidate.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count >= 2 else { continue }
            let numbers = parts.compactMap { Int($0) }
            if numbers.count == parts.count {
                components = numbers
                return
            }
        }
        return nil
    }

    public var description: String { components.map(String.init).joined(separator: ".") }

    public static func < (lhs: ToolVersion, rhs: ToolVersion) -> Bool {
        let count = max(lhs.components.count, rhs.components.count)
        let left = lhs.components + Array(repeating: 0, count: count - lhs.components.count)
        let right = rhs.components + Array(repeating: 0, count: count - rhs.components.count)
        return left.lexicographicallyPrecedes(right)
    }

    public static func == (lhs: ToolVersion, rhs: ToolVersion) -> Bool { !(lhs < rhs) && !(rhs < lhs) }
}
