import Foundation
import KPSwitch
import Testing
@testable import KubeSim

/// One kill point: the migration's process gets SIGKILL the moment `kpswitch-state` records `completed == k`,
/// and a fresh process recovers one way or the other.
struct KillCase: Sendable, CustomTestStringConvertible {
    enum Recovery: String, Sendable { case rollback, resume }

    let strategy: Strategy
    let plan: MigrationPlan
    let completed: Int
    let recovery: Recovery

    var testDescription: String {
        "\(strategy) killed after step \(completed) (\(plan.steps[completed - 1].summary)), then \(recovery)"
    }

    /// The node names kube-sim gives `ClusterShape.kubeadm.nodeGroups(workers: 1)`, in the order kpswitch lists them.
    static let nodes = ["control-plane", "worker-1"]

    static let all: [KillCase] = {
        let canary = MigrationPlan.canary(from: .iptables, to: .nftables, nodes: nodes, batches: batches,
                                          cleanup: .kubeProxyCleansItself)
        let rolling = MigrationPlan.rolling(from: .iptables, to: .nftables, cleanup: .kubeProxyCleansItself)
        return [(Strategy.canary, canary), (.rolling, rolling)].flatMap { strategy, plan in
            (1..<plan.steps.count).flatMap { k in
                [Recovery.rollback, .resume].map { KillCase(strategy: strategy, plan: plan, completed: k, recovery: $0) }
            }
        }
    }()

    static var batches: NodeBatches {
        (try? NodeBatches(parsing: "1,100%")) ?? .default
    }

    /// Whether undoing the steps attempted so far restarts the whole DaemonSet (leaving kubectl's restart mark).
    var rollbackRestarts: Bool {
        plan.rollbackSteps(after: Array(plan.steps.prefix(completed + 1))).contains(.restartDaemonSet)
    }
}

/// Issue #11: the process killed with SIGKILL after each step in turn; `rollback` from a fresh process restores
/// exactly, `migrate --resume` completes, and a plain `migrate` refuses while the migration is unfinished.
@Suite("killed after each step", .timeLimit(.minutes(5)))
struct KillRecoveryTests {
    @Test("recovers", arguments: KillCase.all)
    func killed(_ kill: KillCase) async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", workers: 1)) { cluster in
            try #require(cluster.nodeNames.sorted() == KillCase.nodes.sorted())
            let original = try cluster.kubeProxyObjects()
            let killed = try await Self.migrateAndKill(cluster, after: kill.completed, strategy: kill.strategy)
            try #require(killed.signalled, "the record never showed completed == \(kill.completed): \(killed)")
            #expect(cluster.state?["completed"] == String(kill.completed), "\(cluster.state ?? [:])")

            switch kill.recovery {
            case .rollback:
                let refused = try await cluster.kpswitch(["migrate", "--to", "nftables", "--yes"])
                #expect(refused.status == 1, "\(refused)")
                let message = refused.stdout + refused.stderr
                #expect(message.contains("unfinished migration") && message.contains("--resume") && message.contains("rollback"),
                        "\(refused)")
                let rollback = try await cluster.kpswitch(["rollback", "--yes", "--timeout", "2m"])
                #expect(rollback.status == 0, "\(rollback)")
                try await cluster.waitUntilKubeProxyReady()
                try await cluster.expectRestored(original, mode: "iptables", allowRestart: kill.rollbackRestarts)
            case .resume:
                let resumed = try await cluster.kpswitch(["migrate", "--resume", "--yes", "--timeout", "2m"])
                try #require(resumed.status == 0, "\(resumed)")
                try await cluster.expectMigrated(to: "nftables", from: original, allowRestart: kill.strategy == .rolling)
            }
        }
    }

    /// Starts `migrate --to nftables` and sends SIGKILL from inside the store's write of the record with
    /// `completed == k`, before kpswitch hears back: the step after k has not begun.
    static func migrateAndKill(_ cluster: TestCluster, after k: Int, strategy: Strategy) async throws -> KPSwitchProcess.Result {
        let target = Locked<KPSwitchProcess?>(nil)
        cluster.onStateWrite { data in
            guard data["completed"] == String(k), data["phase"] != "rollingBack" else { return }
            target.withLock { process in
                process?.kill()
                process = nil
            }
        }
        let process = try cluster.startKPSwitch(["migrate", "--to", "nftables", "--yes", "--timeout", "2m"] + strategy.arguments)
        target.withLock { $0 = process }
        return await process.wait()
    }
}

/// One kill point inside a rollback: the migration stopped at `forward` (killed after that many steps, or
/// finished when nil), then `kpswitch rollback` gets SIGKILL once `rollbackCompleted == completed`, and a
/// fresh `rollback` finishes it.
struct RollbackKillCase: Sendable, CustomTestStringConvertible {
    let forward: Int?
    let rollback: [MigrationStep]
    let completed: Int

    var testDescription: String {
        "\(forward.map { "killed after step \($0)" } ?? "finished"), rollback killed after its step \(completed) (\(rollback[completed - 1].summary))"
    }

    static let all: [RollbackKillCase] = {
        let plan = MigrationPlan.canary(from: .iptables, to: .nftables, nodes: KillCase.nodes, batches: KillCase.batches,
                                        cleanup: .kubeProxyCleansItself)
        // After the first canary batch (only its node to put back); in the final batches, after the first one's
        // verification (a pod on the original template already runs the new mode); and after the whole migration.
        let firstVerify = plan.steps.firstIndex { if case .verifyNodes = $0 { true } else { false } }.map { $0 + 1 }
        let finalVerify = plan.steps.indices.first { index in
            if case .verifyNodes = plan.steps[index], plan.steps[..<index].contains(.pointDaemonSetAtOriginal) { return true }
            return false
        }.map { $0 + 1 }
        let stops: [Int?] = [firstVerify, finalVerify, nil]
        return stops.flatMap { forward -> [RollbackKillCase] in
            let undo = plan.rollbackSteps(after: Array(plan.steps.prefix(forward.map { $0 + 1 } ?? plan.steps.count)))
            return (1..<undo.count).map { RollbackKillCase(forward: forward, rollback: undo, completed: $0) }
        }
    }()
}

/// Issue #17: the rollback's own steps (the original template under OnDelete, kpswitch's batches in the old
/// mode, the update strategy last) each survive a SIGKILL: a fresh `rollback` finishes, and the DaemonSet
/// controller has nothing left to roll.
@Suite("rollback killed after each of its steps", .timeLimit(.minutes(5)))
struct RollbackKillRecoveryTests {
    @Test("a fresh rollback finishes", arguments: RollbackKillCase.all)
    func killed(_ kill: RollbackKillCase) async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", workers: 1)) { cluster in
            try #require(cluster.nodeNames.sorted() == KillCase.nodes.sorted())
            let original = try cluster.kubeProxyObjects()
            if let forward = kill.forward {
                let killed = try await KillRecoveryTests.migrateAndKill(cluster, after: forward, strategy: .canary)
                try #require(killed.signalled, "the record never showed completed == \(forward): \(killed)")
            } else {
                let migrated = try await cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--timeout", "2m"] + Strategy.canary.arguments)
                try #require(migrated.status == 0, "\(migrated)")
            }
            let target = Locked<KPSwitchProcess?>(nil)
            cluster.onStateWrite { data in
                guard data["phase"] == "rollingBack", data["rollbackCompleted"] == String(kill.completed) else { return }
                target.withLock { process in
                    process?.kill()
                    process = nil
                }
            }
            let process = try cluster.startKPSwitch(["rollback", "--yes", "--timeout", "2m"])
            target.withLock { $0 = process }
            let killed = await process.wait()
            try #require(killed.signalled, "the rollback's record never showed rollbackCompleted == \(kill.completed): \(killed)")
            let recorded = try #require(cluster.state?["record"].flatMap { $0.data(using: .utf8) })
            let record = try JSONDecoder().decode(MigrationMachine.Record.self, from: recorded)
            // The recorded plan lists the nodes in kpswitch's order: compare the steps as the progress names them.
            #expect(record.rollback?.map(\.summary) == kill.rollback.map(\.summary), "\(record)")

            let rollback = try await cluster.kpswitch(["rollback", "--yes", "--timeout", "2m"])
            #expect(rollback.status == 0, "\(rollback)")
            try await cluster.waitUntilKubeProxyReady()
            let daemonSet = try #require(cluster.daemonSet)
            #expect(daemonSet[path: ["spec", "updateStrategy"]] == original.daemonSet[path: ["spec", "updateStrategy"]])
            #expect(daemonSet[path: ["spec", "template"]] == original.daemonSet[path: ["spec", "template"]])
            try await cluster.expectRestored(original, mode: "iptables")
        }
    }
}
