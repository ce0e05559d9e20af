import Foundation
import KubeAPI

/// One stretch of time the API server did not answer: when it began, and when the user last heard of it.
struct APIOutage: Sendable {
    let since: ContinuousClock.Instant
    let limit: Duration
    var waits = 0
    var lastReported: ContinuousClock.Instant?

    static let maxRetryInterval: Duration = .seconds(5)
    static let reportInterval: Duration = .seconds(10)

    /// The wait before asking again: 1 s doubling up to `maxRetryInterval`, or what the server asked for
    /// (Retry-After), never past the limit.
    func nextWait(retryAfter: Duration?, now: ContinuousClock.Instant) -> Duration {
        let backoff = min(.seconds(1) * (1 << min(waits, 6)), Self.maxRetryInterval)
        let wanted = retryAfter.map { max($0, .milliseconds(100)) } ?? backoff
        return max(.zero, min(wanted, since + limit - now))
    }

    func expired(now: ContinuousClock.Instant) -> Bool { now - since >= limit }

    static func seconds(_ duration: Duration) -> String { BatchProgress.format(duration) }
}

/// Availability of the API server, decided in one place: a request that fails because the control plane
/// is away (`KubeAPIError.isAPIUnavailable`) is asked again after a wait, for as long as
/// `--api-unavailable-timeout` allows. Nothing is rolled back for it: only a verdict about a node, or the
/// migration's own `--timeout`, does that. Before the request is sent again, the Lease is confirmed: it may
/// have expired while renewals could not reach the server, and another process may hold it now.
extension MigrationRunner {
    /// `body`'s answer once the API server gives one: success, or a failure that is about the request. Throws
    /// only to stop the run: the API away beyond the limit (exit 5), or the Lease taken meanwhile (exit 1).
    func apiResult<T: Sendable>(
        _ body: () async throws(KubeAPIError) -> T
    ) async throws(StepFailure) -> Result<T, KubeAPIError> {
        var outage: APIOutage?
        while true {
            let sent = ContinuousClock.now
            let result: Result<T, KubeAPIError>
            do throws(KubeAPIError) {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            guard case .failure(let error) = result, error.isAPIUnavailable else {
                if let outage {
                    progress("API server answers again after \(APIOutage.seconds(.now - outage.since)); continuing where the migration was")
                    state.log("API server unreachable for \(APIOutage.seconds(.now - outage.since)); continued")
                }
                return result
            }
            var current = outage ?? APIOutage(since: sent, limit: apiUnavailableTimeout)
            try await waitForAPI(&current, after: error)
            outage = current
        }
    }

    /// Waits until the API server answers the Lease check, reporting the pause every ten seconds.
    private func waitForAPI(_ outage: inout APIOutage, after error: KubeAPIError) async throws(StepFailure) {
        var retryAfter = error.retryAfter
        var lastError = error
        while true {
            let now = ContinuousClock.now
            if outage.expired(now: now) {
                await lock.abandon()
                throw StepFailure(stop: unavailableTooLong(outage, lastError))
            }
            if outage.lastReported.map({ now - $0 >= APIOutage.reportInterval }) ?? true {
                progress("API server unreachable for \(APIOutage.seconds(now - outage.since)), waiting; the migration is paused, nothing is rolled back")
                logger.debug("API server unavailable: \(lastError.description)")
                outage.lastReported = now
            }
            let wait = outage.nextWait(retryAfter: retryAfter, now: now)
            outage.waits += 1
            do {
                try await Task.sleep(for: wait)
            } catch {
                // Cancelled: the Lease check below runs at once and decides.
            }
            switch await lock.confirm() {
            case .success(.held): return
            case .success(.lostTo(let holder)):
                await lock.abandon()
                throw StepFailure(stop: MigrationLock.lost(to: holder, namespace: namespace, during: "while the API server was unreachable"))
            case .failure(let failure) where failure.isAPIUnavailable:
                retryAfter = failure.retryAfter
                lastError = failure
            case .failure:
                // The API answers; the request itself says what is wrong.
                return
            }
        }
    }

    private func unavailableTooLong(_ outage: APIOutage, _ error: KubeAPIError) -> KPSwitchError {
        let record = state.record
        var inPlace = record.done.map(\.summary)
        if let rollback = record.rollback {
            inPlace += rollback.prefix(record.rollbackCompleted).map { "rollback: \($0.summary)" }
        }
        let at = state.currentStep.map { "at '\($0)'" } ?? "between steps"
        return KPSwitchError(
            status: .rollbackIncomplete,
            message: "the API server has been unreachable for \(APIOutage.seconds(outage.limit)) (--api-unavailable-timeout; last error: \(error.description)); kpswitch stopped \(at) without attempting a rollback it could not perform. Done and in place: \(inPlace.isEmpty ? "nothing" : inPlace.joined(separator: "; ")). The state is recorded in ConfigMap \(namespace)/\(MigrationState.configMapName).",
            remediation: "Once the API server answers again, run kpswitch migrate --resume to finish the migration or kpswitch rollback to undo it, from any machine: both continue from the recorded step.",
            runbook: .rollback("exit-5-rollback-incomplete"))
    }
}
