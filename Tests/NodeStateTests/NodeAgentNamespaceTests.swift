import Foundation
import NodeState
import Testing

@testable import KPSwitch
@testable import kube_proxy_ruleset

/// The agent's script run for real with dash in throwaway namespaces, its log parsed, and its facts set
/// beside what `LocalNode` reads of the same namespace: one description of node facts, two transports.
@Suite("node agent script in a network namespace", .serialized,
       .enabled(if: TestNamespace.unavailable == nil, "\(TestNamespace.unavailable ?? "")"))
struct NodeAgentNamespaceTests {
    /// Runs the agent script as the pod would (`sh -c SCRIPT kpswitch-agent NONCE`), optionally with a
    /// PATH that holds only `tools`, standing in for an image that lacks the others.
    func agentLog(_ ns: TestNamespace, nonce: String, path: String? = nil) async throws -> String {
        let environment = path.map { ["env", "PATH=\($0)"] } ?? []
        return try await ns.run(environment + ["/usr/bin/dash", "-c", NodeAgentScript.text, "kpswitch-agent", nonce])
    }

    /// kube-proxy's rules in the nft backend, stale ones in legacy, an ipset, an nft table and kube-ipvs0.
    func populate(_ ns: TestNamespace) async throws {
        try await ns.run(["iptables-nft-restore"], input: KubeProxyRuleset.generate(services: 12).text)
        try await ns.run(["ip6tables-nft-restore"], input: KubeProxyRuleset.generate(services: 5, ipv6: true).text)
        try await ns.run(["iptables-legacy-restore"], input: try Fixture.text("iptables-save-kube-proxy-nat"))
        try await ns.run(["ipset", "create", "KUBE-CLUSTER-IP", "hash:ip,port"])
        try await ns.run(["nft", "add", "table", "ip", "kube-proxy"])
        try await ns.run(["nft", "add", "table", "inet", "my-table"])
        // No dummy driver in every kernel (this host lacks it); a bridge is a link like any other here.
        try await ns.run(["ip", "link", "add", "kube-ipvs0", "type", "bridge"])
    }

    static func nonce() -> String { String(UInt64.random(in: 0...UInt64.max), radix: 36) }

    @Test("the agent's facts equal LocalNode's, and every node check judges both the same")
    func sameFacts() async throws {
        try await TestNamespace.with { ns in
            try await populate(ns)
            let nonce = Self.nonce()
            let agent = try AgentNode(log: NodeAgentLog(parsing: try await agentLog(ns, nonce: nonce), nonce: nonce))
            let local = LocalNode(runner: ns.runner)

            #expect(agent.hostname == local.hostname)
            #expect(try agent.kernelRelease() == local.kernelRelease())
            let (agentModules, localModules) = (try agent.kernelModules(), try local.kernelModules())
            for module in NodeAgentScript.modules {
                #expect(agentModules.state(of: module) == localModules.state(of: module), "\(module)")
            }
            let key: (IPTablesChains) -> String = { "\($0.backend)-\($0.family)" }
            let agentChains = agent.iptablesChains().sorted { key($0) < key($1) }
            let localChains = try await local.iptablesChains().sorted { key($0) < key($1) }
            #expect(agentChains == localChains)
            #expect(agentChains.count == 4)
            #expect(agentChains.first { $0.backend == .nft && $0.family == .ipv4 }?.kubeProxyChains.contains("nat/KUBE-SERVICES") == true)
            let localSets = try await local.ipsetNames()
            #expect(try agent.ipsetNames() == localSets)
            #expect(try agent.ipsetNames() == ["KUBE-CLUSTER-IP"])
            let localTables = try await local.nftablesTables()
            #expect(try agent.nftablesTables().sorted() == localTables.sorted())
            let localLink = try await local.linkExists("kube-ipvs0")
            #expect(try agent.linkExists("kube-ipvs0") && localLink)
            let (localIPSet, localNFT) = (try await local.toolVersion("ipset"), try await local.toolVersion("nft"))
            #expect(try agent.toolVersion("ipset") == localIPSet)
            #expect(try agent.toolVersion("nft") == localNFT)
            // Network sysctls belong to the namespace, which LocalNode's own /proc does not show.
            for key in Sysctls.kubeProxyKeys {
                let path = "/proc/sys/" + key.replacingOccurrences(of: ".", with: "/")
                let inside = try? await ns.run(["cat", path]).trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(agent.sysctl(key) == inside, "\(key)")
            }

            for target in [ProxyMode.ipvs, .iptables, .nftables] {
                let byAgent = NodeChecks.checks(for: target, scheduler: "rr", node: agent, ipvs: agent)
                let byLocal = NodeChecks.checks(for: target, scheduler: "rr", node: local, ipvs: LocalIPVS())
                for (a, l) in zip(byAgent, byLocal) where a.name != "ProxySysctls" {
                    let (fromAgent, fromLocal) = (await a.run(), await l.run())
                    #expect(fromAgent == fromLocal, "\(a.name) for \(target)")
                }
            }
        }
    }

    @Test("service-ports counts each backend's and family's ClusterIP ports, those without endpoints included")
    func servicePorts() async throws {
        try await TestNamespace.with { ns in
            try await populate(ns)
            let nonce = Self.nonce()
            let agent = try AgentNode(log: NodeAgentLog(parsing: try await agentLog(ns, nonce: nonce), nonce: nonce))
            // 12 generated ports (one without endpoints) in nft IPv4, 5 in IPv6; the fixture's one in legacy nat;
            // table ip kube-proxy is empty.
            #expect(agent.programmedServicePorts["iptables-nft-ipv4"] == 12, "\(agent.programmedServicePorts)")
            #expect(agent.programmedServicePorts["iptables-nft-ipv6"] == 5, "\(agent.programmedServicePorts)")
            #expect(agent.programmedServicePorts["iptables-legacy-ipv4"] == 1, "\(agent.programmedServicePorts)")
            #expect(agent.programmedServicePorts["nft-ip"] == 0, "\(agent.programmedServicePorts)")
            #expect(agent.programmedServicePorts["nft-ip6"] == nil, "\(agent.programmedServicePorts)")
        }
    }

    @Test("a tool missing from the image is a skipped section naming it, and the check is skipped with that reason")
    func missingTools() async throws {
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent("kpsw-agent-bin-\(Self.nonce())")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: bin) }
        for tool in ["cat", "grep", "wc", "rm", "iptables-nft-save"] {
            let target = try #require(CommandRunner().locate(tool))
            try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent(tool).path, withDestinationPath: target)
        }
        try await TestNamespace.with { ns in
            let nonce = Self.nonce()
            let log = try NodeAgentLog(parsing: try await agentLog(ns, nonce: nonce, path: bin.path), nonce: nonce)
            #expect(log.sections["ipset"]?.status == .skipped)
            #expect(log.reason("ipset") == "ipset is not installed in the agent's image")
            #expect(log.reason("iptables-legacy-ipv4") == "iptables-legacy-save is not installed in the agent's image")
            #expect(log.sections["iptables-nft-ipv4"]?.status == .ok)
            let agent = try AgentNode(log: log)
            #expect(agent.iptablesChains().map(\.backend) == [.nft])

            let checks = NodeChecks.checks(for: .ipvs, scheduler: "rr", node: agent, ipvs: agent)
            let kernel = try #require(checks.first { $0.name == "IPVSKernelSupport" })
            #expect(await kernel.run() == [.skipped("could not read the kernel's module lists: modprobe is not installed in the agent's image")])
            let ipset = try #require(checks.first { $0.name == "IPSetVersion" })
            #expect(await ipset.run().map(\.severity) == [.skipped])
        }
    }

    @Test("every cut of a real log, and every dropped or added line, is refused, never parsed as less")
    func truncatedAndGarbled() async throws {
        try await TestNamespace.with { ns in
            try await populate(ns)
            let nonce = Self.nonce()
            let log = try await agentLog(ns, nonce: nonce)
            _ = try NodeAgentLog(parsing: log, nonce: nonce)
            let bytes = Array(log.utf8)
            for cut in 0..<bytes.count {
                let text = String(decoding: bytes[..<cut], as: UTF8.self)
                #expect(throws: NodeAgentLogError.self, "cut at \(cut) of \(bytes.count)") {
                    try NodeAgentLog(parsing: text, nonce: nonce)
                }
            }
            let lines = log.split(separator: "\n", omittingEmptySubsequences: false)
            for index in lines.indices.dropLast() {
                var dropped = lines
                dropped.remove(at: index)
                var added = lines
                added.insert("-A KUBE-SERVICES -j ACCEPT", at: index + 1)
                for garbled in [dropped, added] {
                    #expect(throws: NodeAgentLogError.self, "line \(index)") {
                        try NodeAgentLog(parsing: garbled.joined(separator: "\n"), nonce: nonce)
                    }
                }
            }
            #expect(throws: NodeAgentLogError.otherRun("the log belongs to another run (nonce '\(nonce)', expected 'other')")) {
                try NodeAgentLog(parsing: log, nonce: "other")
            }
        }
    }

    /// `iptables-save`-style text without its `# Generated by/# Completed on` lines, which carry the time.
    static func withoutTimestamps(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("# ") }.joined(separator: "\n")
    }

    @Test("with a snapshot id the script writes the node's bundle (0700, files 0600) holding what the tools print, and reports only sizes, lines and counts")
    func bundle() async throws {
        try await TestNamespace.with { ns in
            try await populate(ns)
            let host = FileManager.default.temporaryDirectory.appendingPathComponent("kpswitch-agent-bundle-\(Self.nonce())")
            try FileManager.default.createDirectory(at: host, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: host) }
            let nonce = Self.nonce(), id = "20261203-120000-test"
            // The pod's hostPath, played by a private mount namespace whose /var/lib is a scratch directory.
            let wrapper = #"mount --bind "$1" /var/lib && mkdir -p "/var/lib/kpswitch/snapshots/$6" && shift && exec /usr/bin/dash "$@""#
            let log = try await ns.run(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", wrapper, "wrapper", host.path,
                 "-c", NodeAgentScript.text, "kpswitch-agent", nonce, id])
            let agent = try AgentNode(log: NodeAgentLog(parsing: log, nonce: nonce), snapshot: id)
            let report = try #require(try agent.snapshot?.get())
            let directory = host.appendingPathComponent("kpswitch/snapshots/\(id)")
            let mode = { (url: URL) in (try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? NSNumber)?.intValue }
            #expect(try mode(directory) == 0o700)
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            #expect(names == report.files.map(\.name).sorted())
            #expect(names == ["ipset.rules", "iptables-legacy-v4.rules", "iptables-nft-v4.rules", "iptables-nft-v6.rules", "nftables.rules", "sysctl.json"])
            for file in report.files {
                let data = try Data(contentsOf: directory.appendingPathComponent(file.name))
                #expect(file.size == data.count && file.lines == data.count { $0 == UInt8(ascii: "\n") }, "\(file)")
                #expect(try mode(directory.appendingPathComponent(file.name)) == 0o600, "\(file.name)")
            }
            let text = { (name: String) in String(decoding: try Data(contentsOf: directory.appendingPathComponent(name)), as: UTF8.self) }
            for (file, program) in [("iptables-nft-v4.rules", "iptables-nft-save"), ("iptables-nft-v6.rules", "ip6tables-nft-save"), ("iptables-legacy-v4.rules", "iptables-legacy-save")] {
                let saved = try text(file)
                #expect(Self.withoutTimestamps(saved) == Self.withoutTimestamps(try await ns.run([program])), "\(file)")
                let rules = saved.split(separator: "\n").count { $0.hasPrefix("-A ") }
                #expect(rules > 0 && report.files.first { $0.name == file }?.rules == rules, "\(file)")
            }
            #expect(try text("ipset.rules") == (try await ns.run(["ipset", "save"])))
            #expect(try text("nftables.rules") == (try await ns.run(["nft", "list", "table", "ip", "kube-proxy"])))
            let sysctls = try JSONSerialization.jsonObject(with: try Data(contentsOf: directory.appendingPathComponent("sysctl.json"))) as? [String: Any]
            #expect(Set(sysctls?.keys.map { $0 } ?? []) == Set(Sysctls.kubeProxyKeys))
            #expect(report.skipped.map(\.name).contains("iptables-legacy-v6.rules"))
            #expect(report.skipped.first { $0.name == "kube-ipvs0.json" }?.reason == "kube-proxy's image has no ip to read kube-ipvs0's addresses")
            // What comes back is names and counts: no rule of the bundle is in the log's snapshot section.
            #expect(!(agent.log.sections["snapshot"]?.text.contains("-A ") ?? true))
        }
    }
}
