import Foundation
import Testing

@testable import KubeAPI

@Suite("retry policy")
struct RetryPolicyTests {
    let policy = RetryPolicy()

    @Test("idempotent verbs retry on 429, 5xx and connection failures", arguments: ["GET", "PUT", "DELETE"])
    func retriesIdempotent(_ method: String) {
        for outcome: RetryPolicy.Outcome in [.status(429), .status(500), .status(503), .status(504), .connectionFailure] {
            #expect(policy.delay(method: method, outcome: outcome, attempt: 1, retryAfter: nil, jitter: 0.5) != nil)
        }
    }

    @Test("POST and PATCH are never retried", arguments: ["POST", "PATCH"])
    func neverRetriesNonIdempotent(_ method: String) {
        for outcome: RetryPolicy.Outcome in [.status(429), .status(500), .connectionFailure] {
            #expect(policy.delay(method: method, outcome: outcome, attempt: 1, retryAfter: nil, jitter: 0.5) == nil)
        }
    }

    @Test("client errors and 501 are final", arguments: [400, 401, 403, 404, 409, 410, 422, 501])
    func finalCodes(_ code: Int) {
        #expect(policy.delay(method: "GET", outcome: .status(code), attempt: 1, retryAfter: nil, jitter: 0.5) == nil)
    }

    @Test("backoff doubles per attempt, within [step/2, step), capped")
    func exponentialWithJitter() {
        let steps: [Duration] = [.milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600)]
        for (index, step) in steps.enumerated() {
            let low = policy.delay(method: "GET", outcome: .status(500), attempt: index + 1, retryAfter: nil, jitter: 0)
            let high = policy.delay(method: "GET", outcome: .status(500), attempt: index + 1, retryAfter: nil, jitter: 0.999)
            #expect(low == step / 2)
            #expect(high.map { $0 < step && $0 > step / 2 } == true)
        }
        var long = RetryPolicy()
        long.maxAttempts = 30
        #expect(long.delay(method: "GET", outcome: .status(500), attempt: 25, retryAfter: nil, jitter: 0.999)! <= long.maxDelay)
    }

    @Test("gives up after maxAttempts")
    func givesUp() {
        #expect(policy.delay(method: "GET", outcome: .status(500), attempt: policy.maxAttempts, retryAfter: nil, jitter: 0) == nil)
    }

    @Test("Retry-After is honoured exactly, and too long a wait is not taken")
    func retryAfter() {
        #expect(policy.delay(method: "GET", outcome: .status(429), attempt: 1, retryAfter: .seconds(3), jitter: 0.7) == .seconds(3))
        #expect(policy.delay(method: "GET", outcome: .status(429), attempt: 1, retryAfter: .seconds(3600), jitter: 0) == nil)
    }

    @Test("Retry-After parses delta-seconds and HTTP dates")
    func parseRetryAfter() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(RetryPolicy.parseRetryAfter("7", now: now) == .seconds(7))
        #expect(RetryPolicy.parseRetryAfter(" 0 ", now: now) == .seconds(0))
        #expect(RetryPolicy.parseRetryAfter("-1", now: now) == nil)
        #expect(RetryPolicy.parseRetryAfter("soon", now: now) == nil)
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        #expect(RetryPolicy.parseRetryAfter("Tue, 14 Nov 2023 22:13:30 GMT", now: now) == .seconds(10))
        #expect(RetryPolicy.parseRetryAfter("Tue, 14 Nov 2023 22:13:00 GMT", now: now) == .zero)
    }
}
