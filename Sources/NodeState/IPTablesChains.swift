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

    /// Parses `iptables-save` text: `*nat` opens a table, `:KUBE-SERVICES - [0:0]` declares a chain.
    public init(backend: Backend, family: Family, save text: String) {
        var tables: [String: [String]] = [:]
        var current: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("*") {
                let table = String(line.dropFirst())
                current = table
                tables[table, default: []] = tables[table] ?? []
            } else if line.hasPrefix(":"), let table = current,
                let chain = line.dropFirst().split(separator: " ", maxSplits: 1).first
            {
                tables[table, default: []].append(String(chain))
            }
        }
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
