/// An `iptables-save` text split into tables, chains and rules, kept as the text iptables printed so
/// that rules can be handed back to `iptables-restore` (`-D` takes a rule exactly as saved).
public struct IPTablesRuleset: Sendable, Equatable {
    public struct Table: Sendable, Equatable {
        public let name: String
        /// Chains in declaration order; built-in chains carry their policy, user chains `-`.
        public var chains: [String]
        public var rules: [Rule]
    }

    public struct Rule: Sendable, Equatable {
        public let chain: String
        /// Everything after `-A CHAIN `.
        public let spec: String

        /// The chain this rule jumps or goes to, if its target is a chain (`-j X` or `-g X`).
        public var target: String? {
            Self.targetChain(in: spec)
        }

        static func targetChain(in spec: String) -> String? {
            var previous: Substring = ""
            var found: Substring?
            for token in spec.split(separator: " ") {
                if previous == "-j" || previous == "--jump" || previous == "-g" || previous == "--goto" { found = token }
                previous = token
            }
            return found.map(String.init)
        }

        /// The text of `--comment`, unquoted, if the rule has one.
        public var comment: String? {
            guard let range = spec.range(of: "--comment ") else { return nil }
            let rest = spec[range.upperBound...]
            if rest.first == "\"" {
                let body = rest.dropFirst()
                guard let end = body.firstIndex(of: "\"") else { return String(body) }
                return String(body[..<end])
            }
            return String(rest.prefix { $0 != " " })
        }
    }

    public var tables: [Table]

    /// Parses iptables-save output; comments and counters are ignored, anything else unexpected is an
    /// error naming the line, because a misread ruleset must never be restored or cleaned.
    public init(parsing text: String) throws(NodeStateError) {
        var tables: [Table] = []
        var current: Table?
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("*") {
                guard current == nil else { throw Self.bad(lineNumber, "a table starts before COMMIT") }
                current = Table(name: String(line.dropFirst()), chains: [], rules: [])
            } else if line == "COMMIT" {
                guard let table = current else { throw Self.bad(lineNumber, "COMMIT outside a table") }
                tables.append(table)
                current = nil
            } else if line.hasPrefix(":") {
                guard current != nil, let name = line.dropFirst().split(separator: " ").first else {
                    throw Self.bad(lineNumber, "a chain declaration outside a table")
                }
                current?.chains.append(String(name))
            } else if line.hasPrefix("-A ") {
                let body = line.dropFirst(3)
                guard current != nil, let space = body.firstIndex(of: " ") else {
                    throw Self.bad(lineNumber, "a rule outside a table or without a body")
                }
                current?.rules.append(Rule(chain: String(body[..<space]), spec: String(body[body.index(after: space)...])))
            } else if line.hasPrefix("[") {
                // `iptables-save -c` puts packet and byte counters before the rule; not used here.
                continue
            } else {
                throw Self.bad(lineNumber, "unexpected text '\(line.prefix(60))'")
            }
        }
        guard current == nil else { throw Self.bad(lineNumber, "the last table has no COMMIT") }
        self.tables = tables
    }

    public func table(_ name: String) -> Table? {
        tables.first { $0.name == name }
    }

    private static func bad(_ line: Int, _ what: String) -> NodeStateError {
        NodeStateError(
            .unparsable, "iptables-save output, line \(line): \(what).",
            remediation: "Check the file with iptables-restore --test; kpswitch reads only iptables-save's format.")
    }
}
