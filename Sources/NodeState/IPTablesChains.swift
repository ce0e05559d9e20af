/// The chains one iptables backend holds for one family, per table, read from `*-save` output.
public struct IPTablesChains: Codable, Equatable, Sendable {
    public enum Backend: String, Codable, Sendable, CaseIterable {
        case legacy
        case nft
    }

    public enum Family: String, Codable, Sendable, CaseIterable {
        case ipv4
        case ipv6
    }

    public let backend: Backend
    public let family: Family
    public let chainsByTable: [String: [String]]

    public init(backend: Backend, family: Family, chainsByTable: [String: [String]]) {
        self.backend = backend
        self.family = family
        self.chainsByTable = chainsByTable
    }

    /// Reads `iptables-save` text with the same strict parser that restore and cleanup use.
    public init(backend: Backend, family: Family, save text: String) throws(NodeStateError) {
        let ruleset = try IPTablesRuleset(parsing: text)
        var tables: [String: [String]] = [:]
        for table in ruleset.tables { tables[table.name, default: []] += table.chains }
        self.init(backend: backend, family: family, chainsByTable: tables)
    }

    /// kube-proxy's chains (`KUBE-*`), except kubelet's own `KUBE-FIREWALL` and `KUBE-KUBELET-CANARY`.
    public var kubeProxyChains: [String] {
        chainsByTable.keys.sorted().flatMap { table in
            (chainsByTable[table] ?? []).filter { $0.hasPrefix("KUBE-") && !Self.kubeletChains.contains($0) }
                .map { "\(table)/\($0)" }
        }
    }

    static let kubeletChains: Set<String> = ["KUBE-FIREWALL", "KUBE-KUBELET-CANARY"]
}
