import Foundation
@testable import KubeSim
import Testing

/// `kpswitch cleanup --mode MODE --nodes ...` against kube-sim, whose kubelets run the agent pods' script for
/// real: the running mode is refused, each named node gets its own report, a node that cannot run agents is
/// listed as not cleaned with the command for it, and no agent pod is left behind.
@Suite("cleanup through agent pods", .serialized)
struct NodeCleanupTests {
    static func agentPods(_ cluster: MigrateTests.Cluster) throws -> [String] {
        try NodeAgentPreflightTests.Untouched(cluster).agentPods
    }

    @Test("cleanup --mode ipvs --nodes all on a cluster running ipvs is refused (exit 2), naming why; no pod is made")
    func runningModeRefused() async throws {
        let cluster = try await MigrateTests.Cluster.start(try MigrateTests.eks())
        let (result, json) = try cluster.kpswitch(["cleanup", "--mode", "ipvs", "--nodes", "all"])
        let text = try KPSwitchBinary.run(["cleanup", "--mode", "ipvs", "--nodes", "all", "--kubeconfig", cluster.kubeconfig])
        let created = cluster.sim.requestCounts["create pods"] ?? 0
        try await cluster.stop()

        #expect(result.status == 2, "\(result.stdout) \(result.stderr)")
        #expect(json["kind"] as? String == "Failure")
        #expect((json["message"] as? String)?.hasPrefix("kube-proxy runs in ipvs mode in this cluster; cleaning up ipvs would remove") == true, "\(json)")
        #expect((json["remediation"] as? String)?.contains("kpswitch cleanup --mode iptables --nodes") == true, "\(json)")
        #expect(text.status == 2 && text.stderr.contains("kube-proxy runs in ipvs mode"), "\(text.stderr)")
        #expect(created == 0, "\(cluster.sim.requestCounts)")
    }

    @Test("cleanup --mode ipvs --nodes worker-1,worker-2 reports each of them, beside the iptables mode the cluster runs; no pod is left")
    func namedNodes() async throws {
        let cluster = try await MigrateTests.Cluster.start(try MigrateTests.kubeadm())
        let (result, json) = try cluster.kpswitch(["cleanup", "--mode", "ipvs", "--nodes", "worker-1,worker-2"])
        let text = try KPSwitchBinary.run(["cleanup", "--mode", "ipvs", "--nodes", "worker-1,worker-2", "--dry-run", "--kubeconfig", cluster.kubeconfig])
        let left = try Self.agentPods(cluster)
        let created = cluster.sim.requestCounts["create pods"] ?? 0
        try await cluster.stop()

        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(json["kind"] as? String == "NodeCleanup")
        #expect(json["mode"] as? String == "ipvs" && json["runningMode"] as? String == "iptables" && json["dryRun"] as? Bool == false)
        let nodes = json["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.map { $0["node"] as? String } == ["worker-1", "worker-2"], "\(json)")
        #expect(nodes.allSatisfy { $0["cleaned"] as? Bool == true && ($0["cleanup"] as? [String: Any])?["mode"] as? String == "ipvs" }, "\(json)")
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.hasPrefix("dry run, ipvs cleanup: 2 of 2 nodes checked; kube-proxy runs in iptables mode, whose state stays\n"), "\(text.stdout)")
        #expect(text.stdout.contains("  checked worker-1: no ipvs leftovers found\n"), "\(text.stdout)")
        #expect(created == 4, "one agent pod per node and run: \(cluster.sim.requestCounts)")
        #expect(left.isEmpty, "left: \(left)")
    }

    @Test("a node that never starts agents is not cleaned, named with the command, and the exit is 1; no pod is left")
    func nodeSkipped() async throws {
        var scenario = try MigrateTests.kubeadm()
        var never = Scenario.NodeGroup(namePrefix: "never", count: 1, ipvs: .loaded)
        never.startsAgents = false
        scenario.nodeGroups.append(never)
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let (result, json) = try cluster.kpswitch(["cleanup", "--mode", "nftables", "--nodes", "all", "--node-timeout", "3s"])
        let text = try KPSwitchBinary.run(
            ["cleanup", "--mode", "nftables", "--nodes", "worker-1,never-1", "--node-timeout", "3s", "--kubeconfig", cluster.kubeconfig])
        let left = try Self.agentPods(cluster)
        try await cluster.stop()

        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        let nodes = json["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.count == 6, "\(json)")
        let notCleaned = nodes.filter { $0["cleaned"] as? Bool == false }
        #expect(notCleaned.map { $0["node"] as? String } == ["never-1"], "\(json)")
        #expect((notCleaned.first?["reason"] as? String)?.hasPrefix("its agent could not run: the agent pod did not finish within 3s") == true)
        #expect(notCleaned.first?["command"] as? String == "kpswitch cleanup --mode nftables --running-mode iptables")
        #expect(text.status == 1)
        #expect(text.stdout.contains("  not cleaned never-1: its agent could not run"), "\(text.stdout)")
        #expect(text.stdout.contains("    run as root on never-1: kpswitch cleanup --mode nftables --running-mode iptables\n"), "\(text.stdout)")
        #expect(text.stdout.contains("  cleaned worker-1: no nftables leftovers found"), "\(text.stdout)")
        #expect(left.isEmpty, "left: \(left)")
    }

    @Test("migrate --cleanup node from iptables to ipvs cleans every node through agents as its recorded last step; no pod is left")
    func migrateCleansNodes() async throws {
        let cluster = try await MigrateTests.Cluster.start(try MigrateTests.kubeadm(workersIPVS: .loaded))
        let (plan, planJSON) = try cluster.kpswitch(["migrate", "--to", "ipvs", "--cleanup", "node", "--dry-run"])
        let (result, json) = try cluster.kpswitch(["migrate", "--to", "ipvs", "--cleanup", "node", "--yes"])
        let (_, status) = try cluster.kpswitch(["status"])
        let left = try Self.agentPods(cluster)
        // What each netfilter node holds now: no iptables-mode chain (ipvs mode does not remove them itself), and
        // the ipvs proxier's ipsets (the node did program ipvs).
        var chains: [String: String] = [:]
        for node in ["control-plane", "worker-1", "worker-2", "worker-3", "worker-4"] {
            let namespace = try #require(cluster.sim.cluster.kubelet.profile(node: node)?.networkNamespace, "\(node)")
            let (_, rules) = NodeNetworks.run(["iptables-save"], in: namespace)
            let (_, sets) = NodeNetworks.run(["ipset", "list", "-n"], in: namespace)
            chains[node] = rules.split(separator: "\n").filter { $0.hasPrefix(":KUBE-SVC-") || $0.hasPrefix(":KUBE-SEP-") }.joined(separator: " ")
                + (sets.contains("KUBE-CLUSTER-IP") ? "" : " no KUBE-CLUSTER-IP ipset")
        }
        try await cluster.stop()

        #expect(chains.values.allSatisfy { $0.isEmpty }, "\(chains)")
        #expect(chains.count == 5)
        #expect(plan.status == 0, "\(plan.stderr)")
        let steps = planJSON["steps"] as? [String] ?? []
        #expect(Array(steps.suffix(2)) == ["removing iptables leftovers from every node through agent pods", "releasing the kpswitch lock"], "\(steps)")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(json["outcome"] as? String == "migrated", "\(json)")
        #expect(json["nextSteps"] as? [String] == [], "\(json)")
        #expect(result.stderr.contains("node cleanup: 5 of 5 nodes cleaned of iptables leftovers"), "\(result.stderr)")
        let events = (status["history"] as? [[String: Any]] ?? []).compactMap { $0["event"] as? String }
        #expect(events.contains("completed: removing iptables leftovers from every node through agent pods"), "\(events)")
        #expect(left.isEmpty, "left: \(left)")
    }

    @Test("migrate --cleanup node with a node that never starts agents: every node migrated, that one named with its command, exit 1")
    func migrateLeavesNodeNamed() async throws {
        var scenario = try MigrateTests.kubeadm(workersIPVS: .loaded)
        var never = Scenario.NodeGroup(namePrefix: "never", count: 1, ipvs: .loaded)
        never.startsAgents = false
        scenario.nodeGroups.append(never)
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let (result, json) = try cluster.kpswitch([
            "migrate", "--to", "ipvs", "--cleanup", "node", "--yes", "--node-timeout", "4s",
            "--ignore-preflight-errors", "IPVSKernelSupport,NodeSnapshot",
        ])
        let (_, status) = try cluster.kpswitch(["status"])
        let left = try Self.agentPods(cluster)
        try await cluster.stop()

        #expect(result.status == 1, "\(result.stderr)")
        #expect(json["outcome"] as? String == "migratedWithLeftovers", "\(json)")
        let reason = json["reason"] as? String ?? ""
        #expect(reason.hasPrefix("1 of 6 nodes: never-1 could not be cleaned (never-1: its agent could not run: the agent pod did not finish within 4s"), "\(reason)")
        #expect(reason.contains("; run as root on it: kpswitch cleanup --mode iptables --running-mode ipvs)"), "\(reason)")
        #expect((json["nextSteps"] as? [String] ?? []).first?.hasPrefix("Clean the nodes named above: as root on each, kpswitch cleanup --mode iptables --running-mode ipvs") == true, "\(json)")
        #expect(result.stderr.contains("node cleanup: 5 of 6 nodes cleaned of iptables leftovers"), "\(result.stderr)")
        #expect((status["nodes"] as? [[String: Any]] ?? []).allSatisfy { $0["observedMode"] as? String == "ipvs" }, "\(status)")
        #expect(left.isEmpty, "left: \(left)")
    }
}
