import Foundation

/// Runs the built `kpswitch` binary the way a user does: argv in, stdout, stderr and exit status out.
struct KPSwitchBinary {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The test bundle sits beside the products SwiftPM built, so the binary is found whatever the
    /// scratch path; KPSWITCH_BIN overrides it (an installed copy, say).
    static let url: URL = {
        if let path = ProcessInfo.processInfo.environment["KPSWITCH_BIN"] {
            return URL(fileURLWithPath: path)
        }
        var directory = Bundle.main.bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        let candidate = directory.appendingPathComponent("kpswitch")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("kpswitch")
    }()

    /// `wrapper` runs the binary through another program, such as `ip netns exec NAME`.
    static func run(
        _ arguments: [String], environment: [String: String] = [:], wrapper: [String] = [], binary: URL = url
    ) throws -> Result {
        let process = Process()
        if let program = wrapper.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(wrapper.dropFirst()) + [binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes to the end, at once, before waiting: a large help text or a -v=8 log on stderr would
        // otherwise fill one pipe while the other is read, and block the binary.
        nonisolated(unsafe) var errData = Data()
        let stderrRead = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            stderrRead.signal()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        stderrRead.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self)
        )
    }
}
