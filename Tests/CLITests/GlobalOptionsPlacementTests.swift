import Foundation
import KubeSim
import Testing

/// kubectl's habit: global options before or after the subcommand mean the same, errors included.
@Suite("global options before or after the subcommand", .serialized)
struct GlobalOptionsPlacementTests {
    /// Every command, with arguments that finish fast and change nothing (dry runs, refusals, reads).
    static let commands: [[String]] = [
        ["status"], ["advise"], ["preflight", "--scope", "cluster", "--to", "nftables"],
        ["migrate", "--to", "nftables", "--dry-run"], ["rollback", "--yes"],
        ["snapshot", "--scope", "cluster", "--out", "/dev/null/kpswitch-placement"],
        ["snapshot", "verify", "/nonexistent/bundle"], ["snapshot", "show", "/nonexistent/bundle"],
        ["cleanup", "--mode", "ipvs", "--dry-run"], ["restore", "/nonexistent/bundle", "--dry-run"],
    ]

    static func globals(_ kubeconfig: String) -> [String] {
        ["--kubeconfig", kubeconfig, "--context=kube-sim", "-n", "kube-system", "-o", "json", "--no-color", "-v=2"]
    }

    /// A snapshot's bundle is named by the second it was taken (`vm-20261203T073959Z`), which two runs may not share.
    static func timeless(_ output: String) -> String {
        output.replacingOccurrences(of: #"[0-9]{8}T[0-9]{6}Z"#, with: "<time>", options: .regularExpression)
    }

    @Test("every command gives the same exit status and stdout with the global options on either side")
    func eitherSide() async throws {
        // Rolled out first, so status reads the same pods both times.
        let cluster = try await MigrateTests.Cluster.start(try MigrateTests.kubeadm())
        let kubeconfig = cluster.kubeconfig
        for command in Self.commands {
            let after = try KPSwitchBinary.run(command + Self.globals(kubeconfig))
            let before = try KPSwitchBinary.run(Self.globals(kubeconfig) + command)
            let split = try KPSwitchBinary.run([command[0]] + Self.globals(kubeconfig) + command.dropFirst())
            #expect(after.status == before.status, "\(command): \(after.stderr) / \(before.stderr)")
            #expect(Self.timeless(after.stdout) == Self.timeless(before.stdout), "\(command)")
            #expect(after.status == split.status && Self.timeless(after.stdout) == Self.timeless(split.stdout), "\(command)")
            #expect(!after.stdout.isEmpty, "\(command) printed no JSON: \(after.stderr)")
            #expect(!before.stderr.contains("Unknown option"), "\(command): \(before.stderr)")
        }
        try await cluster.stop()
    }

    @Test("a bad value before the subcommand is the same usage error as after it: exit 2 naming the flag", arguments: [
        (["--output", "yaml", "status"], "--output"), (["-o", "yaml", "advise"], "-o"),
        (["--output=yaml", "status"], "--output"), (["-v=loud", "status"], "--verbose"),
        (["--kubeconfig", "/nonexistent/kubeconfig", "status"], "/nonexistent/kubeconfig"),
    ])
    func badValue(_ arguments: [String], _ mention: String) throws {
        let before = try KPSwitchBinary.run(arguments)
        let after = try KPSwitchBinary.run(Array(arguments.drop { $0 != "status" && $0 != "advise" }) + arguments.prefix { $0 != "status" && $0 != "advise" })
        #expect(before.status == 2, "\(before.stderr)")
        #expect(before.stderr.contains(mention), "\(before.stderr)")
        #expect(before.stderr == after.stderr && before.status == after.status)
    }

    @Test("kubectl's -v spellings are accepted: -v, -v=6, --v=6, -v 8, before or after", arguments: [
        ["-v"], ["-v=6"], ["--v=6"], ["-v", "8"], ["--verbose", "4"],
    ])
    func verbositySpellings(_ spelling: [String]) throws {
        for arguments in [spelling + ["status", "--kubeconfig", "/nonexistent/kubeconfig"], ["status"] + spelling + ["--kubeconfig", "/nonexistent/kubeconfig"]] {
            let result = try KPSwitchBinary.run(arguments)
            // The kubeconfig is missing on purpose: parsing succeeded when the error is about the file.
            #expect(result.status == 2 && result.stderr.contains("/nonexistent/kubeconfig"), "\(arguments): \(result.stderr)")
        }
    }

    @Test("kubectl kpswitch passes the options through before the subcommand too")
    func kubectlPlugin() async throws {
        let sim = try await KubeSimServer.startRolledOut(scenario: try MigrateTests.kubeadm())
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("placement-plugin-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let kubeconfig = directory.appendingPathComponent("kubeconfig").path
        try sim.writeKubeconfig(to: kubeconfig)
        try FileManager.default.createSymbolicLink(
            atPath: directory.appendingPathComponent("kubectl-kpswitch").path, withDestinationPath: KPSwitchBinary.url.path)
        let path = directory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "")
        let plugin = try InstallTests.run("/usr/bin/env", ["kubectl", "kpswitch", "--kubeconfig", kubeconfig, "-o", "json", "advise"], path: path)
        let direct = try KPSwitchBinary.run(["advise", "--kubeconfig", kubeconfig, "-o", "json"])
        try await sim.shutdown()
        #expect(plugin.status == 0, "\(plugin.output)")
        #expect(direct.status == 0 && plugin.output.contains(direct.stdout), "\(plugin.output)")
    }

    @Test("help shows each global option once; the root help says they go on either side")
    func help() throws {
        let status = try KPSwitchBinary.run(["status", "--help"])
        for option in ["--kubeconfig", "--context", "--namespace", "--output", "--verbose", "--no-color"] {
            let lines = status.stdout.split(separator: "\n").filter { 
                let text = $0.trimmingCharacters(in: .whitespaces)
                return text.hasPrefix("-") && (text.contains(option + " ") || text.hasSuffix(option))
            }
            #expect(lines.count == 1, "\(option): \(lines)")
        }
        let root = try KPSwitchBinary.run(["--help"])
        #expect(root.stdout.contains("Global options, before or after the command"))
    }
}
