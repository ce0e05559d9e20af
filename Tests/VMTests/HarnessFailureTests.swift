import Foundation
import Testing
import VMHarness

/// The harness must be able to fail: a guest command that fails makes a failed run whose report
/// carries the console tail, so a broken node-scope test can never pass by accident.
@Suite("test bed failure reporting", .enabled(if: VMGuest.isEnabled, "KPSWITCH_SKIP_VM=1 runs host tests only"))
struct HarnessFailureTests {
    @Test("a failing guest command fails the run and the report shows the console tail")
    func failingCommandIsReported() async throws {
        let run = try await VMGuest.run(script: """
            echo "marker: before the failing command"
            ipvsadm -A -t 10.0.0.1:80 -s no-such-scheduler
            echo "marker: never printed"
            """)
        #expect(!run.succeeded)
        #expect(run.status != 0)
        #expect(!run.timedOut)
        #expect(run.output.contains("marker: before the failing command"))
        #expect(!run.output.contains("marker: never printed"))
        #expect(run.consoleTail.contains("guest script exited with status \(run.status)"))

        let error = try #require(throws: VMHarnessError.self) { try run.requireSuccess() }
        let report = "\(error)"
        #expect(report.contains("exited with status \(run.status)"))
        #expect(report.contains("marker: before the failing command"), "the report lacks the console tail: \(report)")
    }

    @Test("a guest that hangs is killed at its time limit and reported as failed")
    func hangingGuestIsKilled() async throws {
        // Killed during boot or during the sleep, depending on the host's load: a timeout either way.
        let run = try await VMGuest.run(script: "sleep 600", timeout: .seconds(15))
        #expect(run.timedOut)
        #expect(!run.succeeded)
        #expect(run.runnerLog.contains("did not finish within 15s"), "\(run.runnerLog)")
        let error = try #require(throws: VMHarnessError.self) { try run.requireSuccess() }
        #expect("\(error)".contains("was killed at its time limit"))
    }
}
