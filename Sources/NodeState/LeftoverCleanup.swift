/// Exactly what removing one mode's footprint would delete on this node, found by reading the node.
public struct LeftoverCleanup: Sendable {
    public let iptables: [(variant: IPTablesVariant, removal: IPTablesCleanup)]
    public let ipsets: [String]
    public let nftTables: [NFTTable]
    public let links: [String]
    /// Stores or tools that were not looked at, with why (a tool that is not installed, say).
    public let notChecked: [String]

    public init(
        iptables: [(variant: IPTablesVariant, removal: IPTablesCleanup)], ipsets: [String], nftTables: [NFTTable], links: [String],
        notChecked: [String]
    ) {
        self.iptables = iptables
        self.ipsets = ipsets
        self.nftTables = nftTables
        self.links = links
        self.notChecked = notChecked
    }

    public var isEmpty: Bool {
        iptables.allSatisfy { $0.removal.isEmpty } && ipsets.isEmpty && nftTables.isEmpty && links.isEmpty
    }
}

extension NodeNetfilter {
    /// Reads the node and lists what `footprint` has left on it; changes nothing.
    public func planCleanup(of footprint: KubeProxyFootprint) async throws(NodeStateError) -> LeftoverCleanup {
        var iptables: [(variant: IPTablesVariant, removal: IPTablesCleanup)] = []
        var notChecked: [String] = []
        let wantsChains = !footprint.chains.isEmpty || !footprint.chainPrefixes.isEmpty
        if wantsChains {
            for variant in IPTablesVariant.all {
                guard isInstalled(variant.saveProgram) else {
                    notChecked.append("\(variant): \(variant.saveProgram) is not installed")
                    continue
                }
                let removal = IPTablesCleanup(ruleset: try await iptablesRules(variant), footprint: footprint)
                if !removal.isEmpty { iptables.append((variant, removal)) }
            }
        }
        var ipsets: [String] = []
        if !footprint.ipsets.isEmpty {
            if isInstalled("ipset") {
                ipsets = try await ipsetNames().filter(footprint.ipsets.contains)
            } else {
                notChecked.append("ipsets: ipset is not installed")
            }
        }
        var tables: [NFTTable] = []
        if !footprint.nftTables.isEmpty {
            if isInstalled("nft") {
                for table in footprint.nftTables where try await nftTableExists(table) {
                    tables.append(table)
                }
            } else {
                notChecked.append("nftables: nft is not installed")
            }
        }
        var links: [String] = []
        if !footprint.links.isEmpty {
            links = try await linkNames().filter(footprint.links.contains)
        }
        return LeftoverCleanup(iptables: iptables, ipsets: ipsets, nftTables: tables, links: links, notChecked: notChecked)
    }

    /// Deletes what the plan lists: chains first (rules may match the ipsets), then sets, tables, links.
    public func apply(_ cleanup: LeftoverCleanup) async throws(NodeStateError) {
        for (variant, removal) in cleanup.iptables where !removal.isEmpty {
            try await applyNoFlush(variant, script: removal.restoreScript)
        }
        for name in cleanup.ipsets { try await destroyIPSet(name) }
        for table in cleanup.nftTables { try await deleteNFTTable(table) }
        for link in cleanup.links { try await deleteLink(link) }
    }
}
