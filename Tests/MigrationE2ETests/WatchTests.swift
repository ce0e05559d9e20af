import Foundation
import Testing
@testable import KubeSim

/// Issue #17: kpswitch waits on watches, not polls; a watch the server drops or expires mid-rollout is resumed
/// without missing a pod; and a finished migration leaves the DaemonSet controller nothing to roll.
@Suite("watching the rollout", .timeLimit(.minutes(5)))
struct WatchTests {
    @Test("watches cut every 300 ms and their history expired every 700 ms: the migration still sees every pod", arguments: Strategy.allCases)
    func droppedWatches(strategy: Strategy) async throws {
        let shape = ClusterShape.kubeadm
        var scenario = try shape.scenario(mode: "iptables", workers: 3, faults: Scenario.Faults(dropWatchesEvery: .milliseconds(300)))
        // Each pod takes longer to start than a watch connection lives: every phase waits across several cuts.
        scenario.podStartDelay = .seconds(1)
        try await TestCluster.with(shape, scenario) { cluster in
            let before = try cluster.kubeProxyObjects()
            // Every reconnection after a compaction is answered 410 Expired, and must re-list.
            let compactor = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(700))
                    cluster.sim.compactHistory()
                }
            }
            let result = try await cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--timeout", "3m"] + strategy.arguments)
            compactor.cancel()
            try #require(result.status == 0, "\(result)")
            let counts = cluster.sim.requestCounts
            // The faults were met: several connections per waiting step, and re-lists after 410 beyond the one
            // list per step (and the two of preflight and the plan, made once).
            #expect((counts["watch pods"] ?? 0) > 2 * Self.waitingSteps(strategy), "\(counts)")
            #expect((counts["list pods"] ?? 0) > Self.waitingSteps(strategy) + 2, "\(counts)")
            try await cluster.expectMigrated(to: "nftables", from: before, allowRestart: strategy == .rolling)
        }
    }

    @Test("no periodic lists: pods are listed once per waiting step (and by the planner), not on a timer", arguments: Strategy.allCases)
    func noPolling(strategy: Strategy) async throws {
        let shape = ClusterShape.kubeadm
        var scenario = try shape.scenario(mode: "iptables", workers: 3)
        // Slow pods: a poll would list many times while each one starts.
        scenario.podStartDelay = .seconds(1)
        try await TestCluster.with(shape, scenario) { cluster in
            let before = try cluster.kubeProxyObjects()
            // What planning reads: a dry run makes the same plan and stops.
            cluster.sim.resetRequestCounts()
            let dryRun = try await cluster.kpswitch(["migrate", "--to", "nftables", "--dry-run"] + strategy.arguments)
            try #require(dryRun.status == 0, "\(dryRun)")
            let planning = cluster.sim.requestCounts
            // What the back-up step's node snapshot costs: the same agents as snapshot --scope nodes, one per node.
            cluster.sim.resetRequestCounts()
            let snapshot = try await cluster.kpswitch(["snapshot", "--scope", "nodes"])
            try #require(snapshot.status == 0, "\(snapshot)")
            let snapshotting = cluster.sim.requestCounts
            cluster.sim.resetRequestCounts()
            let result = try await cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--timeout", "3m"] + strategy.arguments)
            try #require(result.status == 0, "\(result)")
            let counts = cluster.sim.requestCounts
            // migrate plans once (the plan it prints is the one it records) and snapshots the nodes once; the
            // verification of programmed rules runs an agent per node per roll (canary: its batches and the final
            // ones; rolling: the rollout), each listing its pod once for its watch; beyond that, one list of each
            // per waiting step, however long the pods take to start.
            let nodes = cluster.nodeNames.count
            let verifications = nodes * (strategy == .canary ? 2 : 1)
            for key in ["list pods", "list daemonsets"] {
                let agents = key == "list pods" ? verifications : 0
                #expect((counts[key] ?? 0) <= (planning[key] ?? 0) + (snapshotting[key] ?? 0) + agents + Self.waitingSteps(strategy),
                        "\(key): \(counts) after planning \(planning) and snapshotting \(snapshotting)")
            }
            // Beyond planning's, the Services are listed once for every verification of the run.
            #expect(counts["list services"] == (planning["list services"] ?? 0) + 1, "\(counts) after planning \(planning)")
            // One log read per pod kpswitch created in the canary batches (or the rolling restart), and one per
            // final batch (2, the default 25%,100%); a read again only while the start-up line is missing; and
            // one per verifying agent.
            #expect(snapshotting["get pods/log"] == nodes && snapshotting["delete pods"] == nodes, "\(snapshotting)")
            #expect((counts["get pods/log"] ?? 0) <= nodes + verifications + nodes + (strategy == .canary ? 2 : 0) + 1, "\(counts)")
            if strategy == .canary {
                // --batches 1,100% and --final-batches 25%,100% of 4 nodes: one pod alone, then the three left on the
                // old template by one deletecollection, in each roll; and each node's agent pods.
                #expect(counts["delete pods"] == 2 + nodes + verifications && counts["deletecollection pods"] == 2, "\(counts)")
            }
            try await cluster.expectMigrated(to: "nftables", from: before, allowRestart: strategy == .rolling)
        }
    }

    /// The DaemonSet's strategy and template are as recorded, the controller counts every pod updated, and no
    /// pod is replaced in the seconds after kpswitch exited.
    static func expectNothingLeftToRoll(_ cluster: TestCluster, before: KubeProxyObjects) async throws {
        let daemonSet = try #require(cluster.daemonSet)
        #expect(daemonSet[path: ["spec", "updateStrategy"]] == before.daemonSet[path: ["spec", "updateStrategy"]])
        #expect(daemonSet[path: ["spec", "template"]] == before.daemonSet[path: ["spec", "template"]])
        let pods = Set(cluster.kubeProxyPods.map(\.name))
        // Long enough for the controller (it reconciles every 10 ms) to roll several pods at maxUnavailable 1.
        try await Task.sleep(for: .seconds(3))
        #expect(Set(cluster.kubeProxyPods.map(\.name)) == pods, "pods were replaced after kpswitch exited")
        let status = daemonSet["status"]
        let desired = status?["desiredNumberScheduled"]?.intValue
        #expect(desired == Int64(cluster.nodeNames.count))
        #expect(status?["updatedNumberScheduled"]?.intValue == desired, "\(status ?? .null)")
    }

    @Test("after a canary migration the DaemonSet is as recorded and no pod restarts once kpswitch has exited")
    func nothingLeftToRoll() async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", workers: 3)) { cluster in
            let before = try cluster.kubeProxyObjects()
            let result = try await cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--timeout", "3m"] + Strategy.canary.arguments)
            try #require(result.status == 0, "\(result)")
            try await Self.expectNothingLeftToRoll(cluster, before: before)
            try await cluster.expectMigrated(to: "nftables", from: before, allowRestart: false)
        }
    }

    @Test("after a rollback of a canary migration the DaemonSet is as recorded and no pod restarts once kpswitch has exited")
    func nothingLeftToRollAfterRollback() async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", workers: 3)) { cluster in
            let before = try cluster.kubeProxyObjects()
            let migrated = try await cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--timeout", "3m"] + Strategy.canary.arguments)
            try #require(migrated.status == 0, "\(migrated)")
            let rolledBack = try await cluster.kpswitch(["rollback", "--yes", "--timeout", "3m"])
            try #require(rolledBack.status == 0, "\(rolledBack)")
            // kpswitch replaced the pods itself, under OnDelete: the update strategy went back only after its batches.
            #expect(rolledBack.stdout.contains("pointing the DaemonSet back at the original ConfigMap"), "\(rolledBack)")
            #expect(!rolledBack.stdout.contains("waiting for every node to run"), "\(rolledBack)")
            try await Self.expectNothingLeftToRoll(cluster, before: before)
            try await cluster.expectRestored(before, mode: "iptables")
        }
    }

    /// The steps that open a watch and wait.
    static func waitingSteps(_ strategy: Strategy) -> Int {
        // canary with --batches 1,100% and the default final batches 25%,100%: 4 batches × (replace + verify)
        // plus restoring the update strategy; rolling: the rollout.
        strategy == .canary ? 9 : 1
    }
}
