/// A cluster check when no kubeconfig could be loaded during `--scope all`: listed under its own name, so that
/// the report shows it did not run and `--ignore-preflight-errors` still accepts the name.
struct ClusterUnreachable: PreflightCheck {
    let name: CheckName
    let scope: CheckScope = .cluster
    let reason: String

    func run() async -> [Finding] {
        [.skipped("cluster checks did not run: \(reason)")]
    }
}
