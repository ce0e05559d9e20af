/// What a migration will do, decided before it starts: the steps in order and how the old mode is cleaned.
public struct MigrationPlan: Codable, Equatable, Sendable {
    public enum Strategy: String, Codable, Sendable {
        case canary
        case rolling
    }

    public let strategy: Strategy
    public let from: ProxyMode
    public let to: ProxyMode
    public let cleanup: CleanupStrategy
    public let steps: [MigrationStep]

    /// Canary: staged ConfigMap, OnDelete, one batch after another, each verified before the next; the
    /// original ConfigMap is edited only once every node has proven the new mode. Finalizing puts the
    /// original template back while still OnDelete and replaces the pods in `finalBatches`, each verified
    /// the same way, then the original update strategy: kpswitch's batches are much faster than the
    /// controller's `maxUnavailable` pace, and the controller then finds every pod current.
    public static func canary(
        from: ProxyMode, to: ProxyMode, nodes: [String], batches: NodeBatches, finalBatches: NodeBatches = .finalDefault,
        cleanup: CleanupStrategy
    ) -> MigrationPlan {
        var steps: [MigrationStep] = [.acquireLock, .backUp, .createStagedConfig, .pointDaemonSetAtStaged]
        steps += batchSteps(nodes: nodes, batches: batches, firstIndex: 0, mode: to)
        steps += [.writeOriginalConfig, .pointDaemonSetAtOriginal]
        steps += batchSteps(nodes: nodes, batches: finalBatches, firstIndex: steps.count(where: { if case .replacePods = $0 { true } else { false } }), mode: to)
        steps += [.restoreDaemonSet, .deleteStagedConfig] + cleanNodes(from: from, cleanup: cleanup) + [.releaseLock]
        return MigrationPlan(strategy: .canary, from: from, to: to, cleanup: cleanup, steps: steps)
    }

    /// `--cleanup node`: kpswitch cleans the old mode off every node itself, after the last node proved the new one.
    private static func cleanNodes(from: ProxyMode, cleanup: CleanupStrategy) -> [MigrationStep] {
        cleanup == .node ? [.cleanNodes(mode: from)] : []
    }

    private static func batchSteps(nodes: [String], batches: NodeBatches, firstIndex: Int, mode: ProxyMode) -> [MigrationStep] {
        var steps: [MigrationStep] = []
        var remaining = nodes[...]
        for (index, size) in batches.batchSizes(nodeCount: nodes.count).enumerated() {
            let batch = Array(remaining.prefix(size))
            remaining = remaining.dropFirst(size)
            steps += [.replacePods(batch: firstIndex + index, nodes: batch), .verifyNodes(batch: firstIndex + index, nodes: batch, mode: mode)]
        }
        return steps
    }

    /// The canary batches, before the original ConfigMap is written (the final batches come after it).
    public var canaryBatches: [[String]] {
        let end = steps.firstIndex(of: .writeOriginalConfig) ?? steps.endIndex
        return steps[..<end].compactMap { if case .replacePods(_, let nodes) = $0 { nodes } else { nil } }
    }

    /// The final batches: the pods replaced again from the original template.
    public var finalBatches: [[String]] {
        guard let start = steps.firstIndex(of: .writeOriginalConfig) else { return [] }
        return steps[start...].compactMap { if case .replacePods(_, let nodes) = $0 { nodes } else { nil } }
    }

    /// Rolling: edit in place, restart as kubectl does, follow the DaemonSet's own rollout and verify.
    public static func rolling(from: ProxyMode, to: ProxyMode, cleanup: CleanupStrategy) -> MigrationPlan {
        MigrationPlan(
            strategy: .rolling, from: from, to: to, cleanup: cleanup,
            steps: [.acquireLock, .backUp, .editConfigInPlace, .restartDaemonSet, .awaitRollout(mode: to)]
                + cleanNodes(from: from, cleanup: cleanup) + [.releaseLock])
    }

    /// The steps that undo `done` (the steps attempted so far, in order): configuration first, so that every pod
    /// replaced afterwards comes back in the old mode; then the template and the pods; then the staged ConfigMap
    /// and the lock.
    ///
    /// Canary: the original template while the update strategy stays OnDelete, every node replaced so far
    /// replaced again in kpswitch's own batches (laid out as the final batches), each verified in the old mode,
    /// and only then the original update strategy, so that the DaemonSet controller has nothing left to roll.
    /// Rolling: the original template and strategy, and the controller's rollout is followed.
    public func rollbackSteps(after done: [MigrationStep]) -> [MigrationStep] {
        var steps: [MigrationStep] = []
        if done.contains(where: { $0 == .writeOriginalConfig || $0 == .editConfigInPlace }) {
            steps.append(.restoreOriginalConfig)
        }
        if done.contains(.pointDaemonSetAtStaged) {
            let batches = rollbackBatches(replaced: done)
            if !batches.isEmpty { steps.append(.pointDaemonSetAtOriginal) }
            for (index, nodes) in batches.enumerated() {
                steps += [.replacePods(batch: index, nodes: nodes), .verifyNodes(batch: index, nodes: nodes, mode: from)]
            }
            steps.append(.restoreDaemonSet)
        } else {
            if done.contains(.restartDaemonSet) {
                // The template and update strategy exactly as recorded (no restartedAt of kpswitch's left).
                steps.append(.restoreOriginalDaemonSet)
            }
            if done.contains(where: { $0 == .restartDaemonSet || $0 == .editConfigInPlace }) {
                // Any pod may run the new mode: the restored template rolls them, and awaiting the old mode
                // replaces, one at a time, any pod that still shows the new one.
                steps.append(.awaitRollout(mode: from))
            }
        }
        if done.contains(.createStagedConfig) { steps.append(.deleteStagedConfig) }
        if done.contains(.acquireLock) && !done.contains(.releaseLock) { steps.append(.releaseLock) }
        return steps
    }

    /// The nodes `done` replaced (in a canary or a final batch), in the final batches' layout: the first final
    /// batch's nodes first, so that a bad old mode shows on a few nodes before it reaches the rest.
    private func rollbackBatches(replaced done: [MigrationStep]) -> [[String]] {
        let replaced = Set(done.flatMap { step -> [String] in
            if case .replacePods(_, let nodes) = step { return nodes }
            return []
        })
        var layout = finalBatches
        let laidOut = Set(layout.joined())
        layout.append(steps.compactMap { if case .replacePods(_, let nodes) = $0 { nodes } else { nil } }
            .joined().filter { !laidOut.contains($0) })
        var seen = Set<String>()
        return layout.map { batch in batch.filter { replaced.contains($0) && seen.insert($0).inserted } }.filter { !$0.isEmpty }
    }
}
