import Foundation
import KPSwitch
import Testing
@testable import KubeSim

/// `migrate --cleanup node` records its node cleanup as a step like any other: killed with SIGKILL just before
/// it, a fresh `migrate --resume` runs it and finishes.
@Suite("migrate --cleanup node killed before its node cleanup", .timeLimit(.minutes(5)))
struct NodeCleanupKillTests {
    @Test("killed after the rollout, before cleaning the nodes; --resume cleans every node through agents and migrates, no agent pod left")
    func resumed() async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", workers: 1)) { cluster in
            let plan = MigrationPlan.rolling(from: .iptables, to: .ipvs, cleanup: .node)
            let k = try #require(plan.steps.firstIndex(of: .cleanNodes(mode: .iptables)))
            let target = Locked<KPSwitchProcess?>(nil)
            cluster.onStateWrite { data in
                guard data["completed"] == String(k), data["phase"] != "rollingBack" else { return }
                target.withLock { process in
                    process?.kill()
                    process = nil
                }
            }
            let process = try cluster.startKPSwitch(
                ["migrate", "--to", "ipvs", "--yes", "--timeout", "2m", "--cleanup", "node"] + Strategy.rolling.arguments)
            target.withLock { $0 = process }
            let killed = await process.wait()
            try #require(killed.signalled, "the record never showed completed == \(k): \(killed)")
            #expect(!(killed.stdout + killed.stderr).contains("node cleanup:"), "the cleanup began before the kill: \(killed)")

            // Meanwhile the nodes run either mode: a cleanup by hand is refused, and starts no pod.
            let refused = try await cluster.kpswitch(["cleanup", "--mode", "iptables", "--nodes", "all"])
            #expect(refused.status == 3, "\(refused)")
            #expect(refused.stderr.contains("a migration from iptables to ipvs is unfinished (migrating)"), "\(refused)")
            #expect(refused.stderr.contains("kpswitch migrate --resume"), "\(refused)")

            let resumed = try await cluster.kpswitch(["migrate", "--resume", "--yes", "--timeout", "2m"])
            #expect(resumed.status == 0, "\(resumed)")
            #expect((resumed.stdout + resumed.stderr).contains("node cleanup: 2 of 2 nodes cleaned of iptables leftovers"), "\(resumed)")
            #expect(cluster.state?["completed"] == String(plan.steps.count), "\(cluster.state ?? [:])")
            let agents = cluster.store.list(.pods, filter: ObjectFilter(namespace: "kube-system")).items.filter {
                $0.object[path: ["metadata", "labels", NodeAgentPod.managedByLabel]]?.stringValue == NodeAgentPod.managedBy
            }
            #expect(agents.isEmpty, "\(agents.count) agent pods left")
        }
    }
}
