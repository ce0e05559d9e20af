import Foundation
import Testing

@Suite("install step")
struct InstallTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test("make install-files honours PREFIX and makes kpswitch a kubectl plugin")
    func kubectlPlugin() throws {
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("kpswitch-install-\(UUID())")
        defer { try? FileManager.default.removeItem(at: prefix) }
        let make = try Self.run("/usr/bin/make", ["-C", Self.packageRoot.path, "install-files",
                                                   "PREFIX=\(prefix.path)", "BINARY=\(KPSwitchBinary.url.path)"])
        #expect(make.status == 0, "\(make.output)")
        let bin = prefix.appendingPathComponent("bin")
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: bin.appendingPathComponent("kubectl-kpswitch").path)
        #expect(link == "kpswitch")
        for completion in ["share/bash-completion/completions/kpswitch", "share/zsh/site-functions/_kpswitch",
                           "share/fish/vendor_completions.d/kpswitch.fish"] {
            let text = try String(contentsOf: prefix.appendingPathComponent(completion), encoding: .utf8)
            #expect(text.contains("migrate"), "\(completion) does not complete subcommands")
        }

        let kubectl = try Self.run("/usr/bin/env", ["kubectl", "kpswitch", "--help"],
                                   path: bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? ""))
        #expect(kubectl.status == 0, "\(kubectl.output)")
        #expect(kubectl.output.contains("SUBCOMMANDS:") && kubectl.output.contains("rollback"))
    }

    static func run(_ executable: String, _ arguments: [String], path: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        if let path { environment["PATH"] = path }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
