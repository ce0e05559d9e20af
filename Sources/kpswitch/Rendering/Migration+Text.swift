import Foundation
import KPSwitch

extension MigrationPlanReport: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var text = "Plan: kube-proxy in \(namespace) from \(from.rawValue) to \(style.ok(to.rawValue)), strategy \(strategy.rawValue)\n"
        text += "Configuration (ConfigMap \(configMap)):\n"
        text += configDiff.isEmpty ? "  (no change)\n" : configDiff.split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast(configDiff.hasSuffix("\n") ? 1 : 0).map { "  \($0)\n" }.joined()
        text += "DaemonSet \(daemonSet):\n"
        for change in daemonSetChanges { text += "  - \(change)\n" }
        text += "Cleanup of \(from.rawValue) state: \(cleanup.rawValue)\n"
        if !batches.isEmpty {
            text += "Node batches (each verified before the next):\n"
            for (index, nodes) in batches.enumerated() {
                let shown = nodes.count > 8 ? nodes.prefix(8).joined(separator: ", ") + ", ... (\(nodes.count) nodes)" : nodes.joined(separator: ", ")
                text += "  \(index + 1). \(shown)\n"
            }
        }
        if !finalBatches.isEmpty {
            text += "Final batches (pods replaced again from the original template, each verified):\n"
            for (index, nodes) in finalBatches.enumerated() { text += "  \(index + 1). \(nodes.count) node(s)\n" }
        }
        text += "Steps:\n"
        for (index, step) in steps.enumerated() { text += "  \(index + 1). \(step)\n" }
        if !risks.isEmpty {
            text += "Risks:\n"
            for risk in risks { text += "  - \(style.warning(risk))\n" }
        }
        return text
    }
}

extension MigrationResult: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var text: String
        switch outcome {
        case .migrated: text = style.ok("Migrated kube-proxy from \(from.rawValue) to \(to.rawValue) (\(strategy.rawValue)).") + "\n"
        case .rolledBack: text = style.warning("The migration to \(to.rawValue) failed and was rolled back; kube-proxy runs \(from.rawValue) as before.") + "\n"
        case .rollbackIncomplete: text = style.error("The migration to \(to.rawValue) failed and the rollback is INCOMPLETE.") + "\n"
        case .stopped: text = style.error("The migration to \(to.rawValue) stopped; what it changed is still in place.") + "\n"
        case .migratedWithLeftovers: text = style.warning("Migrated to \(to.rawValue), but a clean-up step failed.") + "\n"
        case .failed: text = style.error("The migration to \(to.rawValue) did not start: nothing in kube-proxy was changed.") + "\n"
        }
        if let reason { text += "Reason: \(reason)\n" }
        text += bullets(outcome == .stopped ? "Changed and still in place" : "Remaining", remaining ?? [])
        text += bullets("Next", nextSteps)
        return text
    }
}

extension RollbackResult: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var text: String
        switch outcome {
        case .rolledBack: text = style.ok("Rolled back: kube-proxy runs \(to?.rawValue ?? "its original mode") with the original ConfigMap and DaemonSet.") + "\n"
        case .nothingToRollBack: text = "Nothing to roll back: \(reason ?? "no unfinished migration").\n"
        case .rollbackIncomplete: text = style.error("The rollback is INCOMPLETE.") + "\n"
        }
        if outcome != .nothingToRollBack, let reason { text += "Reason: \(reason)\n" }
        text += bullets("Remaining", remaining ?? [])
        text += bullets("Next", nextSteps)
        return text
    }
}

/// A titled list of what is left or what to do next; nothing at all when the list is empty.
private func bullets(_ title: String, _ items: [String]) -> String {
    items.isEmpty ? "" : "\(title):\n" + items.map { "  - \($0)\n" }.joined()
}

extension MigrationStatusReport: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var text = "Configured mode: \(configuredMode)\n"
        text += "Nodes:\n"
        let width = max(4, nodes.map(\.node.count).max() ?? 4)
        for node in nodes {
            let ready = node.ready ? style.ok("Ready") : style.error("NotReady")
            text += "  \(node.node.padding(toLength: width, withPad: " ", startingAt: 0))  \(node.observedMode.padding(toLength: 8, withPad: " ", startingAt: 0))  \(ready)  restarts \(node.restarts)  \(node.pod)\n"
        }
        if let migration {
            text += "Migration: \(migration.from.rawValue) -> \(migration.to.rawValue) (\(migration.strategy.rawValue)), \(migration.phase)"
            text += migration.outcome.map { ", outcome \($0)" } ?? ""
            text += "\n  step \(min(migration.completed + 1, migration.steps))/\(migration.steps)\(migration.step.map { ": \($0)" } ?? "")\n"
            if migration.batches > 0 {
                text += "  batch \(migration.batch)/\(migration.batches): nodes migrated \(migration.nodesMigrated) / verified \(migration.nodesVerified) / total \(migration.nodesTotal)\n"
            }
            if let failure = migration.failure { text += "  failure: \(failure)\n" }
            text += "  by \(migration.holder), started \(migration.startedAt), updated \(migration.updatedAt)\n"
        } else {
            text += "Migration: none recorded\n"
        }
        if !history.isEmpty {
            text += "History (last 10):\n"
            for entry in history.suffix(10) { text += "  \(entry.time)  \(entry.event)\n" }
        }
        return text
    }
}

/// Progress lines: stdout in text mode; stderr with `-o json`, so stdout stays one JSON document.
struct ProgressPrinter: Sendable {
    let toStandardError: Bool

    func print(_ line: String) {
        let data = Data((line + "\n").utf8)
        do {
            try (toStandardError ? FileHandle.standardError : FileHandle.standardOutput).write(contentsOf: data)
        } catch {
            // Nobody reads the progress any more (a closed pipe): the migration itself must go on regardless.
        }
    }
}

/// Asks on the terminal; refuses (exit 2) without one, before anything is read or changed.
enum Confirmation {
    static func refuseWithoutTerminal(yes: Bool) throws {
        guard !yes, isatty(STDIN_FILENO) != 1 else { return }
        throw KPSwitchError(
            status: .usageError, message: "this changes the cluster and needs a confirmation, but stdin is not a terminal.",
            remediation: "Pass --yes to proceed without asking.")
    }

    static func ask(_ question: String, yes: Bool) throws {
        if yes { return }
        try refuseWithoutTerminal(yes: yes)
        try FileHandle.standardError.write(contentsOf: Data("\(question) [y/N] ".utf8))
        let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        guard answer == "y" || answer == "yes" else {
            throw KPSwitchError(status: .runtimeError, message: "not confirmed; nothing was changed.")
        }
    }
}
