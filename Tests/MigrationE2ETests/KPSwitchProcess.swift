import Foundation

/// The built `kpswitch` binary run as a user runs it, stdin not a terminal. Each run waits on its own thread,
/// never on the Swift concurrency pool, so that two runs at once (and the simulator) never starve each other.
final class KPSwitchProcess: Sendable {
    struct Result: Sendable, CustomStringConvertible {
        let arguments: [String]
        let status: Int32
        /// True when the process ended by a signal (SIGKILL from a test).
        let signalled: Bool
        let stdout: String
        let stderr: String

        var description: String {
            "kpswitch \(arguments.joined(separator: " ")) → \(signalled ? "signal" : "exit") \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
        }

        /// The single JSON document `-o json` prints on stdout.
        func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
                throw E2EFailure("stdout is not a JSON object:\n\(self)")
            }
            return object
        }
    }

    /// The test bundle sits beside the products SwiftPM built; KPSWITCH_BIN overrides (an installed copy, say).
    static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["KPSWITCH_BIN"] { return URL(fileURLWithPath: path) }
        var directory = Bundle.main.bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        let candidate = directory.appendingPathComponent("kpswitch")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kpswitch")
    }()

    let arguments: [String]
    let pid: Int32
    private let finished = Locked<(result: Result?, waiters: [CheckedContinuation<Result, Never>])>((nil, []))

    /// Starts the binary; `wait()` collects its result.
    init(_ arguments: [String]) throws {
        self.arguments = arguments
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        pid = process.processIdentifier
        let thread = Thread { [finished] in
            // Drain both pipes before waiting, so a chatty run cannot fill one and block.
            let errData = Locked(Data())
            let errDone = DispatchSemaphore(value: 0)
            Thread {
                errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() }
                errDone.signal()
            }.start()
            let outData = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            errDone.wait()
            let result = Result(
                arguments: arguments, status: process.terminationStatus,
                signalled: process.terminationReason == .uncaughtSignal,
                stdout: String(decoding: outData, as: UTF8.self),
                stderr: String(decoding: errData.value, as: UTF8.self))
            let waiters = finished.withLock { state in
                state.result = result
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: result) }
        }
        thread.start()
    }

    /// Waits for the process to end.
    func wait() async -> Result {
        await withCheckedContinuation { continuation in
            let done = finished.withLock { state -> Result? in
                if let result = state.result { return result }
                state.waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// SIGKILL, as an operator's laptop losing power or an OOM kill would.
    func kill() {
        _ = Foundation.kill(pid, SIGKILL)
    }

    /// Runs to the end.
    static func run(_ arguments: [String]) async throws -> Result {
        try await KPSwitchProcess(arguments).wait()
    }
}

/// A test precondition that did not hold, with what was seen.
struct E2EFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
