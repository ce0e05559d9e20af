import Testing
@testable import KubeSim

/// `faults.outages` in a scenario file (Docs/kube-sim-scenarios.md).
@Suite("outage faults in a scenario")
struct OutageScenarioTests {
    @Test("kinds, durations and triggers are read")
    func parsed() throws {
        let scenario = try Scenario(yaml: """
            faults:
              outages:
                - kind: hang
                  duration: 40s
                  atCompleted: 5
                - kind: "503"
                  duration: 1m
                  after: 2s
            """, baseDirectory: "/")
        let outages = scenario.faults.outages
        #expect(outages.map(\.kind) == [.hang, .unavailable])
        #expect(outages.map(\.duration) == [.seconds(40), .seconds(60)])
        #expect(outages[0].atCompleted == 5 && outages[0].after == nil)
        #expect(outages[1].after == .seconds(2) && outages[1].atCompleted == nil)
    }

    @Test("an unknown kind, or not exactly one trigger, is refused naming the field", arguments: [
        ("kind: freeze\n      duration: 1s\n      after: 1s", "faults.outages[0].kind"),
        ("kind: refuse\n      duration: 1s", "exactly one of after and atCompleted"),
        ("kind: refuse\n      duration: 1s\n      after: 1s\n      atCompleted: 2", "exactly one of after and atCompleted"),
    ])
    func refused(_ entry: String, _ expected: String) {
        #expect {
            try Scenario(yaml: "faults:\n  outages:\n    - \(entry)\n", baseDirectory: "/")
        } throws: { error in
            "\(error)".contains(expected)
        }
    }
}
