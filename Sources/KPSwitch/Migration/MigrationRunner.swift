import Foundation
import KubeAPI
import Logging

/// Why a step failed. A conflict means someone else changed kube-proxy's objects: the run stops without
/// rolling back, since a rollback would overwrite their change.
struct StepFailure: Error, Sendable {
    let message: String
    var isConflict = false
    /// Set when the run must stop at once, neither recording nor rolling back (the API server away beyond
    /// --api-unavailable-timeout, the Lease lost): the command ends with this error.
    var stop: KPSwitchError?

    static func conflict(_ message: String) -> StepFailure { StepFailure(message: message, isConflict: true) }

    init(message: String, isConflict: Bool = false) {
        self.message = message
        self.isConflict = isConflict
    }

    init(_ error: KubeAPIError) {
        self.init(message: error.description)
    }

    init(stop: KPSwitchError) {
        self.init(message: stop.message)
        self.stop = stop
    }
}

/// Drives `MigrationMachine` against the cluster: records the state in `kpswitch-state` before each step
/// acts and after it completes, performs the step through the API, and keeps the Lease while it runs.
actor MigrationRunner {
    let client: KubeClient
    let namespace: String
    let lock: MigrationLock
    let logger: Logger
    let progress: @Sendable (String) -> Void
    /// How long a migration (and, after a failure, its rollback) may take.
    let timeout: Duration
    /// Roll back over changes made by someone else (`rollback --force`).
    let force: Bool
    /// How often a waiting phase looks at its deadline and re-reads a log that lacks the start-up line;
    /// the pods and the DaemonSet themselves are watched, not polled.
    let pollInterval: Duration
    /// How long the API server may stay unreachable before the run stops (exit 5) without rolling back.
    let apiUnavailableTimeout: Duration
    let events: MigrationEvents

    var state: MigrationState
    /// The pod and DaemonSet watches the waiting phases share (`openWatch`), stopped when the run ends.
    var rolloutWatch: RolloutWatch?
    private var stateResourceVersion: String?
    private var encodedConstants: [String: String]?
    /// The Services' ClusterIP ports, listed once per run for every batch's verification of programmed rules.
    var clusterIPPorts: ClusterIPPorts?
    private var deadline: ContinuousClock.Instant
    private let started = ContinuousClock.now

    init(
        client: KubeClient, namespace: String, lock: MigrationLock, state: MigrationState, stateResourceVersion: String?,
        timeout: Duration, force: Bool = false, pollInterval: Duration = .milliseconds(500),
        apiUnavailableTimeout: Duration = .seconds(600), logger: Logger,
        progress: @escaping @Sendable (String) -> Void
    ) {
        self.client = client
        self.namespace = namespace
        self.lock = lock
        self.state = state
        self.stateResourceVersion = stateResourceVersion
        self.timeout = timeout
        self.force = force
        self.pollInterval = pollInterval
        self.apiUnavailableTimeout = apiUnavailableTimeout
        self.logger = logger
        self.progress = progress
        events = MigrationEvents(client: client, namespace: namespace, logger: logger)
        deadline = .now + timeout
    }

    /// Runs the recorded machine to its end and returns the outcome; throws only when the state itself
    /// cannot be written (the cluster is then wherever the last recorded step left it).
    func drive(_ machine: MigrationMachine) async throws(KPSwitchError) -> MigrationOutcome {
        let result: Result<MigrationOutcome, KPSwitchError>
        do throws(KPSwitchError) {
            result = .success(try await driveSteps(machine))
        } catch {
            result = .failure(error)
        }
        rolloutWatch?.stop()
        rolloutWatch = nil
        await events.drain(within: .seconds(5))
        return try result.get()
    }

    private func driveSteps(_ machine: MigrationMachine) async throws(KPSwitchError) -> MigrationOutcome {
        var machine = machine
        state.record = machine.record
        while case .perform(let step) = machine.nextAction {
            let rollingBack = machine.record.rollback != nil
            do throws(KPSwitchError) {
                try await lock.check()
            } catch {
                // The Lease is someone else's now: nothing more is written, the record included.
                await lock.abandon()
                throw error
            }
            state.stepState = "acting"
            state.log("started: \(step.summary)")
            logger.debug("recording, then performing: \(step.summary)")
            try await save()
            progress("\(rollingBack ? "rollback" : "step") \(position(machine)): \(step.summary)")
            events.stepStarted(step, state: state)
            var succeeded = false
            do throws(StepFailure) {
                try await perform(step)
                state.log("completed: \(step.summary)")
                _ = machine.stepSucceeded(step)
                succeeded = true
                state.record = machine.record
                events.stepSucceeded(step, state: state)
            } catch {
                // The record stays as saved before the step: a resume or rollback starts from it.
                if let stop = error.stop { throw stop }
                state.log("failed: \(step.summary): \(error.message)")
                progress("failed: \(step.summary): \(error.message)")
                events.stepFailed(step, message: error.message, state: state)
                _ = machine.stepFailed(step, error: error.message, mayRollBack: !error.isConflict)
                if !rollingBack, machine.record.rollback != nil {
                    // The rollback gets a fresh budget, at least ten minutes: a short --timeout is about how long
                    // the new mode may take to prove itself, not a reason to abandon putting the old one back.
                    deadline = .now + max(timeout, .seconds(600))
                    progress("rolling back: \(machine.record.failure ?? error.message)")
                }
            }
            state.record = machine.record
            state.stepState = "done"
            if case .finish(let outcome) = machine.nextAction { state.log("finished: \(outcome.name)") }
            try await save()
            if succeeded, !rollingBack, case .verifyNodes = step {
                progress(BatchProgress(record: state.record).line(elapsed: .now - started))
            }
        }
        guard case .finish(let outcome) = machine.nextAction else {
            return .failed(reason: "the run ended before the migration finished")
        }
        events.finished(outcome, state: state)
        return outcome
    }

    private func position(_ machine: MigrationMachine) -> String {
        if let rollback = machine.record.rollback { return "\(machine.record.rollbackCompleted + 1)/\(rollback.count)" }
        return "\(machine.record.completed + 1)/\(machine.record.plan.steps.count)"
    }

    func elapsed() -> Duration { .now - started }

    // MARK: - The state ConfigMap

    /// Writes `kpswitch-state`. We hold the Lease, so a 409 is our own earlier write seen late: take the
    /// current resourceVersion and write again.
    func save() async throws(KPSwitchError) {
        state.updatedAt = Timestamp.rfc3339(Date())
        var configMap = ConfigMap(name: MigrationState.configMapName, namespace: namespace)
        configMap.labels = ["app.kubernetes.io/managed-by": "kpswitch"]
        configMap.data = try state.encodedData(constants: &encodedConstants)
        for _ in 0..<3 {
            let version = stateResourceVersion
            let written = try await stateWrite { () async throws(KubeAPIError) in
                var write = configMap
                if let version {
                    write.resourceVersion = version
                    return try await client.update(write).resourceVersion
                }
                return try await client.create(write).resourceVersion
            }
            switch written {
            case .success(let version):
                stateResourceVersion = version
                return
            case .failure(let error) where error.kind == .conflict || error.kind == .alreadyExists:
                // Read back: a write that reached the server before the connection broke answers 409 when sent
                // again, and is then already there.
                let current = try await stateWrite { () async throws(KubeAPIError) in
                    try await client.get(ConfigMap.self, name: MigrationState.configMapName, namespace: namespace)
                }
                switch current {
                case .success(let stored):
                    stateResourceVersion = stored.resourceVersion
                    if stored.data == configMap.data { return }
                case .failure(let error):
                    throw Self.unsaved(error, state: state)
                }
            case .failure(let error):
                throw Self.unsaved(error, state: state)
            }
        }
        throw KPSwitchError(
            status: .rollbackIncomplete,
            message: "ConfigMap \(MigrationState.configMapName) kept changing under kpswitch although it holds the Lease; kpswitch stopped at '\(state.currentStep ?? "the end")'.",
            remediation: "Find who writes it, then run kpswitch migrate --resume or kpswitch rollback.", runbook: .rollback("exit-5-rollback-incomplete"))
    }

    private func stateWrite<T: Sendable>(
        _ body: () async throws(KubeAPIError) -> T
    ) async throws(KPSwitchError) -> Result<T, KubeAPIError> {
        do throws(StepFailure) {
            return try await apiResult(body)
        } catch {
            throw error.stop ?? KPSwitchError(status: .rollbackIncomplete, message: error.message)
        }
    }

    static func unsaved(_ error: KubeAPIError, state: MigrationState) -> KPSwitchError {
        KPSwitchError(
            status: .rollbackIncomplete,
            message: "the migration state could not be written to ConfigMap \(MigrationState.configMapName) (\(error.description)); kpswitch stopped at '\(state.currentStep ?? "the end")'.",
            remediation: "When the API server answers again, run kpswitch migrate --resume to continue or kpswitch rollback to undo; both start from the last recorded step.",
            runbook: .rollback("exit-5-rollback-incomplete"))
    }

    /// The recorded state and its resourceVersion, or nil when no migration was ever recorded.
    static func readState(client: KubeClient, namespace: String) async throws(KPSwitchError) -> (MigrationState, String?)? {
        do {
            let configMap = try await client.get(ConfigMap.self, name: MigrationState.configMapName, namespace: namespace)
            return (try MigrationState(data: configMap.data), configMap.resourceVersion)
        } catch let error as KubeAPIError where error.kind == .notFound {
            return nil
        } catch {
            throw KPSwitchError(error)
        }
    }

    // MARK: - Waiting

    func checkDeadline(_ waitingFor: String) throws(StepFailure) {
        logger.debug("waiting for \(waitingFor)")
        if ContinuousClock.now >= deadline {
            throw StepFailure(message: "timed out after \(BatchProgress.format(timeout)) waiting for \(waitingFor)")
        }
    }
}
