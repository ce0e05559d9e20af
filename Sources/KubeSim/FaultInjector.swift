import Synchronization

/// Injected API errors: the scenario's random rates, and scripted failures tests queue for exact requests.
public final class FaultInjector: Sendable {
    private struct Scripted {
        var verb: String
        var resource: String
        var code: Int
        var remaining: Int
    }

    private struct State {
        var errors: [Scenario.ErrorFault]
        var scripted: [Scripted] = []
        var latency: Duration = .zero
        var outage: (kind: Outage, until: ContinuousClock.Instant)?
    }

    /// How the API server is away during an outage window.
    public enum Outage: String, Sendable, CaseIterable {
        /// Accepts connections and requests and never answers, as a frozen API server (SIGSTOP, etcd stall).
        case hang
        /// Stops listening and closes open connections, then listens again on the same port: a restart.
        case refuse
        /// Answers every request 503 ServiceUnavailable with Retry-After: 1, as an API server that lost etcd.
        case unavailable = "503"
    }

    private let state: Mutex<State>

    init(errors: [Scenario.ErrorFault]) {
        state = Mutex(State(errors: errors))
    }

    /// Makes the next `count` requests with this verb on this resource (plural, e.g. "configmaps"; "*" for any)
    /// fail with `code` (403, 409, 429, 500 or 503).
    public func failNext(verb: String, resource: String, code: Int, count: Int = 1) {
        state.withLock { $0.scripted.append(Scripted(verb: verb, resource: resource, code: code, remaining: count)) }
    }

    /// Adds or replaces the random error rates.
    public func setErrorRates(_ errors: [Scenario.ErrorFault]) {
        state.withLock { $0.errors = errors }
    }

    /// Delay before every answer.
    public var latency: Duration {
        get { state.withLock { $0.latency } }
        set { state.withLock { $0.latency = newValue } }
    }

    /// The outage in force now, if any.
    public var outage: Outage? {
        state.withLock { s in
            guard let outage = s.outage else { return nil }
            if ContinuousClock.now >= outage.until {
                s.outage = nil
                return nil
            }
            return outage.kind
        }
    }

    func beginOutage(_ kind: Outage, until: ContinuousClock.Instant) {
        state.withLock { $0.outage = (kind, until) }
    }

    func injectedError(verb: String, resource: String) -> APIError? {
        let code: Int? = state.withLock { s in
            if let index = s.scripted.firstIndex(where: {
                ($0.verb == "*" || $0.verb == verb) && ($0.resource == "*" || $0.resource == resource)
            }) {
                let code = s.scripted[index].code
                s.scripted[index].remaining -= 1
                if s.scripted[index].remaining <= 0 { s.scripted.remove(at: index) }
                return code
            }
            for fault in s.errors where (fault.verbs.contains("*") || fault.verbs.contains(verb))
                && (fault.resources.contains("*") || fault.resources.contains(resource))
            {
                if Double.random(in: 0..<1) < fault.rate { return fault.code }
            }
            return nil
        }
        switch code {
        case nil: return nil
        case 429: return .tooManyRequests()
        // As PodSecurity admission refuses a privileged pod in a namespace enforcing baseline.
        case 403: return APIError(code: 403, reason: "Forbidden", message: "\(resource) is forbidden: violates PodSecurity \"baseline:latest\": injected denial")
        case 409: return APIError(code: 409, reason: "Conflict", message: "Operation cannot be fulfilled: injected conflict")
        case 503: return APIError(code: 503, reason: "ServiceUnavailable", message: "The server is currently unable to handle the request")
        default: return .internalError("injected fault")
        }
    }
}
