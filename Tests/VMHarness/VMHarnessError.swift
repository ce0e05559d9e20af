import Foundation

/// Why the test bed could not give a result, or why a guest script failed.
public enum VMHarnessError: Error, CustomStringConvertible {
    /// Tests/VM/build-image.sh failed: no Debian kernel package, a missing host tool, no disk.
    case imageBuildFailed(status: Int32, log: String)
    /// The guest never reported (kernel panic, broken image): not the script's fault.
    case guestDidNotReport(log: String, consoleTail: String)
    /// The guest script exited non-zero or was killed at the time limit.
    case guestFailed(status: Int32, timedOut: Bool, consoleTail: String)
    /// A product the test wants in the guest was not built.
    case productMissing(name: String, directory: String)
    /// A host program could not be started.
    case launchFailed(program: String, reason: String)

    public var description: String {
        switch self {
        case .imageBuildFailed(let status, let log):
            return """
                the VM test bed's image could not be built (Tests/VM/build-image.sh exited \(status)). \
                Run it by hand to see why, or set KPSWITCH_SKIP_VM=1 to run host tests only.
                \(log)
                """
        case .guestDidNotReport(let log, let consoleTail):
            return """
                the VM guest stopped without reporting a result (kernel panic or broken image).
                \(log)
                --- console tail ---
                \(consoleTail)
                """
        case .guestFailed(let status, let timedOut, let consoleTail):
            let outcome = timedOut ? "was killed at its time limit" : "exited with status \(status)"
            return """
                the guest script \(outcome). Rerun with KPSWITCH_VM_CONSOLE=1 to stream the console.
                --- console tail ---
                \(consoleTail)
                """
        case .productMissing(let name, let directory):
            return "\(name) is not built in \(directory): run `swift build --build-tests` first, or set KPSWITCH_BIN_DIR"
        case .launchFailed(let program, let reason):
            return "could not start \(program): \(reason)"
        }
    }
}
