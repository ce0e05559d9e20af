/// `NodeSnapshot`, in the preflight `migrate` runs: the back-up step will have every node write its bundle
/// through an agent pod, which needs the pod permissions the agents use. Without them no node could be
/// snapshotted, so the migration is refused here, before the Lease, rather than in the back-up step.
/// `--ignore-preflight-errors=NodeSnapshot` also lets the back-up step go on past nodes without a bundle.
struct NodeSnapshotCheck: PreflightCheck {
    let name = NodeSnapshots.checkName
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey
    /// Why no agent pod may be started (`migrate --dry-run`), or nil.
    let withheld: String?

    func run() async -> [Finding] {
        if let withheld { return [.skipped("the back-up step's node snapshot was not tried: \(withheld)")] }
        let namespace = survey.namespace
        let missing: [Permission]
        do {
            missing = try await MigrationPermissions.missing(survey.client, namespace: namespace, of: NodeAgentRunner.permissions(namespace: namespace))
        } catch {
            return [.skipped("could not ask the API server whether this user may run agent pods (SelfSubjectAccessReview): \(error)")]
        }
        guard missing.isEmpty else {
            return [.error(
                "this user may not \(missing.map(\.description).joined(separator: ", ")), which the back-up step needs to snapshot every node before the first change",
                remediation: "Grant it (see MigrationRBAC in Runbooks/preflight.md), or pass --ignore-preflight-errors=\(name) to migrate without node snapshots.")]
        }
        return [.note("the back-up step has every node write its bundle to \(NodeAgentScript.snapshotRoot)/ID/ on the node before the first change")]
    }
}
