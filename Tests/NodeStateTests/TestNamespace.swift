import Foundation
import NodeState
import Testing

/// A throwaway network namespace: real netfilter, isolated from the host's rules, always deleted.
struct TestNamespace {
    let name: String
    let runner: CommandRunner

    /// Why namespace tests cannot run here, or nil when they can (root and `ip netns` needed).
    static let unavailable: String? = {
        guard geteuid() == 0 else { return "not root: network namespaces need CAP_SYS_ADMIN" }
        guard CommandRunner().locate("ip") != nil else { return "iproute2 is not installed" }
        return nil
    }()

    /// Creates a namespace, runs `body` in it and deletes it, also when `body` throws.
    static func with<T>(_ body: (TestNamespace) async throws -> T) async throws -> T {
        let name = "kpsw-test-\(UInt32.random(in: 0...UInt32.max))"
        try await CommandRunner().run(["ip", "netns", "add", name]).check()
        let namespace = TestNamespace(name: name, runner: CommandRunner(prefix: ["ip", "netns", "exec", name]))
        do {
            let result = try await body(namespace)
            try await CommandRunner().run(["ip", "netns", "delete", name]).check()
            return result
        } catch {
            try? await CommandRunner().run(["ip", "netns", "delete", name]).check()
            throw error
        }
    }

    @discardableResult
    func run(_ argv: [String], input: String? = nil) async throws -> String {
        let result = try await runner.run(argv, input: input.map { .bytes(Array($0.utf8)) } ?? .none,
                                          output: .collect(limit: 1 << 30))
        try result.check()
        return result.stdoutText
    }

    /// Runs the built kpswitch inside the namespace, as an operator on a node would.
    func kpswitch(_ arguments: [String]) async throws -> CommandResult {
        try await runner.run([KPSwitchBinary.path] + arguments, output: .collect(limit: 1 << 28))
    }

    /// iptables-save output without what legitimately differs between two saves: comment lines
    /// (they carry timestamps) and packet counters.
    func iptablesSave(_ variant: IPTablesVariant) async throws -> String {
        Self.normalised(try await run([variant.saveProgram]))
    }

    static func normalised(_ save: String) -> String {
        save.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            line.replacing(/\[\d+:\d+\]/, with: "[0:0]")
        }.joined(separator: "\n")
    }
}

/// Where SwiftPM put the kpswitch and kube-proxy-ruleset executables (beside the test bundle).
enum KPSwitchBinary {
    static var directory: URL {
        var directory = Bundle.main.bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        if FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("kpswitch").path) {
            return directory
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    static var path: String {
        ProcessInfo.processInfo.environment["KPSWITCH_BIN"] ?? directory.appendingPathComponent("kpswitch").path
    }
}

enum Fixture {
    static func text(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "Fixtures"))
        return try String(contentsOf: url, encoding: .utf8)
    }
}
