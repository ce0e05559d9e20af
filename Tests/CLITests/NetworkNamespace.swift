import Foundation

/// A throwaway network namespace for tests that touch netfilter: created empty, deleted by `remove()`
/// (call it in a `defer`), so a failing test leaves nothing behind on the host.
struct NetworkNamespace {
    let name: String

    /// Namespaces need root and iproute2; CI runs as root with both.
    static var available: Bool {
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    }

    init() throws {
        name = "kpsw-\(UUID().uuidString.prefix(8).lowercased())"
        try Self.run(["ip", "netns", "add", name])
    }

    func remove() {
        _ = try? Self.run(["ip", "netns", "delete", name])
    }

    /// Runs argv inside the namespace, failing the caller when it exits non-zero.
    @discardableResult
    func exec(_ argv: [String], input: String? = nil) throws -> String {
        try Self.run(["ip", "netns", "exec", name] + argv, input: input)
    }

    /// Runs kpswitch inside the namespace.
    func kpswitch(_ arguments: [String]) throws -> KPSwitchBinary.Result {
        try KPSwitchBinary.run(arguments, wrapper: ["/usr/sbin/ip", "netns", "exec", name])
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    @discardableResult
    static func run(_ argv: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        let out = Pipe()
        let err = Pipe()
        let stdin = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(argv.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
        }
        return String(decoding: output, as: UTF8.self)
    }
}
