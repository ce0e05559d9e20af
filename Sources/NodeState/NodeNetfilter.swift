import Foundation

/// The node's packet-filtering state as its own tools show and change it: iptables (both backends,
/// both families), ipset, nft and the `ip` links kube-proxy adds. Every call goes through one
/// `CommandRunner`; parsing is left to the pure types beside it.
public struct NodeNetfilter: Sendable {
    public let runner: CommandRunner

    public init(runner: CommandRunner = CommandRunner()) {
        self.runner = runner
    }

    public func isInstalled(_ program: String) -> Bool {
        runner.locate(program) != nil
    }

    // MARK: iptables

    /// Streams `<variant>-save` into `descriptor`; an empty result means the store has no tables.
    public func saveIPTables(_ variant: IPTablesVariant, to descriptor: Int32) async throws(NodeStateError) {
        try await runner.run([variant.saveProgram], output: .fileDescriptor(descriptor)).check()
    }

    /// The store's rules as text, for planning a cleanup.
    public func iptablesRules(_ variant: IPTablesVariant) async throws(NodeStateError) -> IPTablesRuleset {
        let result = try await runner.run([variant.saveProgram], output: .collect(limit: 1 << 30))
        try result.check()
        return try IPTablesRuleset(parsing: result.stdoutText)
    }

    /// Replaces every table named in the saved text with its saved content (`<variant>-restore`).
    public func restoreIPTables(_ variant: IPTablesVariant, from descriptor: Int32) async throws(NodeStateError) {
        try await runner.run([variant.restoreProgram], input: .fileDescriptor(descriptor)).check()
    }

    /// Checks saved text without applying it (`<variant>-restore --test`).
    public func testIPTables(_ variant: IPTablesVariant, from descriptor: Int32) async throws(NodeStateError) {
        try await runner.run([variant.restoreProgram, "--test"], input: .fileDescriptor(descriptor)).check()
    }

    func applyNoFlush(_ variant: IPTablesVariant, script: String) async throws(NodeStateError) {
        try await runner.run([variant.restoreProgram, "--noflush"], input: .bytes(Array(script.utf8))).check()
    }

    // MARK: ipset

    public func saveIPSets(to descriptor: Int32) async throws(NodeStateError) {
        try await runner.run(["ipset", "save"], output: .fileDescriptor(descriptor)).check()
    }

    public func ipsetNames() async throws(NodeStateError) -> [String] {
        try await runner.output(["ipset", "list", "-n"]).split(separator: "\n").map(String.init)
    }

    /// Puts back the sets of an `ipset save` text: sets that exist now are flushed and refilled,
    /// missing ones created. Sets not in the text are left alone, and no set is destroyed, because
    /// iptables rules may reference them.
    public func restoreIPSets(saved: String) async throws(NodeStateError) {
        let existing = Set(try await ipsetNames())
        var script = ""
        for name in IPSetSave.setNames(in: saved) where existing.contains(name) {
            script += "flush \(name)\n"
        }
        script += saved
        try await runner.run(["ipset", "restore", "-exist"], input: .bytes(Array(script.utf8))).check()
    }

    func destroyIPSet(_ name: String) async throws(NodeStateError) {
        try await runner.run(["ipset", "destroy", name]).check()
    }

    // MARK: nftables

    /// Streams `nft list table` of each of `tables` that exists into `descriptor`.
    ///
    /// Tables are listed by name because nft 1.0.x lists a whole family (or `list tables`,
    /// `list ruleset`) by translating every iptables-nft rule first: minutes on a node with 20,000
    /// services, against a second for one named table (measured, BENCHMARKS.md, "Node snapshot").
    public func listNFTTables(_ tables: [NFTTable], to descriptor: Int32) async throws(NodeStateError) {
        for table in tables where try await nftTableExists(table) {
            try await runner.run(["nft", "list", "table", table.family, table.name], output: .fileDescriptor(descriptor))
                .check()
        }
    }

    /// Whether the table exists, asked by name (see `listNFTTables` for why not `nft list tables`).
    public func nftTableExists(_ table: NFTTable) async throws(NodeStateError) -> Bool {
        let result = try await runner.run(["nft", "list", "table", table.family, table.name], output: .collect(limit: 1 << 30))
        if result.succeeded { return true }
        if result.stderrText.contains("No such file or directory") { return false }
        try result.check()
        return false
    }

    func deleteNFTTable(_ table: NFTTable) async throws(NodeStateError) {
        try await runner.run(["nft", "delete", "table", table.family, table.name]).check()
    }

    // MARK: links

    /// `ip -json addr show dev NAME`, or nil when the node has no such link.
    public func linkAddressesJSON(_ name: String) async throws(NodeStateError) -> String? {
        guard try await linkNames().contains(name) else { return nil }
        return try await runner.output(["ip", "-json", "addr", "show", "dev", name])
    }

    public func linkNames() async throws(NodeStateError) -> [String] {
        try IPLink.names(fromJSON: try await runner.output(["ip", "-json", "link", "show"]))
    }

    func deleteLink(_ name: String) async throws(NodeStateError) {
        try await runner.run(["ip", "link", "delete", name]).check()
    }
}

/// Reading `ipset save` text.
enum IPSetSave {
    static func setNames(in text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ", maxSplits: 2)
            return words.count >= 2 && words[0] == "create" ? String(words[1]) : nil
        }
    }
}

/// Reading `ip -json link show`.
enum IPLink {
    static func names(fromJSON text: String) throws(NodeStateError) -> [String] {
        struct Link: Decodable { let ifname: String }
        do {
            return try JSONDecoder().decode([Link].self, from: Data(text.utf8)).map(\.ifname)
        } catch {
            throw NodeStateError(
                .unparsable, "'ip -json link show' printed something kpswitch cannot read: \(error).",
                remediation: "Install a current iproute2 (its -json output is needed).")
        }
    }
}
