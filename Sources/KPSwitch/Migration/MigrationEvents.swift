import Foundation
import KubeAPI
import Logging

/// A migration's milestones as Kubernetes Events (events.k8s.io/v1) on kube-proxy's DaemonSet, so
/// `kubectl events -n kube-system --for daemonset/kube-proxy` tells the migration beside the pods coming and
/// going. An event is a note, not a step: failing to write one is logged and never fails the migration, and
/// writing one never delays it. One background task writes them in order, so an API server that hangs on an
/// event holds up no step (the step's own requests meet the outage and pause as #19 has them); `drain` waits
/// a bounded time for the last ones before the command exits.
final class MigrationEvents: Sendable {
    static let reportingController = "kpswitch"

    let namespace: String
    let logger: Logger
    private let queue: AsyncStream<EventsV1Event>.Continuation
    private let writer: Task<Void, Never>

    init(client: KubeClient, namespace: String, logger: Logger) {
        self.namespace = namespace
        self.logger = logger
        let (events, queue) = AsyncStream.makeStream(of: EventsV1Event.self)
        self.queue = queue
        writer = Task {
            for await event in events {
                do throws(KubeAPIError) {
                    _ = try await client.create(event)
                } catch {
                    let reason = event.json["reason"]?.stringValue ?? "?"
                    logger.warning("could not record event \(reason) on DaemonSet \(namespace)/\(event.json[path: ["regarding", "name"]]?.stringValue ?? "?"): \(error.description)")
                }
            }
        }
    }

    deinit { queue.finish() }

    /// Waits until the events asked for so far are written, or `limit` has passed; those still unwritten then are dropped.
    func drain(within limit: Duration) async {
        queue.finish()
        let writer = writer
        let timer = Task {
            try? await Task.sleep(for: limit)
            writer.cancel()
        }
        await writer.value
        timer.cancel()
    }

    func stepStarted(_ step: MigrationStep, state: MigrationState) {
        guard state.record.rollback == nil else { return }
        let plan = state.record.plan
        switch step {
        case .acquireLock:
            let nodes = plan.steps.reduce(0) { count, step in
                if case .replacePods(_, let nodes) = step { return count + nodes.count }
                return count
            }
            emit(
                reason: "MigrationPlanned", action: "Plan", state: state,
                note: "migration \(plan.from.rawValue) -> \(plan.to.rawValue) planned: strategy \(plan.strategy.rawValue), \(BatchProgress(record: state.record).batches) batches, \(nodes) nodes")
        case .replacePods(let batch, let nodes):
            emit(
                reason: "BatchStarted", action: "ReplacePods", state: state,
                note: "batch \(batch + 1)/\(BatchProgress(record: state.record).batches) started: replacing kube-proxy on \(nodes.count) nodes (\(nodes.joined(separator: ", ")))")
        default:
            return
        }
    }

    func stepSucceeded(_ step: MigrationStep, state: MigrationState) {
        guard state.record.rollback == nil, case .verifyNodes(let batch, let nodes, let mode) = step else { return }
        let progress = BatchProgress(record: state.record)
        emit(
            reason: "BatchVerified", action: "Verify", state: state,
            note: "batch \(batch + 1)/\(progress.batches) verified: \(nodes.count) nodes run \(mode.rawValue); nodes verified \(progress.verified) / total \(progress.total)")
    }

    func stepFailed(_ step: MigrationStep, message: String, state: MigrationState) {
        guard case .verifyNodes(let batch, _, let mode) = step else { return }
        emit(
            reason: "VerificationFailed", action: "Verify", type: "Warning", state: state,
            note: "batch \(batch + 1) failed verification for \(mode.rawValue): \(message)")
    }

    func finished(_ outcome: MigrationOutcome, state: MigrationState) {
        let plan = state.record.plan
        let route = "\(plan.from.rawValue) -> \(plan.to.rawValue)"
        switch outcome {
        case .migrated:
            emit(reason: "MigrationFinished", action: "Finish", state: state, note: "migration \(route) finished: every node runs \(plan.to.rawValue)")
        case .migratedWithLeftovers(let reason, _):
            emit(reason: "MigrationFinished", action: "Finish", type: "Warning", state: state, note: "migration \(route) finished with leftovers: \(reason)")
        case .rolledBack(let reason):
            emit(reason: "RolledBack", action: "RollBack", type: "Warning", state: state, note: "migration \(route) rolled back, every node runs \(plan.from.rawValue) again: \(reason)")
        case .rollbackIncomplete(let reason, let rollbackError, _):
            emit(reason: "RollbackIncomplete", action: "RollBack", type: "Warning", state: state, note: "migration \(route) failed (\(reason)) and its rollback is incomplete: \(rollbackError)")
        case .failed(let reason), .stopped(let reason, _):
            emit(reason: "MigrationStopped", action: "Finish", type: "Warning", state: state, note: "migration \(route) stopped: \(reason)")
        }
    }

    private func emit(reason: String, action: String, type: String = "Normal", state: MigrationState, note: String) {
        let daemonSet = state.originalDaemonSet.name
        var event = EventsV1Event(name: "", namespace: namespace)
        event.json[path: ["metadata", "name"]] = nil
        // client-go names events `<object>.<hex nanoseconds>`; generateName gives the same uniqueness.
        event.json[path: ["metadata", "generateName"]] = .string("\(daemonSet).kpswitch.")
        event.json["eventTime"] = .string(Timestamp.microTime(Date()))
        event.json["reportingController"] = .string(Self.reportingController)
        // The API server requires reportingInstance and action, each at most 128 characters.
        event.json["reportingInstance"] = .string(String(state.holder.prefix(128)))
        event.json["action"] = .string(action)
        event.json["reason"] = .string(reason)
        event.json["type"] = .string(type)
        event.json["note"] = .string(String(note.prefix(1024)))
        event.json["regarding"] = [
            "apiVersion": .string("apps/v1"), "kind": .string("DaemonSet"), "namespace": .string(namespace),
            "name": .string(daemonSet),
        ]
        queue.yield(event)
    }
}
