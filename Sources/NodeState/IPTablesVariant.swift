/// One of the four iptables rule stores a node can have: nft or legacy backend, IPv4 or IPv6.
///
/// Both backends can hold rules at once (a node upgraded from legacy, a CNI pinned to one), and
/// kube-proxy writes to whichever its image selects, so each is captured and restored on its own.
public struct IPTablesVariant: Hashable, Sendable, CustomStringConvertible {
    public enum Backend: String, Sendable, CaseIterable { case nft, legacy }
    public enum Family: String, Sendable, CaseIterable { case v4, v6 }

    public let backend: Backend
    public let family: Family

    public init(backend: Backend, family: Family) {
        self.backend = backend
        self.family = family
    }

    public static let all: [IPTablesVariant] = Backend.allCases.flatMap { backend in
        Family.allCases.map { IPTablesVariant(backend: backend, family: $0) }
    }

    /// `iptables-nft`, `ip6tables-legacy`, ...
    public var program: String { "\(family == .v4 ? "iptables" : "ip6tables")-\(backend.rawValue)" }
    public var saveProgram: String { "\(program)-save" }
    public var restoreProgram: String { "\(program)-restore" }

    public var description: String { program }
}
