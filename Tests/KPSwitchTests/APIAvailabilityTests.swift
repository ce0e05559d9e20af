import Testing
@testable import KPSwitch

/// The wait rule while the API server is away (APIAvailability.swift).
@Suite("waiting out an API outage")
struct APIAvailabilityTests {
    let start = ContinuousClock.now

    @Test("backoff doubles from 1 s to 5 s")
    func backoff() {
        var outage = APIOutage(since: start, limit: .seconds(600))
        var waits: [Duration] = []
        for _ in 0..<5 {
            waits.append(outage.nextWait(retryAfter: nil, now: start))
            outage.waits += 1
        }
        #expect(waits == [.seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
    }

    @Test("Retry-After is honoured, and no wait runs past the limit")
    func retryAfterAndLimit() {
        let outage = APIOutage(since: start, limit: .seconds(10))
        #expect(outage.nextWait(retryAfter: .seconds(3), now: start) == .seconds(3))
        #expect(outage.nextWait(retryAfter: .seconds(30), now: start + .seconds(8)) == .seconds(2))
        #expect(outage.nextWait(retryAfter: nil, now: start + .seconds(10)) == .zero)
        #expect(!outage.expired(now: start + .seconds(9)))
        #expect(outage.expired(now: start + .seconds(10)))
    }
}
