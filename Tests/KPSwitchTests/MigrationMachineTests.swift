import Foundation
import Testing
@testable import KPSwitch

@Suite("migration state machine")
struct MigrationMachineTests {
    static let nodes = ["n1", "n2", "n3", "n4", "n5"]
    static let canary = MigrationPlan.canary(
        from: .iptables, to: .nftables, nodes: nodes, batches: .default, cleanup: .kubeProxyCleansItself)
    static let rolling = MigrationPlan.rolling(from: .iptables, to: .ipvs, cleanup: .initContainer)

    /// Runs the machine, failing the listed steps once each, and returns the steps performed and the outcome.
    static func drive(_ machine: inout MigrationMachine, failing: [MigrationStep: String] = [:]) -> ([MigrationStep], MigrationOutcome) {
        var performed: [MigrationStep] = []
        var failures = failing
        var action = machine.nextAction
        while case .perform(let step) = action {
            performed.append(step)
            if let error = failures.removeValue(forKey: step) {
                action = machine.stepFailed(step, error: error)
            } else {
                action = machine.stepSucceeded(step)
            }
            if performed.count > 100 { Issue.record("the machine does not end"); break }
        }
        guard case .finish(let outcome) = action else { return (performed, .failed(reason: "unfinished")) }
        return (performed, outcome)
    }

    @Test("the canary plan: one node first, growing batches, the original ConfigMap only after all are verified, then kpswitch's own final batches before the update strategy goes back")
    func canaryPlan() {
        #expect(Self.canary.steps == [
            .acquireLock, .backUp, .createStagedConfig, .pointDaemonSetAtStaged,
            .replacePods(batch: 0, nodes: ["n1"]), .verifyNodes(batch: 0, nodes: ["n1"], mode: .nftables),
            .replacePods(batch: 1, nodes: ["n2"]), .verifyNodes(batch: 1, nodes: ["n2"], mode: .nftables),
            .replacePods(batch: 2, nodes: ["n3"]), .verifyNodes(batch: 2, nodes: ["n3"], mode: .nftables),
            .replacePods(batch: 3, nodes: ["n4", "n5"]), .verifyNodes(batch: 3, nodes: ["n4", "n5"], mode: .nftables),
            .writeOriginalConfig, .pointDaemonSetAtOriginal,
            .replacePods(batch: 4, nodes: ["n1", "n2"]), .verifyNodes(batch: 4, nodes: ["n1", "n2"], mode: .nftables),
            .replacePods(batch: 5, nodes: ["n3", "n4", "n5"]), .verifyNodes(batch: 5, nodes: ["n3", "n4", "n5"], mode: .nftables),
            .restoreDaemonSet, .deleteStagedConfig, .releaseLock,
        ])
    }

    @Test("every step succeeding migrates, exit 0")
    func happyPath() {
        var machine = MigrationMachine(plan: Self.canary)
        let (performed, outcome) = Self.drive(&machine)
        #expect(performed == Self.canary.steps)
        #expect(outcome == .migrated)
        #expect(outcome.exitStatus == .success)
    }

    @Test("a canary that fails verification: only the canary node is put back, under OnDelete, before the update strategy; the original ConfigMap was never written, exit 4")
    func canaryFails() {
        var machine = MigrationMachine(plan: Self.canary)
        let failing = MigrationStep.verifyNodes(batch: 0, nodes: ["n1"], mode: .nftables)
        let (performed, outcome) = Self.drive(&machine, failing: [failing: "n1: kube-proxy is crash-looping"])
        #expect(Array(performed.suffix(6)) == [
            .pointDaemonSetAtOriginal, .replacePods(batch: 0, nodes: ["n1"]),
            .verifyNodes(batch: 0, nodes: ["n1"], mode: .iptables), .restoreDaemonSet, .deleteStagedConfig, .releaseLock,
        ])
        #expect(!performed.contains(.writeOriginalConfig) && !performed.contains(.restoreOriginalConfig))
        #expect(!performed.contains(.replacePods(batch: 1, nodes: ["n2"])))
        #expect(outcome == .rolledBack(reason: "verifying nftables on 1 node(s) (batch 1) failed: n1: kube-proxy is crash-looping"))
        #expect(outcome.exitStatus == .rolledBack)
    }

    @Test("rollback after a finished canary: the original ConfigMap, then the original template under OnDelete, every node replaced in the final batches' layout and verified in the old mode, then the update strategy")
    func rollbackAfterFinish() {
        var machine = MigrationMachine(plan: Self.canary)
        _ = Self.drive(&machine)
        _ = machine.rollBack(reason: "operator asked")
        let (undo, outcome) = Self.drive(&machine)
        #expect(undo == [
            .restoreOriginalConfig, .pointDaemonSetAtOriginal,
            .replacePods(batch: 0, nodes: ["n1", "n2"]), .verifyNodes(batch: 0, nodes: ["n1", "n2"], mode: .iptables),
            .replacePods(batch: 1, nodes: ["n3", "n4", "n5"]), .verifyNodes(batch: 1, nodes: ["n3", "n4", "n5"], mode: .iptables),
            .restoreDaemonSet, .deleteStagedConfig,
        ])
        #expect(outcome == .rolledBack(reason: "operator asked"))
    }

    @Test("a canary failing in its third batch rolls back the three nodes replaced so far in the final batches' layout")
    func rollbackLaidOutAsFinalBatches() {
        var machine = MigrationMachine(plan: Self.canary)
        let (performed, _) = Self.drive(&machine, failing: [.verifyNodes(batch: 2, nodes: ["n3"], mode: .nftables): "n3 not Ready"])
        let rollback = performed.drop { $0 != .verifyNodes(batch: 2, nodes: ["n3"], mode: .nftables) }.dropFirst()
        #expect(Array(rollback) == [
            .pointDaemonSetAtOriginal,
            .replacePods(batch: 0, nodes: ["n1", "n2"]), .verifyNodes(batch: 0, nodes: ["n1", "n2"], mode: .iptables),
            .replacePods(batch: 1, nodes: ["n3"]), .verifyNodes(batch: 1, nodes: ["n3"], mode: .iptables),
            .restoreDaemonSet, .deleteStagedConfig, .releaseLock,
        ])
    }

    @Test("a held lock ends the run without touching anything, exit 1")
    func lockHeld() {
        var machine = MigrationMachine(plan: Self.canary)
        let (performed, outcome) = Self.drive(&machine, failing: [.acquireLock: "held by alice@laptop"])
        #expect(performed == [.acquireLock])
        #expect(outcome == .failed(reason: "taking the kpswitch lock failed: held by alice@laptop"))
        #expect(outcome.exitStatus == .runtimeError)
    }

    @Test("a failed backup releases the lock and ends with exit 1, not a rollback")
    func backupFails() {
        var machine = MigrationMachine(plan: Self.canary)
        let (performed, outcome) = Self.drive(&machine, failing: [.backUp: "409 Conflict"])
        #expect(performed == [.acquireLock, .backUp, .releaseLock])
        #expect(outcome.exitStatus == .runtimeError)
    }

    @Test("a step that fails after it may have acted is undone too: a failed DaemonSet patch is restored")
    func failedStepUndone() {
        var machine = MigrationMachine(plan: Self.canary)
        let (performed, outcome) = Self.drive(&machine, failing: [.pointDaemonSetAtStaged: "connection reset"])
        // No pod was replaced yet: the original update strategy and template go back in one write.
        #expect(Array(performed.suffix(3)) == [.restoreDaemonSet, .deleteStagedConfig, .releaseLock])
        #expect(outcome.exitStatus == .rolledBack)
    }

    @Test("a rollback that fails is exit 5 and names what remains")
    func rollbackFails() {
        var machine = MigrationMachine(plan: Self.canary)
        let (_, outcome) = Self.drive(&machine, failing: [
            .verifyNodes(batch: 1, nodes: ["n2"], mode: .nftables): "n2 not Ready",
            .pointDaemonSetAtOriginal: "500 Internal Server Error",
        ])
        guard case .rollbackIncomplete(_, let rollbackError, let remaining) = outcome else {
            Issue.record("expected rollbackIncomplete, got \(outcome)")
            return
        }
        #expect(rollbackError == "500 Internal Server Error")
        #expect(remaining.first == .pointDaemonSetAtOriginal)
        #expect(remaining.contains(.replacePods(batch: 0, nodes: ["n1", "n2"])))
        #expect(outcome.exitStatus == .rollbackIncomplete)
    }

    @Test("--no-rollback stops where it failed, exit 5, listing what stays changed")
    func noRollback() {
        var machine = MigrationMachine(plan: Self.canary, rollbackAllowed: false)
        let (performed, outcome) = Self.drive(&machine, failing: [.verifyNodes(batch: 0, nodes: ["n1"], mode: .nftables): "x"])
        #expect(performed.last == .verifyNodes(batch: 0, nodes: ["n1"], mode: .nftables))
        guard case .stopped(_, let done) = outcome else {
            Issue.record("expected stopped, got \(outcome)")
            return
        }
        #expect(done.contains(.pointDaemonSetAtStaged))
        #expect(outcome.exitStatus == .rollbackIncomplete)

        var resumed = MigrationMachine(record: machine.record)
        _ = resumed.rollBack(reason: "operator asked")
        let (rollback, final) = Self.drive(&resumed)
        #expect(rollback.first == .pointDaemonSetAtOriginal && rollback.last == .releaseLock)
        #expect(final == .rolledBack(reason: "operator asked"))
    }

    @Test("a clean-up failure after every node proved the mode is not rolled back")
    func leftovers() {
        var machine = MigrationMachine(plan: Self.canary)
        let (performed, outcome) = Self.drive(&machine, failing: [.deleteStagedConfig: "403 Forbidden"])
        #expect(performed.last == .deleteStagedConfig)
        #expect(outcome == .migratedWithLeftovers(reason: "403 Forbidden", remaining: [.deleteStagedConfig, .releaseLock]))
        #expect(outcome.exitStatus == .runtimeError)
    }

    @Test("rolling: a failed rollout restores the ConfigMap and the template exactly, and awaits the old mode")
    func rollingFails() {
        var machine = MigrationMachine(plan: Self.rolling)
        let (performed, outcome) = Self.drive(&machine, failing: [.awaitRollout(mode: .ipvs): "timeout"])
        #expect(performed == [
            .acquireLock, .backUp, .editConfigInPlace, .restartDaemonSet, .awaitRollout(mode: .ipvs),
            .restoreOriginalConfig, .restoreOriginalDaemonSet, .awaitRollout(mode: .iptables), .releaseLock,
        ])
        #expect(outcome.exitStatus == .rolledBack)
    }

    @Test("killed after any step, a fresh process resumes to the end, or rolls back exactly",
          arguments: 0..<17)
    func killedAfterStep(_ completed: Int) throws {
        var machine = MigrationMachine(plan: Self.canary)
        for _ in 0..<completed {
            guard case .perform(let step) = machine.nextAction else { break }
            _ = machine.stepSucceeded(step)
        }
        let recorded = try JSONEncoder().encode(machine.record)
        let record = try JSONDecoder().decode(MigrationMachine.Record.self, from: recorded)

        var resumed = MigrationMachine(record: record)
        let (rest, outcome) = Self.drive(&resumed)
        #expect(rest == Array(Self.canary.steps[completed...]))
        #expect(outcome == .migrated)

        var rolledBack = MigrationMachine(record: record)
        _ = rolledBack.rollBack(reason: "operator asked")
        let (undo, undone) = Self.drive(&rolledBack)
        // The step that was next when the process died may have acted: it is undone too.
        let attempted = Array(Self.canary.steps.prefix(completed + 1))
        #expect(undo == Self.canary.rollbackSteps(after: attempted))
        if attempted.contains(where: \.changesCluster) {
            #expect(undone == .rolledBack(reason: "operator asked"))
        } else {
            #expect(undone == .failed(reason: "operator asked"))
        }
        // Whatever was replaced comes back in the old mode, after the template is back and before the update
        // strategy is: the DaemonSet controller is left nothing to roll.
        if let replace = undo.firstIndex(where: { if case .replacePods = $0 { true } else { false } }) {
            #expect(undo[..<replace].contains(.pointDaemonSetAtOriginal))
            #expect(undo[replace...].contains(.restoreDaemonSet))
            #expect(!undo.contains(.restoreOriginalDaemonSet) && !undo.contains { if case .awaitRollout = $0 { true } else { false } })
        }
    }

    @Test("the cleanup strategy by mode pair", arguments: [
        (ProxyMode.iptables, ProxyMode.nftables, CleanupStrategy.Requested.auto, CleanupStrategy.kubeProxyCleansItself),
        (.ipvs, .nftables, .node, .kubeProxyCleansItself), (.nftables, .ipvs, .auto, .kubeProxyCleansItself),
        (.iptables, .ipvs, .auto, .initContainer), (.ipvs, .iptables, .node, .node), (.ipvs, .iptables, .none, .none),
        (.ipvs, .ipvs, .auto, .kubeProxyCleansItself),
    ])
    func cleanup(_ from: ProxyMode, _ to: ProxyMode, _ requested: CleanupStrategy.Requested, _ expected: CleanupStrategy) {
        #expect(CleanupStrategy.choose(from: from, to: to, requested: requested) == expected)
    }
}
