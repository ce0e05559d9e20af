import Foundation

/// What one guest boot reported: the script's exit status, its output, the files it left in
/// `$RESULTS`, and the whole console for diagnosis.
public struct VMRun: Sendable, CustomStringConvertible {
    /// The guest script's exit status (124 when the guest was killed at the time limit).
    public let status: Int32
    /// True when the guest ran past its time limit and was killed.
    public let timedOut: Bool
    /// What run-guest.sh said on the host (failures, the console tail it printed).
    public let runnerLog: String
    /// Everything the guest's console printed, kernel messages included.
    public let console: String
    /// The files under `$RESULTS` in the guest, by path relative to it; `output.log` (the script's
    /// stdout and stderr) and `dmesg.log` are always there.
    public let results: [String: Data]

    /// True when the script ran to the end and exited 0.
    public var succeeded: Bool { status == 0 && !timedOut }

    /// The guest script's stdout and stderr, without kernel messages.
    public var output: String { result("output.log") ?? "" }

    /// The last lines of the console: what a failure report shows.
    public var consoleTail: String { Self.tail(of: console) }

    /// A file the guest wrote to `$RESULTS/name`, as text; nil when it wrote none.
    public func result(_ name: String) -> String? {
        results[name].map { String(decoding: $0, as: UTF8.self) }
    }

    /// The outcome of one `vm_check NAME ...` in the guest script: the command's status and output.
    public func check(_ name: String) -> VMCheck? {
        guard let statusText = result("checks/\(name).status"),
              let status = Int32(statusText.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return VMCheck(name: name, status: status, output: result("checks/\(name).out") ?? "")
    }

    /// Returns the run when the script succeeded; otherwise throws `VMHarnessError.guestFailed`
    /// carrying the status and the console tail, so the test failure says what happened in the guest.
    @discardableResult
    public func requireSuccess() throws -> VMRun {
        guard succeeded else {
            throw VMHarnessError.guestFailed(status: status, timedOut: timedOut, consoleTail: consoleTail)
        }
        return self
    }

    public var description: String {
        let outcome = timedOut ? "timed out" : "exited with status \(status)"
        return "guest script \(outcome)\n--- console tail ---\n\(consoleTail)"
    }

    static func tail(of text: String, lines: Int = 40) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// One command run by `vm_check` in the guest: several checks share one boot, each with its own result.
public struct VMCheck: Sendable, CustomStringConvertible {
    public let name: String
    /// The command's exit status.
    public let status: Int32
    /// The command's stdout and stderr.
    public let output: String

    public var description: String { "check \(name) exited \(status): \(output)" }
}
