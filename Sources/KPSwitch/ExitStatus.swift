/// The exit-code contract of DESIGN.md; scripts and CI jobs branch on these numbers.
public enum ExitStatus: Int32, Codable, Sendable {
    case success = 0
    case runtimeError = 1
    case usageError = 2
    case preflightFailed = 3
    case rolledBack = 4
    case rollbackIncomplete = 5
}
