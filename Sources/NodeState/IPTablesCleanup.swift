/// The removal of one mode's chains from one iptables rule store, as a single `iptables-restore
/// --noflush` script so it happens atomically: jumps into the chains are deleted first, then the
/// chains are flushed (they reference each other), then deleted.
public struct IPTablesCleanup: Sendable, Equatable {
    public struct Chain: Sendable, Equatable {
        public let table: String
        public let name: String
    }

    public struct Jump: Sendable, Equatable {
        public let table: String
        public let chain: String
        public let spec: String
    }

    public let chains: [Chain]
    public let jumps: [Jump]

    public var isEmpty: Bool { chains.isEmpty }

    public init(ruleset: IPTablesRuleset, footprint: KubeProxyFootprint) {
        var chains: [Chain] = []
        var jumps: [Jump] = []
        for table in ruleset.tables {
            let owned = Set(table.chains.filter { footprint.owns(chain: $0, inTable: table.name) })
            chains += table.chains.filter(owned.contains).map { Chain(table: table.name, name: $0) }
            for rule in table.rules where !owned.contains(rule.chain) {
                if let target = rule.target, owned.contains(target) {
                    jumps.append(Jump(table: table.name, chain: rule.chain, spec: rule.spec))
                }
            }
        }
        self.chains = chains
        self.jumps = jumps
    }

    /// Input for `iptables-restore --noflush`.
    public var restoreScript: String {
        var text = ""
        var tableNames: [String] = []
        for name in chains.map(\.table) + jumps.map(\.table) where !tableNames.contains(name) {
            tableNames.append(name)
        }
        for table in tableNames {
            text += "*\(table)\n"
            for jump in jumps where jump.table == table {
                text += "-D \(jump.chain) \(jump.spec)\n"
            }
            let names = chains.filter { $0.table == table }.map(\.name)
            for name in names { text += "-F \(name)\n" }
            for name in names { text += "-X \(name)\n" }
            text += "COMMIT\n"
        }
        return text
    }
}
