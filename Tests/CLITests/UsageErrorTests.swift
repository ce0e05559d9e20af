import Testing

@Suite("usage errors exit 2 with one line naming the flag")
struct UsageErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let mentions: [String]
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(arguments: ["migrate", "--to", "userspace"], mentions: ["--to", "'iptables', 'ipvs' or 'nftables'"]),
        Case(arguments: ["preflight", "--to", "ebpf"], mentions: ["--to"]),
        Case(arguments: ["cleanup", "--mode", "kernelspace"], mentions: ["--mode"]),
        Case(arguments: ["cleanup"], mentions: ["--mode"]),
        Case(arguments: ["migrate"], mentions: ["--to"]),
        Case(arguments: ["migrate", "--to", "ipvs", "--timeout", "5x"], mentions: ["--timeout", "90s"]),
        Case(arguments: ["migrate", "--to", "ipvs", "--timeout", "10"], mentions: ["--timeout"]),
        Case(arguments: ["rollback", "--timeout", "m5"], mentions: ["--timeout"]),
        Case(arguments: ["migrate", "--to", "ipvs", "--batches", "1,50%"], mentions: ["--batches", "100%"]),
        Case(arguments: ["migrate", "--to", "ipvs", "--batches", "0,100%"], mentions: ["--batches"]),
        Case(arguments: ["migrate", "--to", "ipvs", "--batches", "1,150%"], mentions: ["--batches"]),
        Case(arguments: ["migrate", "--to", "nftables", "--scheduler", "lc"], mentions: ["--scheduler", "--to ipvs"]),
        Case(arguments: ["migrate", "--to", "iptables", "--strict-arp"], mentions: ["--strict-arp"]),
        Case(arguments: ["migrate", "--to", "ipvs", "--strategy", "rolling", "--batches", "1,100%"], mentions: ["--batches", "--strategy"]),
        Case(arguments: ["migrate", "--to", "ipvs", "--strategy", "bluegreen"], mentions: ["--strategy"]),
        Case(arguments: ["migrate", "--to", "nftables", "--cleanup", "init-container"], mentions: ["--cleanup"]),
        Case(arguments: ["migrate", "--to", "ipvs", "--cleanup", "everything"], mentions: ["--cleanup"]),
        Case(arguments: ["migrate", "--resume", "--dry-run"], mentions: ["--resume", "--dry-run"]),
        Case(arguments: ["migrate", "--resume", "--to", "ipvs"], mentions: ["--resume", "--to"]),
        Case(arguments: ["preflight", "--to", "ipvs", "--node-concurrency", "0"], mentions: ["--node-concurrency", "1 to 100"]),
        Case(arguments: ["migrate", "--to", "ipvs", "--node-concurrency", "500"], mentions: ["--node-concurrency", "1 to 100"]),
        Case(arguments: ["migrate", "--to", "ipvs", "--ignore-preflight-errors", "all,IPSetVersion"], mentions: ["--ignore-preflight-errors", "'all'"]),
        Case(arguments: ["migrate", "--to", "ipvs", "--ignore-preflight-errors", "a,,b"], mentions: ["--ignore-preflight-errors"]),
        Case(arguments: ["preflight", "--to", "iptables", "--scheduler", "rr"], mentions: ["--scheduler"]),
        Case(arguments: ["preflight", "--scope", "cluster", "--load-modules"], mentions: ["--load-modules", "--scope"]),
        Case(arguments: ["preflight", "--scope", "galaxy"], mentions: ["--scope"]),
        Case(arguments: ["status", "-o", "yaml"], mentions: ["-o", "'text' and 'json'"]),
        Case(arguments: ["status", "--output", "yaml"], mentions: ["--output"]),
        Case(arguments: ["restore", "/tmp/bundle", "--scope", "cluster"], mentions: ["--scope", "rollback"]),
        Case(arguments: ["restore"], mentions: ["<dir>"]),
        Case(arguments: ["status", "--frobnicate"], mentions: ["--frobnicate"]),
        Case(arguments: ["teleport"], mentions: ["teleport"]),
    ]

    @Test(arguments: cases)
    func usageError(_ testCase: Case) throws {
        let result = try KPSwitchBinary.run(testCase.arguments)
        #expect(result.status == 2, "stderr: \(result.stderr)")
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "expected one line, got: \(result.stderr)")
        #expect(result.stderr.hasPrefix("Error: "))
        for mention in testCase.mentions {
            #expect(result.stderr.contains(mention), "'\(mention)' missing from: \(result.stderr)")
        }
    }
}
