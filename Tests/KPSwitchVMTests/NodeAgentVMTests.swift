import Foundation
import Testing
import VMHarness

@testable import KPSwitch

/// The node agent's script run with dash on Debian's kernel in the VM bed, beside `kpswitch preflight
/// --scope node` at the same moment of the same boot: the agent's log, parsed on the host, must make every
/// node check judge as the local transport judged. The script's runs ride NodePreflightVMTests' boot.
@Suite("node agent script on a real kernel with IPVS modules", .enabled(if: VMGuest.isEnabled, "KPSWITCH_SKIP_VM=1 runs host tests only"))
struct NodeAgentVMTests {
    static let nonce = String(UInt64.random(in: 0...UInt64.max), radix: 36)

    /// The guest lines that run the agent after the preflight named `point`, as a pod's `sh -c SCRIPT kpswitch-agent NONCE`
    /// would; kubelet keeps stdout and stderr in one log, and so does `vm_check`.
    static func run(after point: String, path: String? = nil) -> String {
        let environment = path.map { "env PATH=\($0) " } ?? ""
        return #"vm_check agent-\#(point) \#(environment)/usr/bin/dash -c "$(cat /vm/agent.sh)" kpswitch-agent \#(nonce)"#
    }

    static let files = [VMFile.text(NodeAgentScript.text, at: "/vm/agent.sh")]

    /// An image with only what the script cannot do without: no kmod, no iptables, no ipset, no nft.
    static let bareImage = """
        mkdir -p /vm/agent-bin
        for tool in cat grep wc rm; do ln -s /usr/bin/busybox /vm/agent-bin/$tool; done
        """

    static func agent(_ point: String) async throws -> AgentNode {
        let run = try await NodePreflightVMTests.run.value.requireSuccess()
        let check = try #require(run.check("agent-\(point)"), "no agent run after \(point)")
        #expect(check.status == 0, "the agent script failed after \(point): \(check.output)")
        return try AgentNode(log: NodeAgentLog(parsing: check.output, nonce: nonce))
    }

    /// The node checks for `target`, judged from the agent's facts, next to what preflight reported locally.
    static func compare(_ point: String, target: ProxyMode, scheduler: String = "rr", except: Set<String> = []) async throws {
        let agent = try await agent(point)
        let local = try await NodePreflightVMTests.report(point)
        var compared = 0
        for check in NodeChecks.checks(for: target, scheduler: scheduler, node: agent, ipvs: agent) where !except.contains(check.name.rawValue) {
            let byAgent = await check.run().map { "\($0.severity.rawValue): \($0.message)" }
            let byLocal = try #require(local.checks[check.name.rawValue], "preflight --to \(target) ran no \(check.name)")
            let findings = byLocal["findings"] as? [[String: Any]] ?? []
            let localFindings = findings.map { "\($0["severity"] as? String ?? "?"): \($0["message"] as? String ?? "")" }
            #expect(byAgent == localFindings, "\(check.name) after \(point)")
            compared += 1
        }
        #expect(compared >= 3, "only \(compared) checks compared after \(point)")
    }

    @Test("ip_vs loadable but not loaded: the agent's facts judge as the local ones, and the agent loads nothing")
    func loadable() async throws {
        try await Self.compare("loadable", target: .ipvs)
        let modules = try await Self.agent("loadable").kernelModules()
        #expect(modules.state(of: "ip_vs") == .loadable)
    }

    @Test("ip_vs loaded: the same judgement, IPVS read from /proc/net/ip_vs")
    func loaded() async throws {
        try await Self.compare("loaded", target: .ipvs)
        let agent = try await Self.agent("loaded")
        #expect(try agent.kernelModules().state(of: "ip_vs") == .loaded)
        #expect(try agent.version() == "1.2.1")
    }

    @Test("an absent scheduler module and a built-in one are reported as kmod reports them")
    func absentAndBuiltin() async throws {
        try await Self.compare("absent", target: .ipvs, scheduler: "sh")
        try await Self.compare("builtin", target: .ipvs, scheduler: "wrr")
        #expect(try await Self.agent("absent").kernelModules().state(of: "ip_vs_sh") == .absent)
        #expect(try await Self.agent("builtin").kernelModules().state(of: "ip_vs_wrr") == .builtin)
    }

    /// ForeignIPVSServices tells kube-proxy's virtual servers by kube-ipvs0's addresses, which the image's
    /// tools cannot list (no `ip`), so through an agent it is skipped for that reason; every other check agrees.
    @Test("foreign IPVS virtual servers: the agent sees every one the kernel holds")
    func foreign() async throws {
        try await Self.compare("foreign", target: .iptables, except: ["ForeignIPVSServices"])
        let agent = try await Self.agent("foreign")
        let keys = try agent.serviceKeys().map(\.description).sorted()
        #expect(keys == ["FWM 7", "TCP 10.96.0.1:443", "TCP 192.0.2.50:80"])
        let check = try #require(NodeChecks.checks(for: .iptables, scheduler: "rr", node: agent, ipvs: agent).first {
            $0.name == "ForeignIPVSServices"
        })
        #expect(await check.run().map(\.severity) == [.skipped])
    }

    @Test("a kube-proxy iptables ruleset and an nftables one: the same chains, tables and leftovers")
    func rulesets() async throws {
        try await Self.compare("rules", target: .nftables)
        let agent = try await Self.agent("rules")
        let nft = agent.iptablesChains().first { $0.backend == .nft && $0.family == .ipv4 }
        #expect(nft?.kubeProxyChains.contains("nat/KUBE-SERVICES") == true)
        let tables = try agent.nftablesTables()
        #expect(tables.contains("ip kube-proxy"), "\(tables)")
    }

    @Test("a tool missing from the image is a skipped section naming it, not a failure")
    func missingTools() async throws {
        let agent = try await Self.agent("bare")
        #expect(agent.log.reason("modprobe") == "modprobe is not installed in the agent's image")
        #expect(agent.log.reason("ipset") == "ipset is not installed in the agent's image")
        #expect(agent.log.reason("iptables-nft-ipv4") == "iptables-nft-save is not installed in the agent's image")
        #expect(agent.iptablesChains().isEmpty)
        let kernel = try #require(NodeChecks.checks(for: .ipvs, scheduler: "rr", node: agent, ipvs: agent).first {
            $0.name == "IPVSKernelSupport"
        })
        #expect(await kernel.run() == [.skipped("could not read the kernel's module lists: modprobe is not installed in the agent's image")])
    }
}
