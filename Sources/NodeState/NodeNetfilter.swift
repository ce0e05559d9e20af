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
        try IPTablesRuleset(parsing: try await largeOutput([variant.saveProgram]))
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

    /// Creates, empty, the sets of an `ipset save` text that the node lacks, and returns their names.
    /// iptables-nft-restore --test resolves `--match-set` against the kernel, so a saved ruleset can
    /// only be tested with its sets present; a set nothing references yet is harmless to add.
    public func createMissingIPSets(saved: String) async throws(NodeStateError) -> [String] {
        let existing = Set(try await ipsetNames())
        var names: [String] = []
        var script = ""
        for line in saved.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 2)
            guard words.count >= 2, words[0] == "create", !existing.contains(String(words[1])) else { continue }
            names.append(String(words[1]))
            script += line + "\n"
        }
        guard !names.isEmpty else { return [] }
        try await runner.run(["ipset", "restore"], input: .bytes(Array(script.utf8))).check()
        return names
    }

    /// Destroys the named sets (ones `createMissingIPSets` made).
    public func destroyIPSets(_ names: [String]) async throws(NodeStateError) {
        for name in names { try await destroyIPSet(name) }
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
    /// Which tables exist is asked once, with `nft list sets` (see `nftTables`).
    public func listNFTTables(_ tables: [NFTTable], to descriptor: Int32) async throws(NodeStateError) {
        let existing = try await nftTables()
        for table in tables where existing.contains(table) {
            try await runner.run(["nft", "list", "table", table.family, table.name], output: .fileDescriptor(descriptor))
                .check()
        }
    }

    /// Whether the table exists.
    public func nftTableExists(_ table: NFTTable) async throws(NodeStateError) -> Bool {
        try await nftTables().contains(table)
    }

    /// Every nftables table. `nft list sets` prints each table's header whether or not it has sets
    /// (nftables 1.0.x `do_list_sets`) and fetches no rules, so it answers in milliseconds where
    /// `nft list tables` and `nft list table NAME` spend seconds on a large iptables-nft ruleset
    /// (0.01 s against 20 s+ and 1.1 s on 20,000 services, measured with nftables 1.0.6).
    public func nftTables() async throws(NodeStateError) -> Set<NFTTable> {
        Set(NFTTable.tables(inListSets: try await runner.output(["nft", "list", "sets"])))
    }

    /// Runs `argv` with its stdout in an unlinked temporary file and returns that as text. A ruleset
    /// can be hundreds of megabytes, and swift-subprocess's in-memory capture reserves its whole limit
    /// up front (a 1 GiB reservation fails in a 1 GiB guest).
    func largeOutput(_ argv: [String]) async throws(NodeStateError) -> String {
        var template = Array("\(NSTemporaryDirectory())/kpswitch-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard descriptor >= 0 else {
            throw NodeStateError(.commandFailed, "A temporary file for \(argv.joined(separator: " ")) cannot be created: \(String(cString: strerror(errno))).",
                                 remediation: "Check that the temporary directory (TMPDIR) is writable.")
        }
        defer { close(descriptor) }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        template.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { unlink(base) }
        }
        try await runner.run(argv, output: .fileDescriptor(descriptor)).check()
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        lseek(descriptor, 0, SEEK_SET)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                if count < 0 {
                    throw NodeStateError(.commandFailed, "The output of \(argv.joined(separator: " ")) cannot be read back: \(String(cString: strerror(errno))).",
                                         remediation: "Check free space in the temporary directory (TMPDIR).")
                }
                break
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
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
