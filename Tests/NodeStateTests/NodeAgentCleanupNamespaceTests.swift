import Foundation
import NodeState
import Testing

@testable import KPSwitch
@testable import kube_proxy_ruleset

/// The agent's cleanup script run for real with dash in throwaway namespaces, beside the local planner
/// (`NodeNetfilter.planCleanup`) on the same rules: one footprint, two transports, the same removal.
@Suite("node agent cleanup script in a network namespace", .serialized,
       .enabled(if: TestNamespace.unavailable == nil, "\(TestNamespace.unavailable ?? "")"))
struct NodeAgentCleanupNamespaceTests {
    static func nonce() -> String { String(UInt64.random(in: 0...UInt64.max), radix: 36) }

    /// The ipvs mode's chains and sets beside a node's old iptables-mode rules: what a node looks like after
    /// `migrate --to ipvs` (kube-proxy in ipvs mode rewrites the chains it shares with iptables mode).
    static let ipvsRules = """
        *nat
        :KUBE-SERVICES - [0:0]
        :KUBE-POSTROUTING - [0:0]
        :KUBE-MARK-MASQ - [0:0]
        :KUBE-NODE-PORT - [0:0]
        :KUBE-LOAD-BALANCER - [0:0]
        -A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ
        -A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT
        -A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT
        -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
        -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
        -A KUBE-POSTROUTING -j MASQUERADE --random-fully
        -A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :KUBE-FORWARD - [0:0]
        :KUBE-PROXY-FIREWALL - [0:0]
        :KUBE-IPVS-FILTER - [0:0]
        :KUBE-NODE-PORT - [0:0]
        :MY-FIREWALL - [0:0]
        -A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER
        -A INPUT -p tcp -m tcp --dport 22 -j MY-FIREWALL
        -A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
        -A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT
        -A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN
        -A MY-FIREWALL -s 192.0.2.0/24 -j ACCEPT
        COMMIT

        """

    /// Old iptables-mode rules in all four stores (generated as kube-proxy writes them), ipvs mode's over
    /// them in iptables-nft IPv4, its ipset and kube-ipvs0, and an nft table.
    func populate(_ ns: TestNamespace) async throws {
        try await ns.run(["iptables-nft-restore"], input: KubeProxyRuleset.generate(services: 30).text)
        // Its filter chains too: KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS are iptables mode's only.
        try await ns.run(["iptables-nft-restore", "--noflush"], input: """
            *filter
            :KUBE-SERVICES - [0:0]
            :KUBE-EXTERNAL-SERVICES - [0:0]
            :KUBE-NODEPORTS - [0:0]
            :KUBE-PROXY-CANARY - [0:0]
            -A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
            -A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
            -A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
            COMMIT

            """)
        try await ns.run(["ipset", "create", "KUBE-CLUSTER-IP", "hash:ip,port"])
        try await ns.run(["iptables-nft-restore", "--noflush"], input: Self.ipvsRules)
        try await ns.run(["ip6tables-nft-restore"], input: KubeProxyRuleset.generate(services: 8, ipv6: true).text)
        try await ns.run(["iptables-legacy-restore"], input: try Fixture.text("iptables-save-kube-proxy-nat"))
        try await ns.run(["nft", "add", "table", "ip", "kube-proxy"])
        try await ns.run(["nft", "add", "table", "inet", "my-table"])
        // No dummy driver in every kernel; a bridge is a link like any other here.
        try await ns.run(["ip", "link", "add", "kube-ipvs0", "type", "bridge"])
    }

    func cleanupLog(_ ns: TestNamespace, _ footprint: KubeProxyFootprint, dryRun: Bool, path: String? = nil) async throws -> AgentCleanup {
        let nonce = Self.nonce()
        let program = NodeAgentCleanupScript.program(footprint, dryRun: dryRun)
        let environment = path.map { ["env", "PATH=\($0)"] } ?? []
        let text = try await ns.run(environment + ["/usr/bin/dash", "-c", program.script, "kpswitch-agent", nonce] + program.arguments)
        return try AgentCleanup(log: NodeAgentLog(parsing: text, nonce: nonce, program: program))
    }

    func state(_ ns: TestNamespace) async throws -> [String] {
        var state: [String] = []
        for variant in IPTablesVariant.all { state.append(try await ns.iptablesSave(variant)) }
        state.append(try await ns.run(["ipset", "list", "-n"]))
        state.append(try await ns.run(["nft", "list", "tables"]))
        state.append(try await ns.run(["ip", "-o", "link", "show"]).contains("kube-ipvs0") ? "kube-ipvs0" : "")
        return state
    }

    /// The agent's dry run for each (mode, running mode) finds exactly what the local planner finds, and
    /// prints per store the restore input `IPTablesCleanup.restoreScript` would.
    @Test("the agent's plan equals the local plan for every mode, alone and beside each running mode, and a dry run changes nothing")
    func samePlan() async throws {
        try await TestNamespace.with { ns in
            try await populate(ns)
            let before = try await state(ns)
            let local = NodeNetfilter(runner: ns.runner)
            var compared = 0
            for mode in ProxyMode.allCases {
                for running in [nil] + ProxyMode.allCases where running != mode {
                    let footprint = LeftoverRemoval.footprint(of: mode, alongside: running)
                    let byLocal = try await local.planCleanup(of: footprint)
                    let byAgent = try await cleanupLog(ns, footprint, dryRun: true)
                    let label = "\(mode) beside \(running.map(\.rawValue) ?? "nothing")"
                    #expect(byAgent.refusal == nil && byAgent.failure == nil, "\(label)")
                    #expect(byAgent.plan.iptables.map(\.variant) == byLocal.iptables.map(\.variant), "\(label)")
                    for (agent, local) in zip(byAgent.plan.iptables, byLocal.iptables) {
                        #expect(agent.removal == local.removal, "\(label), \(agent.variant)")
                        #expect(agent.removal.restoreScript == local.removal.restoreScript, "\(label), \(agent.variant)")
                    }
                    #expect(byAgent.plan.ipsets == byLocal.ipsets, "\(label)")
                    #expect(byAgent.plan.nftTables == byLocal.nftTables, "\(label)")
                    #expect(byAgent.plan.links == byLocal.links, "\(label)")
                    compared += byLocal.iptables.count
                }
            }
            #expect(compared >= 12, "only \(compared) stores had something to remove")
            #expect(try await state(ns) == before)
        }
    }

    @Test("iptables cleanup beside ipvs removes every KUBE-SVC-/KUBE-SEP- chain and keeps ipvs mode's chains, sets, link and others' rules")
    func iptablesBesideIPVS() async throws {
        try await TestNamespace.with { ns in
            try await populate(ns)
            let footprint = LeftoverRemoval.footprint(of: .iptables, alongside: .ipvs)
            let planned = try await NodeNetfilter(runner: ns.runner).planCleanup(of: footprint)
            let done = try await cleanupLog(ns, footprint, dryRun: false)
            #expect(done.failure == nil && done.refusal == nil)
            #expect(done.plan.iptables.map(\.removal) == planned.iptables.map(\.removal))
            #expect(done.plan.iptables.map(\.variant.program) == ["iptables-nft", "ip6tables-nft", "iptables-legacy"])

            for variant in IPTablesVariant.all {
                let save = try await ns.iptablesSave(variant)
                #expect(!save.contains("KUBE-SVC-") && !save.contains("KUBE-SEP-"), "\(variant) keeps a KUBE-SVC-/KUBE-SEP- chain")
                #expect(!save.contains(":KUBE-NODEPORTS") && !save.contains(":KUBE-EXTERNAL-SERVICES"), "\(variant)")
            }
            let nat = try await ns.run(["iptables-nft-save", "-t", "nat"])
            for chain in ["KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-MARK-MASQ", "KUBE-NODE-PORT", "KUBE-LOAD-BALANCER"] {
                #expect(nat.contains(":\(chain) "), "ipvs mode's nat \(chain) was removed")
            }
            #expect(nat.contains("-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT"))
            #expect(nat.contains("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"))
            #expect(nat.contains("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"))
            let filter = try await ns.run(["iptables-nft-save", "-t", "filter"])
            for chain in ["KUBE-FORWARD", "KUBE-PROXY-FIREWALL", "KUBE-IPVS-FILTER", "KUBE-NODE-PORT", "MY-FIREWALL"] {
                #expect(filter.contains(":\(chain) "), "filter \(chain) was removed")
            }
            #expect(!filter.contains(":KUBE-SERVICES "))
            #expect(filter.contains("-A INPUT -p tcp -m tcp --dport 22 -j MY-FIREWALL"))
            #expect(filter.contains("-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD"))
            #expect(try await ns.run(["ipset", "list", "-n"]) == "KUBE-CLUSTER-IP\n")
            #expect(try await ns.run(["ip", "-o", "link", "show"]).contains("kube-ipvs0"))

            let again = try await cleanupLog(ns, footprint, dryRun: false)
            #expect(again.plan.isEmpty, "a second cleanup still found \(again.plan.iptables.map(\.removal.restoreScript))")
        }
    }

    @Test("ipvs cleanup without ip in the image is refused on a node holding kube-ipvs0, changing nothing; with it, kube-ipvs0 goes")
    func ipvsNeedsIP() async throws {
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent("kpsw-cleanup-bin-\(Self.nonce())")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: bin) }
        let image = ["cat", "grep", "wc", "rm", "ipset", "nft"] + IPTablesVariant.all.flatMap { [$0.saveProgram, $0.restoreProgram] }
        for tool in image {
            let target = try #require(CommandRunner().locate(tool), "\(tool) is not installed")
            try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent(tool).path, withDestinationPath: target)
        }
        try await TestNamespace.with { ns in
            try await populate(ns)
            // kube-proxy in iptables mode has rewritten the KUBE-SERVICES it shares with ipvs: no rule there
            // matches ipvs mode's sets any more (one that did would keep the set in use).
            try await ns.run(["iptables-nft", "-t", "nat", "-D", "KUBE-SERVICES", "-m", "set", "--match-set", "KUBE-CLUSTER-IP", "dst,dst", "-j", "ACCEPT"])
            try await ns.run([
                "iptables-nft", "-t", "nat", "-D", "KUBE-SERVICES", "-m", "comment", "--comment",
                "Kubernetes service cluster ip + port for masquerade purpose", "-m", "set", "--match-set", "KUBE-CLUSTER-IP", "src,dst",
                "-j", "KUBE-MARK-MASQ",
            ])
            let footprint = LeftoverRemoval.footprint(of: .ipvs, alongside: .iptables)
            let before = try await state(ns)
            let refused = try await cleanupLog(ns, footprint, dryRun: false, path: bin.path)
            #expect(refused.refusal?.hasPrefix("kube-ipvs0 is on this node and the agent's image has no ip") == true, "\(refused.refusal ?? "not refused")")
            #expect(refused.plan.isEmpty)
            #expect(try await state(ns) == before)

            let done = try await cleanupLog(ns, footprint, dryRun: false)
            #expect(done.refusal == nil && done.failure == nil)
            #expect(done.plan.links == ["kube-ipvs0"])
            #expect(done.plan.ipsets == ["KUBE-CLUSTER-IP"])
            #expect(!(try await ns.run(["ip", "-o", "link", "show"]).contains("kube-ipvs0")))
            let nat = try await ns.run(["iptables-nft-save", "-t", "nat"])
            // iptables mode runs: its chains shared with ipvs stay, ipvs mode's own go.
            #expect(nat.contains(":KUBE-SERVICES ") && nat.contains(":KUBE-MARK-MASQ ") && nat.contains(":KUBE-SVC-"))
            #expect(!nat.contains(":KUBE-NODE-PORT ") && !nat.contains(":KUBE-LOAD-BALANCER "))
        }
    }

    @Test("a store whose restore fails is reported with the tool's own exit status and error, and the later steps are not attempted")
    func restoreFails() async throws {
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent("kpsw-cleanup-bin-\(Self.nonce())")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: bin) }
        let tools = ["cat", "grep", "wc", "rm", "ip", "ipset", "nft"] + IPTablesVariant.all.flatMap { [$0.saveProgram, $0.restoreProgram] }
        for tool in tools where tool != "iptables-nft-restore" {
            let target = try #require(CommandRunner().locate(tool), "\(tool) is not installed")
            try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent(tool).path, withDestinationPath: target)
        }
        // The one tool that fails, as iptables-restore does on a rule it cannot apply (exit 4 is its RESOURCE_PROBLEM).
        let failing = bin.appendingPathComponent("iptables-nft-restore")
        try "#!/bin/sh\ncat > /dev/null\necho 'iptables-nft-restore: line 3 failed' >&2\nexit 4\n".write(to: failing, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: failing.path)
        try await TestNamespace.with { ns in
            try await populate(ns)
            let before = try await state(ns)
            let result = try await cleanupLog(ns, LeftoverRemoval.footprint(of: .iptables, alongside: .nftables), dryRun: false, path: bin.path)
            #expect(result.failure?.contains("failed with exit status 4: iptables-nft-restore: line 3 failed") == true, "\(result.failure ?? "no failure")")
            // The failing store was iptables-nft IPv4; nothing after it ran, so every store is as it was.
            #expect(try await state(ns) == before)
        }
    }

    @Test("as root on the node, cleanup --mode iptables --running-mode ipvs removes what the agent would, and the same mode twice is a usage error")
    func localBesideIPVS() async throws {
        try await TestNamespace.with { ns in
            try await populate(ns)
            let footprint = LeftoverRemoval.footprint(of: .iptables, alongside: .ipvs)
            let agent = try await cleanupLog(ns, footprint, dryRun: true)
            let result = try await ns.kpswitch(["cleanup", "--mode", "iptables", "--running-mode", "ipvs", "-o", "json"])
            #expect(result.succeeded, "\(result.stderrText)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdoutText.utf8)) as? [String: Any])
            let chains = (json["chains"] as? [[String: Any]] ?? []).map { "\($0["store"] ?? "") \($0["table"] ?? "") \($0["chain"] ?? "")" }
            let agentChains = agent.plan.iptables.flatMap { item in item.removal.chains.map { "\(item.variant.program) \($0.table) \($0.name)" } }
            #expect(chains == agentChains && chains.count > 60, "\(chains.count) chains locally, \(agentChains.count) by the agent")
            let nat = try await ns.run(["iptables-nft-save", "-t", "nat"])
            #expect(nat.contains(":KUBE-SERVICES ") && nat.contains(":KUBE-NODE-PORT ") && !nat.contains(":KUBE-SVC-"))

            let same = try await ns.kpswitch(["cleanup", "--mode", "ipvs", "--running-mode", "ipvs"])
            #expect(same.status == .exited(2) && same.stderrText.contains("--running-mode ipvs is the mode being cleaned"), "\(same.stderrText)")
        }
    }
}
