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

    /// Reads back a `restoreScript` (as an agent built it on the node); anything else is an error naming the line.
    public init(restoreScript text: String) throws(NodeStateError) {
        var chains: [Chain] = []
        var jumps: [Jump] = []
        var table: String?
        for (index, line) in text.split(separator: "\n").enumerated() {
            let bad = NodeStateError(
                .unparsable, "iptables-restore input, line \(index + 1): unexpected '\(line.prefix(60))'.",
                remediation: "The agent that printed it is not this kpswitch's; rerun with a matching kpswitch.")
            if line.hasPrefix("*") {
                guard table == nil else { throw bad }
                table = String(line.dropFirst())
                continue
            }
            guard let current = table else { throw bad }
            if line == "COMMIT" {
                table = nil
            } else if line.hasPrefix("-D ") {
                let body = line.dropFirst(3)
                guard let space = body.firstIndex(of: " ") else { throw bad }
                jumps.append(Jump(table: current, chain: String(body[..<space]), spec: String(body[body.index(after: space)...])))
            } else if line.hasPrefix("-X ") {
                chains.append(Chain(table: current, name: String(line.dropFirst(3))))
            } else if !line.hasPrefix("-F ") {
                throw bad
            }
        }
        guard table == nil else {
            throw NodeStateError(.unparsable, "iptables-restore input ends without COMMIT.", remediation: "Rerun; the agent's output was cut.")
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
