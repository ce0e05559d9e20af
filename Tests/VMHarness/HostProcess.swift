import Foundation

/// Runs the harness's shell scripts on the host without blocking a Swift concurrency thread.
enum HostProcess {
    enum Output {
        case nullDevice
        case standardError
    }

    static func run(_ program: URL, _ arguments: [String], standardOutput: Output, standardError log: URL) async throws -> Int32 {
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw VMHarnessError.launchFailed(program: program.path, reason: "cannot create \(log.path)")
        }
        let logHandle = try FileHandle(forWritingTo: log)
        defer { try? logHandle.close() }  // closing a log file we wrote
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        switch standardOutput {
        case .nullDevice: process.standardOutput = FileHandle.nullDevice
        case .standardError: process.standardOutput = FileHandle.standardError
        }
        process.standardError = logHandle
        return try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in
                continuation.resume(returning: finished.terminationStatus)
            }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: VMHarnessError.launchFailed(program: program.path, reason: "\(error)"))
            }
        }
    }
}
