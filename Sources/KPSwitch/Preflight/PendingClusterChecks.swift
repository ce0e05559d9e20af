/// Stands in the report for the cluster checks until they are built, so that a preflight with
/// `--scope all` says they did not run instead of implying they passed.
public struct PendingClusterChecks: PreflightCheck {
    public let name: CheckName = "ClusterChecks"
    public let scope: CheckScope = .cluster

    public init() {}

    public func run() async -> [Finding] {
        [.skipped("cluster checks (flavour, scale, compatibility, RBAC) are not implemented yet (issue #10)")]
    }
}
