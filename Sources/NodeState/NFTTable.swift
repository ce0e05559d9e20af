/// An nftables table, named as `nft list tables` prints it: `table <family> <name>`.
public struct NFTTable: Hashable, Sendable, CustomStringConvertible {
    public let family: String
    public let name: String

    public init(family: String, name: String) {
        self.family = family
        self.name = name
    }

    public var description: String { "table \(family) \(name)" }

    /// The tables of `nft list sets` (or `list ruleset`) text: its `table <family> <name> {` lines.
    public static func tables(inListSets text: String) -> [NFTTable] {
        text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count == 4, words[0] == "table", words[3] == "{" else { return nil }
            return NFTTable(family: String(words[1]), name: String(words[2]))
        }
    }

    /// Counts kube-proxy's nftables-mode layout in `nft list ruleset` text: inside the `kube-proxy`
    /// tables, one `service-<hash>-<ns>/<name>/<proto>/<port>` chain per service port and one
    /// `endpoint-<hash>-...` chain per endpoint (`pkg/proxy/nftables/proxier.go`).
    public static func kubeProxyServices(inRuleset text: String) -> ProgrammedServices {
        var inKubeProxy = false
        var services = 0
        var endpoints = 0
        for line in text.split(separator: "\n") {
            if line.hasPrefix("table ") {
                let words = line.split(separator: " ")
                inKubeProxy = words.count >= 3 && words[2] == "kube-proxy" && (words[1] == "ip" || words[1] == "ip6")
                continue
            }
            guard inKubeProxy else { continue }
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard trimmed.hasPrefix("chain ") else { continue }
            let name = trimmed.dropFirst("chain ".count)
            if name.hasPrefix("service-") { services += 1 }
            if name.hasPrefix("endpoint-") { endpoints += 1 }
        }
        return ProgrammedServices(servicePorts: services, endpoints: endpoints)
    }
}
