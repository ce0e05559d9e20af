import Foundation
import Testing
import VMHarness

@testable import KPSwitch

/// The agent's ipvs cleanup script run with dash on a real IPVS table, beside `kpswitch cleanup --mode ipvs`
/// at the same state of the same boot (NodeSnapshotVMTests' boot, after its restore): the agent must find
/// what the local cleanup finds, refuse a node whose image lacks ipvsadm and ip, and with them remove
/// kube-proxy's virtual servers and kube-ipvs0 while keeping foreign ones.
@Suite("node agent cleanup on a real IPVS table", .enabled(if: VMGuest.isEnabled, "KPSWITCH_SKIP_VM=1 runs host tests only"))
struct NodeAgentCleanupVMTests {
    static let nonce = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    static let program = NodeAgentCleanupScript.program(LeftoverRemoval.footprint(of: .ipvs), dryRun: false)

    static let files = [VMFile.text(program.script, at: "/vm/cleanup.sh")]

    /// Runs after the local `cleanup --dry-run`; leaves the node as the restore left it for the local cleanup.
    static let script = #"""
        agent_cleanup() { "$@" /usr/bin/dash -c "$(cat /vm/cleanup.sh)" kpswitch-agent \#(nonce) "$AGENT_MODE"; }
        AGENT_MODE=dry-run
        vm_check agent-cleanup-dry-run agent_cleanup env
        state after-agent-dry-run
        # kube-proxy's image: the iptables tools, ipset and nft, but no ipvsadm and no ip.
        mkdir -p /vm/image-bin
        # busybox sh names its own applets for `command -v`: link busybox itself.
        for tool in cat grep wc rm; do ln -s /usr/bin/busybox /vm/image-bin/$tool; done
        for tool in /usr/sbin/ipset /usr/sbin/nft /usr/sbin/iptables* /usr/sbin/ip6tables*; do ln -s "$tool" /vm/image-bin/; done
        AGENT_MODE=apply
        vm_check agent-cleanup-refused agent_cleanup env PATH=/vm/image-bin
        state after-agent-refused
        vm_check agent-cleanup agent_cleanup env
        state agent-cleaned
        ip -o link show > "$RESULTS/agent-cleaned.links"
        kube_ipvs0
        vm_check restore-again kpswitch restore "$B" -o json
        state restored-again
        """#

    static func cleanup(_ name: String) async throws -> AgentCleanup {
        let run = try await NodeSnapshotVMTests.run.value.requireSuccess()
        let check = try #require(run.check(name), "no \(name) in the guest's results")
        #expect(check.status == 0, "\(check)")
        return try AgentCleanup(log: NodeAgentLog(parsing: check.output, nonce: nonce, program: program))
    }

    static func state(_ name: String) async throws -> [String] {
        var parts: [String] = []
        for part in ["ipvs", "iptables", "ipset"] { parts.append(try await NodeSnapshotVMTests.result("\(name).\(part)")) }
        return parts
    }

    @Test("the agent's dry run finds what kpswitch cleanup --mode ipvs --dry-run finds, and changes nothing")
    func samePlan() async throws {
        let agent = try await Self.cleanup("agent-cleanup-dry-run")
        let local = try await NodeSnapshotVMTests.json("cleanup-dry-run")
        #expect(agent.refusal == nil && agent.failure == nil)
        #expect(Set(agent.ipvsServices) == Set(local["ipvsServices"] as? [String] ?? ["none"]))
        #expect(Set(agent.keptIPVSServices) == Set(local["keptIPVSServices"] as? [String] ?? ["none"]))
        #expect(agent.ipvsServices.count == 4 && agent.keptIPVSServices.count == 3)
        #expect(agent.plan.links == local["links"] as? [String])
        #expect(agent.plan.ipsets == local["ipsets"] as? [String])
        let chains = agent.plan.iptables.flatMap { item in item.removal.chains.map { "\(item.variant.program) \($0.table) \($0.name)" } }
        let localChains = (local["chains"] as? [[String: Any]] ?? []).map { "\($0["store"] ?? "") \($0["table"] ?? "") \($0["chain"] ?? "")" }
        #expect(chains == localChains)
        #expect(!chains.isEmpty)
        #expect(try await Self.state("after-agent-dry-run") == Self.state("restored"), "the agent's dry run changed the node")
    }

    @Test("with kube-proxy's image alone (no ipvsadm, no ip) the node is refused, named with the command, and nothing changes")
    func refused() async throws {
        let agent = try await Self.cleanup("agent-cleanup-refused")
        #expect(agent.refusal == "kube-ipvs0 is on this node and the agent's image has no ip and ipvsadm to remove it and kube-proxy's IPVS virtual servers")
        #expect(agent.plan.isEmpty && agent.ipvsServices.isEmpty)
        #expect(try await Self.state("after-agent-refused") == Self.state("restored"), "a refused agent changed the node")
        let node = NodeCleanupReport.Node(
            node: "worker-7", agent: .success(agent), mode: .ipvs, command: NodeCleanups.command(mode: .ipvs, running: .iptables), dryRun: false)
        #expect(!node.cleaned)
        #expect(node.command == "kpswitch cleanup --mode ipvs --running-mode iptables")
        #expect(node.alternative == "or rerun with --node-image IMAGE, an image that has ipvsadm and ip")
        let text = NodeCleanupReport(mode: .ipvs, runningMode: .iptables, dryRun: false, nodes: [node])
        #expect(text.notCleaned.map(\.node) == ["worker-7"])
    }

    @Test("with ipvsadm and ip the agent removes kube-proxy's virtual servers, kube-ipvs0, its ipset and chains, and keeps foreign ones")
    func cleaned() async throws {
        let agent = try await Self.cleanup("agent-cleanup")
        #expect(agent.refusal == nil && agent.failure == nil)
        #expect(Set(agent.ipvsServices) == ["TCP 10.96.0.1:443", "TCP 192.168.50.2:30080", "UDP 10.96.0.10:53", "TCP [fd00:10:96::1]:80"])
        #expect(NodeSnapshotVMTests.lines(try await NodeSnapshotVMTests.result("agent-cleaned.ipvs")) == Set(NodeSnapshotVMTests.foreignLines))
        #expect(!(try await NodeSnapshotVMTests.result("agent-cleaned.links")).contains("kube-ipvs0"))
        let ipset = try await NodeSnapshotVMTests.result("agent-cleaned.ipset")
        #expect(ipset.hasPrefix("create my-allowlist ") && !ipset.contains("KUBE-"))
        let iptables = try await NodeSnapshotVMTests.result("agent-cleaned.iptables")
        #expect(!iptables.contains("KUBE-"))
        #expect(iptables.contains("-A MY-FIREWALL -m set --match-set my-allowlist src -j ACCEPT"))
        // The local cleanup that follows starts from the same state again.
        #expect(try await Self.state("restored-again") == Self.state("restored"))
    }
}
