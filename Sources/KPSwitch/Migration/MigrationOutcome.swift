/// How a migration ended, and the exit status the contract gives it.
public enum MigrationOutcome: Codable, Equatable, Sendable {
    /// Every node runs the new mode; nothing is left behind.
    case migrated
    /// Every node runs the new mode, but a clean-up step after that failed: `remaining` says what to remove.
    case migratedWithLeftovers(reason: String, remaining: [MigrationStep])
    /// It failed before anything in the cluster changed.
    case failed(reason: String)
    /// It failed and everything was put back.
    case rolledBack(reason: String)
    /// It failed and putting things back failed too: `remaining` is what a human must finish.
    case rollbackIncomplete(reason: String, rollbackError: String, remaining: [MigrationStep])
    /// It failed with rollback disabled (`--no-rollback`): `done` is what was changed and is still in place.
    case stopped(reason: String, done: [MigrationStep])

    public var exitStatus: ExitStatus {
        switch self {
        case .migrated: .success
        case .migratedWithLeftovers, .failed: .runtimeError
        case .rolledBack: .rolledBack
        case .rollbackIncomplete, .stopped: .rollbackIncomplete
        }
    }
}
