import Foundation
import Testing
@testable import KubeSim

/// Issue #11: a flaky API server does not stop a migration; a dry run changes nothing; without a terminal kpswitch
/// asks for --yes instead of acting; an unfinished migration blocks a new one.
@Suite("safety", .timeLimit(.minutes(5)))
struct SafetyTests {
    @Test("5% of requests fail with 429 or 500: the migration completes", arguments: Strategy.allCases)
    func flakyServer(strategy: Strategy) async throws {
        let shape = ClusterShape.kubeadm
        let faults = Scenario.Faults(errors: [
            Scenario.ErrorFault(verbs: ["*"], resources: ["*"], code: 429, rate: 0.025),
            Scenario.ErrorFault(verbs: ["*"], resources: ["*"], code: 500, rate: 0.025),
        ])
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", workers: 3, faults: faults)) { cluster in
            let before = try cluster.kubeProxyObjects()
            let result = try await cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--timeout", "3m"] + strategy.arguments)
            try #require(result.status == 0, "\(result)")
            // The checks below go through the same flaky server (kpswitch status), so they prove it reads through it too.
            try await cluster.expectMigrated(to: "nftables", from: before, allowRestart: strategy == .rolling)
        }
    }

    @Test("--dry-run changes nothing, not even a resourceVersion", arguments: ["text", "json"])
    func dryRun(output: String) async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables")) { cluster in
            let version = try await cluster.settledResourceVersion()
            let writes = cluster.writeRequestCount
            let before = try cluster.kubeProxyObjects()
            let result = try await cluster.kpswitch(["migrate", "--to", "ipvs", "--dry-run", "-o", output])
            #expect(result.status == 0, "\(result)")
            #expect(cluster.writeRequestCount == writes, "\(cluster.sim.requestCounts)")
            #expect(cluster.store.currentResourceVersion == version, "something in the cluster changed")
            let after = try cluster.kubeProxyObjects()
            #expect(after.configMap == before.configMap && after.daemonSet == before.daemonSet)
            #expect(cluster.lease == nil && cluster.state == nil && cluster.stagedConfigMaps == [])
            if output == "json" {
                let plan = try result.json()
                #expect(plan["kind"] as? String == "MigrationPlan")
                #expect(plan["from"] as? String == "iptables" && plan["to"] as? String == "ipvs")
                let batches = plan["batches"] as? [[String]] ?? []
                #expect(batches.flatMap { $0 }.sorted() == cluster.nodeNames.sorted(), "\(batches)")
                #expect((plan["configDiff"] as? String)?.contains("mode") == true, "\(result.stdout)")
            } else {
                #expect(result.stdout.contains("ipvs"), "\(result)")
            }
        }
    }

    @Test("no --yes and no terminal: exit 2 asking for --yes, nothing changed", arguments: [
        ["migrate", "--to", "nftables"], ["rollback"],
    ])
    func confirmationRequired(arguments: [String]) async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables")) { cluster in
            let version = try await cluster.settledResourceVersion()
            let writes = cluster.writeRequestCount
            let result = try await cluster.kpswitch(arguments)
            #expect(result.status == 2, "\(result)")
            #expect(result.stderr.contains("--yes"), "\(result)")
            #expect(cluster.writeRequestCount == writes && cluster.store.currentResourceVersion == version)
        }
    }

    @Test("an unfinished migration: a new one refuses, offering --resume and rollback, and changes nothing")
    func unfinished() async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", workers: 1)) { cluster in
            let killed = try await KillRecoveryTests.migrateAndKill(cluster, after: 4, strategy: .canary)
            try #require(killed.signalled, "\(killed)")
            try await Task.sleep(for: .milliseconds(500))
            let before = try cluster.kubeProxyObjects()
            let state = cluster.state
            for target in ["nftables", "ipvs"] {
                let result = try await cluster.kpswitch(["migrate", "--to", target, "--yes"])
                #expect(result.status == 1, "\(result)")
                let message = result.stdout + result.stderr
                #expect(message.contains("unfinished migration") && message.contains("--resume") && message.contains("rollback"),
                        "\(result)")
            }
            let after = try cluster.kubeProxyObjects()
            #expect(after.configMap == before.configMap)
            #expect(ObjectComparison.userOwned(after.daemonSet) == ObjectComparison.userOwned(before.daemonSet))
            #expect(cluster.state?["record"] == state?["record"], "the record was changed by a refused run")
        }
    }
}
