import Foundation
import Subprocess

/// Runs node programs: always an argv array, never a shell string, so no rule text or set name is
/// ever interpreted by a shell.
///
/// `prefix` is put before every argv, which is how one runner works inside a network namespace
/// (`["ip", "netns", "exec", "NAME"]`) or on the host through `nsenter`.
public struct CommandRunner: Sendable {
    /// Where programs are looked up; a node's PATH may lack the sbin directories when run via sudo.
    public static let searchPath = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    public let prefix: [String]

    public init(prefix: [String] = []) {
        self.prefix = prefix
    }

    /// What a program's standard input is.
    public enum Input: Sendable {
        case none
        case bytes([UInt8])
        /// Read from an open descriptor (a bundle file); the caller keeps ownership.
        case fileDescriptor(Int32)
    }

    /// Where a program's standard output goes.
    public enum Output: Sendable {
        /// Collected in memory, failing the run if it is larger than `limit` bytes.
        case collect(limit: Int)
        /// Written straight to an open descriptor (a bundle file), never held in memory.
        case fileDescriptor(Int32)
    }

    /// The full path of `program` if it is installed, else nil; a query, not an error.
    public func locate(_ program: String) -> String? {
        if program.contains("/") {
            return FileManager.default.isExecutableFile(atPath: program) ? program : nil
        }
        return Self.searchPath.lazy.map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `argv` to completion and returns its status and output; a program that cannot be started
    /// is an error, a program that exits non-zero is not (callers judge the status).
    public func run(
        _ argv: [String], input: Input = .none, output: Output = .collect(limit: 16 << 20),
        errorLimit: Int = 1 << 20
    ) async throws(NodeStateError) -> CommandResult {
        let full = prefix + argv
        guard let program = full.first else {
            throw NodeStateError(.commandFailed, "An empty command was given.", remediation: "Report this as a kpswitch bug.")
        }
        guard let path = locate(program) else {
            throw NodeStateError(
                .programMissing(program), "\(program) is not installed (looked in \(Self.searchPath.joined(separator: ":"))).",
                remediation: "Install the package that provides \(program).")
        }
        let executable = Executable.path(.init(path))
        let arguments = Arguments(Array(full.dropFirst()))
        do {
            switch (input, output) {
            case (.none, .collect(let limit)):
                let r = try await Subprocess.run(
                    executable, arguments: arguments, output: .bytes(limit: limit), error: .bytes(limit: errorLimit))
                return CommandResult(argv: full, status: r.terminationStatus, stdout: r.standardOutput, stderr: r.standardError)
            case (.bytes(let bytes), .collect(let limit)):
                let r = try await Subprocess.run(
                    executable, arguments: arguments, input: .array(bytes), output: .bytes(limit: limit),
                    error: .bytes(limit: errorLimit))
                return CommandResult(argv: full, status: r.terminationStatus, stdout: r.standardOutput, stderr: r.standardError)
            case (.fileDescriptor(let fd), .collect(let limit)):
                let r = try await Subprocess.run(
                    executable, arguments: arguments,
                    input: .fileDescriptor(.init(rawValue: fd), closeAfterSpawningProcess: false),
                    output: .bytes(limit: limit), error: .bytes(limit: errorLimit))
                return CommandResult(argv: full, status: r.terminationStatus, stdout: r.standardOutput, stderr: r.standardError)
            case (.none, .fileDescriptor(let fd)):
                let r = try await Subprocess.run(
                    executable, arguments: arguments,
                    output: .fileDescriptor(.init(rawValue: fd), closeAfterSpawningProcess: false),
                    error: .bytes(limit: errorLimit))
                return CommandResult(argv: full, status: r.terminationStatus, stdout: [], stderr: r.standardError)
            case (.bytes(let bytes), .fileDescriptor(let fd)):
                let r = try await Subprocess.run(
                    executable, arguments: arguments, input: .array(bytes),
                    output: .fileDescriptor(.init(rawValue: fd), closeAfterSpawningProcess: false),
                    error: .bytes(limit: errorLimit))
                return CommandResult(argv: full, status: r.terminationStatus, stdout: [], stderr: r.standardError)
            case (.fileDescriptor(let inFD), .fileDescriptor(let outFD)):
                let r = try await Subprocess.run(
                    executable, arguments: arguments,
                    input: .fileDescriptor(.init(rawValue: inFD), closeAfterSpawningProcess: false),
                    output: .fileDescriptor(.init(rawValue: outFD), closeAfterSpawningProcess: false),
                    error: .bytes(limit: errorLimit))
                return CommandResult(argv: full, status: r.terminationStatus, stdout: [], stderr: r.standardError)
            }
        } catch let error as SubprocessError where error.code == .outputLimitExceeded {
            throw NodeStateError(
                .commandFailed, "\(full.joined(separator: " ")) wrote more output than kpswitch collects in memory.",
                remediation: "Report this as a kpswitch bug: the output should have been streamed to a file.")
        } catch {
            throw NodeStateError(
                .commandFailed, "\(full.joined(separator: " ")) could not be run: \(error).",
                remediation: "Check that \(program) is executable by this user.")
        }
    }

    /// Runs `argv` and returns its output as text, throwing when it exits non-zero.
    public func output(_ argv: [String], input: Input = .none) async throws(NodeStateError) -> String {
        let result = try await run(argv, input: input)
        try result.check()
        return result.stdoutText
    }
}

/// How a program ended and what it wrote.
public struct CommandResult: Sendable {
    public let argv: [String]
    public let status: TerminationStatus
    public let stdout: [UInt8]
    public let stderr: [UInt8]

    public var succeeded: Bool { status.isSuccess }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// Throws, quoting the program's own complaint, unless it exited 0.
    public func check() throws(NodeStateError) {
        guard !succeeded else { return }
        let complaint = stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
        throw NodeStateError(
            .commandFailed,
            "\(argv.joined(separator: " ")) failed (\(status))\(complaint.isEmpty ? "" : ": \(complaint)").",
            remediation: "Run the command by hand as root to see why.")
    }
}
