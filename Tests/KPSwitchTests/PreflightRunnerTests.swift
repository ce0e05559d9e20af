import Testing
@testable import KPSwitch

/// A check that returns what it is given: the runner's rules are about names and severities, not kernels.
private struct Canned: PreflightCheck {
    let name: CheckName
    let scope: CheckScope = .node
    let findings: [Finding]

    func run() async -> [Finding] { findings }
}

@Suite("preflight runner")
struct PreflightRunnerTests {
    static let checks: [any PreflightCheck] = [
        Canned(name: "IPVSKernelSupport", findings: [.error("ip_vs is absent", subject: "ip_vs"), .note("ip_vs_rr is loaded")]),
        Canned(name: "IPSetVersion", findings: [.warning("ipset is old-ish")]),
        Canned(name: "NFTablesUsable", findings: [.skipped("needs root")]),
        Canned(name: "ProxySysctls", findings: [.note("net/ipv4/ip_forward=1")]),
    ]

    @Test("statuses follow the worst finding; an all-skipped check is skipped, not passed")
    func statuses() async throws {
        let report = await try PreflightRunner(checks: Self.checks, ignoring: []).run(target: .ipvs, host: "n1")
        #expect(report.checks.map(\.status) == [.error, .warning, .skipped, .passed])
        #expect(report.isBlocking)
        #expect(report.summary == PreflightReport.Summary(passed: 1, warnings: 1, errors: 1, skipped: 1))
    }

    @Test("an ignored error becomes a warning marked ignored, whatever the case of its name",
          arguments: ["ipvskernelsupport", "IPVSKernelSupport", "all", "ALL"])
    func ignore(_ name: String) async throws {
        let report = await try PreflightRunner(checks: Self.checks, ignoring: [name]).run(target: .ipvs, host: nil)
        let check = try #require(report.checks.first)
        #expect(check.status == .warning)
        #expect(check.findings[0].severity == .warning && check.findings[0].ignored)
        #expect(check.findings[1].severity == .note && !check.findings[1].ignored)
        #expect(!report.isBlocking)
    }

    @Test("ignoring another check leaves the error blocking")
    func ignoreOther() async throws {
        let report = await try PreflightRunner(checks: Self.checks, ignoring: ["IPSetVersion"]).run(target: .ipvs, host: nil)
        #expect(report.isBlocking)
    }

    @Test("an unknown name is a usage error listing the valid names")
    func unknownName() {
        #expect {
            _ = try PreflightRunner(checks: Self.checks, ignoring: ["IPVSKernelSupprot"])
        } throws: { error in
            guard let error = error as? KPSwitchError else { return false }
            return error.status == .usageError && error.message.contains("ipvskernelsupprot")
                && (error.remediation ?? "").contains("IPSetVersion, IPVSKernelSupport, NFTablesUsable, ProxySysctls")
        }
    }
}
