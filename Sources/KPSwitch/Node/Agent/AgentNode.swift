import Foundation
import IPVS
import NodeState

/// A node as its agent pod reported it: the facts of one `NodeAgentLog`, answered through the same
/// `NodeInspector` and `IPVSReader` that `LocalNode` answers locally, so every node check judges them
/// alike whichever transport read them. Every section is parsed here, at once: a log whose content does
/// not parse is refused whole rather than half believed.
public struct AgentNode: NodeInspector, IPVSReader {
    public let hostname: String
    public var notLinuxReason: String? { nil }
    /// The agent pod runs privileged in the host's network namespace.
    public var isPrivileged: Bool { true }

    let log: NodeAgentLog
    let release: KernelRelease
    let modules: Result<KernelModules, NodeAgentLogError>
    let chains: [IPTablesChains]
    let ipvsTable: IPVSProcTable?
    /// The ClusterIP service ports the node's rules program, per source (`iptables-nft-ipv4`, `nft-ip`; see
    /// `NodeAgentScript.servicePorts`); IPVS's are read from `/proc/net/ip_vs` instead.
    public let programmedServicePorts: [String: Int]
    /// The bundle the agent wrote on the node, why it could not, or nil when none was asked for.
    public let snapshot: Result<NodeBundleReport, NodeAgentLogError>?

    public init(log: NodeAgentLog, snapshot id: String? = nil) throws(NodeAgentLogError) {
        self.log = log
        if let id {
            let text: Result<String?, NodeAgentLogError> = Result { () throws(NodeAgentLogError) in try log.output("snapshot") }
            snapshot = text.flatMap { text in
                guard let text else {
                    return .failure(.skipped(section: "snapshot", reason: log.reason("snapshot") ?? "the agent wrote no bundle"))
                }
                return Result { () throws(NodeAgentLogError) in
                    try NodeBundleReport(parsing: text, directory: "\(NodeAgentScript.snapshotRoot)/\(id)")
                }
            }
        } else {
            snapshot = nil
        }
        hostname = (try log.output("hostname") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard let text = try log.output("osrelease"), let release = KernelRelease(text) else {
            throw .garbled("the kernel release '\(log.sections["osrelease"]?.text ?? "")' could not be parsed")
        }
        self.release = release
        modules = Result { () throws(NodeAgentLogError) in
            guard let loadable = try log.output("modprobe") else {
                throw .skipped(section: "modprobe", reason: log.reason("modprobe") ?? "modprobe was skipped")
            }
            return KernelModules(
                procModules: try log.output("proc-modules"),
                modulesBuiltin: try log.output("modules-builtin") ?? "",
                loadable: Set(Self.lines(loadable)),
                sysModule: Self.lines(try log.output("sys-module") ?? ""))
        }
        var chains: [IPTablesChains] = []
        for backend in IPTablesChains.Backend.allCases {
            for family in IPTablesChains.Family.allCases {
                let name = "iptables-\(backend.rawValue)-\(family.rawValue)"
                guard let save = try log.output(name) else { continue }
                do {
                    chains.append(try IPTablesChains(backend: backend, family: family, save: save))
                } catch {
                    throw .garbled("section \(name) is no iptables-save text: \(error.message)")
                }
            }
        }
        self.chains = chains
        var programmed: [String: Int] = [:]
        for line in Self.lines(try log.output("service-ports") ?? "") {
            let words = line.split(separator: " ")
            guard words.count == 3, let programs = Int(words[1]), let rejects = Int(words[2]) else {
                throw .garbled("section service-ports holds '\(line.prefix(80))', not 'SOURCE COUNT COUNT'")
            }
            programmed[String(words[0])] = programs + rejects
        }
        programmedServicePorts = programmed
        if let text = try log.output("ip_vs") {
            do {
                ipvsTable = try IPVSProcTable(parsing: text)
            } catch {
                throw .garbled("section ip_vs: \(error)")
            }
        } else {
            ipvsTable = nil
        }
    }

    public func kernelRelease() throws(NodeAgentLogError) -> KernelRelease { release }

    public func kernelModules() throws(NodeAgentLogError) -> KernelModules { try modules.get() }

    public func loadModule(_ name: String) throws(NodeAgentLogError) {
        throw .skipped(section: "modprobe", reason: "an agent does not load modules; run 'kpswitch preflight --scope node --load-modules' on \(hostname)")
    }

    public func toolVersion(_ program: String) throws(NodeAgentLogError) -> ToolVersion? {
        guard let text = try log.output("\(program)-version") else { return nil }
        guard let version = ToolVersion(parsing: text) else {
            throw .garbled("section \(program)-version holds no version: '\(text.prefix(80))'")
        }
        return version
    }

    public func nftablesDryRun() throws(NodeAgentLogError) {
        guard try log.output("nft-check") != nil else {
            throw .skipped(section: "nft-check", reason: log.reason("nft-check") ?? "nft was skipped")
        }
    }

    public func iptablesChains() -> [IPTablesChains] { chains }

    public func linkExists(_ name: String) throws(NodeAgentLogError) -> Bool {
        Self.lines(try log.output("links") ?? "").contains(name)
    }

    public func interfaceAddresses() throws(NodeAgentLogError) -> [String: [String]] {
        throw .skipped(section: "addresses", reason: "kube-proxy's image has no 'ip', so the agent cannot list the node's addresses")
    }

    public func ipsetNames() throws(NodeAgentLogError) -> [String] {
        Self.lines(try log.output("ipset") ?? "")
    }

    /// `table ip kube-proxy` lines of `nft list tables` → `ip kube-proxy`, as `LocalNode` names them.
    public func nftablesTables() throws(NodeAgentLogError) -> [String] {
        Self.lines(try log.output("nft-tables") ?? "").compactMap { line in
            let words = line.split(separator: " ")
            return words.count == 3 && words[0] == "table" ? "\(words[1]) \(words[2])" : nil
        }
    }

    public func sysctl(_ key: String) -> String? {
        for line in Self.lines(log.sections["sysctls"]?.text ?? "") {
            let pair = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if pair.count == 2, pair[0] == key { return String(pair[1]) }
        }
        return nil
    }

    public func serviceKeys() throws -> [IPVSService.Key] {
        try table().serviceKeys
    }

    public func version() throws -> String {
        try table().version
    }

    /// No /proc/net/ip_vs means the kernel has no IPVS loaded, which netlink reports as an absent family.
    private func table() throws(IPVSError) -> IPVSProcTable {
        if let ipvsTable { return ipvsTable }
        let absent = (try? modules.get())?.state(of: "ip_vs") == .absent
        throw .unavailable(absent ? .notInKernel(kernelRelease: release.text) : .moduleNotLoaded(kernelRelease: release.text))
    }

    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init)
    }
}
