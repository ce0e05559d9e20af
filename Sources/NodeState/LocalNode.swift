import Foundation

/// The node kpswitch runs on, read through /proc, /sys, /lib/modules and the netfilter tools.
///
/// `root` prefixes every file path so that tests (and a node's root mounted at /host) can point it
/// elsewhere; `runner` carries a namespace prefix when the tools must run inside one.
public struct LocalNode: Sendable {
    public let root: String
    public let runner: CommandRunner

    public init(root: String = "", runner: CommandRunner = CommandRunner()) {
        self.root = root
        self.runner = runner
    }

    /// The node's name as the kernel has it; the process's host name when /proc cannot tell (not Linux).
    public var hostname: String {
        (try? String(contentsOfFile: root + "/proc/sys/kernel/hostname", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ProcessInfo.processInfo.hostName
    }

    public var notLinuxReason: String? {
        #if os(Linux)
        return nil
        #else
        return "node checks need Linux; this is not a Linux node"
        #endif
    }

    public var isPrivileged: Bool { geteuid() == 0 }

    public func kernelRelease() throws(NodeStateError) -> KernelRelease {
        let text = try read("/proc/sys/kernel/osrelease")
        guard let release = KernelRelease(text) else {
            throw NodeStateError(.unparsable, "The kernel release '\(text)' could not be parsed.",
                                 remediation: "Report this kernel release as a kpswitch bug.")
        }
        return release
    }

    /// The module lists of the running kernel; missing depmod files mean "nothing built in or loadable".
    public func kernelModules() throws(NodeStateError) -> KernelModules {
        let release = try kernelRelease()
        let directory = "/lib/modules/\(release.text)"
        return KernelModules(
            procModules: try readIfPresent("/proc/modules"),
            modulesBuiltin: try readIfPresent(directory + "/modules.builtin") ?? "",
            modulesDep: try readIfPresent(directory + "/modules.dep") ?? "",
            sysModule: try directoryIfPresent("/sys/module"))
    }

    public func loadModule(_ name: String) async throws(NodeStateError) {
        try await runner.run(["modprobe", "--", name]).check()
    }

    public func toolVersion(_ program: String) async throws(NodeStateError) -> ToolVersion? {
        guard runner.locate(program) != nil else { return nil }
        let result = try await runner.run([program, program == "ipset" ? "version" : "--version"])
        try result.check()
        guard let version = ToolVersion(parsing: result.stdoutText + result.stderrText) else {
            throw NodeStateError(.unparsable, "\(program) printed no version kpswitch can read: \(result.stdoutText)",
                                 remediation: "Report this \(program) build as a kpswitch bug.")
        }
        return version
    }

    public func nftablesDryRun() async throws(NodeStateError) {
        // --check sends the transaction to the kernel and aborts it, so this probes nf_tables without a trace.
        try await runner.run(["nft", "--check", "add", "table", "inet", "kpswitch_probe"]).check()
    }

    public func iptablesChains() async throws(NodeStateError) -> [IPTablesChains] {
        var captures: [IPTablesChains] = []
        for backend in IPTablesChains.Backend.allCases {
            for family in IPTablesChains.Family.allCases {
                let tool = "\(family == .ipv4 ? "iptables" : "ip6tables")-\(backend.rawValue)-save"
                guard runner.locate(tool) != nil else { continue }
                let result = try await runner.run([tool])
                try result.check()
                captures.append(try IPTablesChains(backend: backend, family: family, save: result.stdoutText))
            }
        }
        return captures
    }

    public func linkExists(_ name: String) async throws(NodeStateError) -> Bool {
        try await runner.run(["ip", "-o", "link", "show", "dev", name]).succeeded
    }

    public func interfaceAddresses() async throws(NodeStateError) -> [String: [String]] {
        Self.parseAddresses(try await runner.output(["ip", "-o", "addr", "show"]))
    }

    /// `2: eth0    inet 10.0.2.15/24 brd 10.0.2.255 scope global eth0\ ...` → ["eth0": ["10.0.2.15"]].
    static func parseAddresses(_ text: String) -> [String: [String]] {
        var addresses: [String: [String]] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 4, fields[2] == "inet" || fields[2] == "inet6" else { continue }
            let link = String(fields[1].split(separator: "@").first ?? fields[1])
            let address = String(fields[3].split(separator: "/").first ?? fields[3])
            addresses[link, default: []].append(address)
        }
        return addresses
    }

    public func ipsetNames() async throws(NodeStateError) -> [String] {
        guard runner.locate("ipset") != nil else { return [] }
        return try await runner.output(["ipset", "list", "-n"]).split(separator: "\n").map(String.init)
    }

    public func nftablesTables() async throws(NodeStateError) -> [String] {
        guard runner.locate("nft") != nil else { return [] }
        // `nft list sets`, not `list tables`: the same tables in milliseconds (see NodeNetfilter.nftTables).
        return NFTTable.tables(inListSets: try await runner.output(["nft", "list", "sets"])).map { "\($0.family) \($0.name)" }
    }

    public func sysctl(_ key: String) -> String? {
        Sysctls.read([key], root: root + "/proc/sys")[key] ?? nil
    }

    private func read(_ path: String) throws(NodeStateError) -> String {
        guard let text = try readIfPresent(path) else {
            throw NodeStateError(.unparsable, "\(root + path) does not exist.",
                                 remediation: "Run kpswitch on a Linux node (or mount the node's root and pass it).")
        }
        return text
    }

    private func directoryIfPresent(_ path: String) throws(NodeStateError) -> [String] {
        let full = root + path
        guard FileManager.default.fileExists(atPath: full) else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: full)
        } catch {
            throw NodeStateError(.unparsable, "\(full) could not be listed: \(error.localizedDescription).",
                                 remediation: "Run kpswitch as root on the node.")
        }
    }

    private func readIfPresent(_ path: String) throws(NodeStateError) -> String? {
        let full = root + path
        guard FileManager.default.fileExists(atPath: full) else { return nil }
        do {
            return try String(contentsOfFile: full, encoding: .utf8)
        } catch {
            throw NodeStateError(.unparsable, "\(full) could not be read: \(error.localizedDescription).",
                                 remediation: "Run kpswitch as root on the node.")
        }
    }
}
