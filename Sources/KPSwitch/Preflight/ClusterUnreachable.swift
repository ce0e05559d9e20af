/// The cluster checks when no kubeconfig could be loaded during `--scope all`.
struct ClusterUnreachable: PreflightCheck {
    let name: CheckName = "KubeProxyFlavour"
    let scope: CheckScope = .cluster
    let reason: String

    func run() async -> [Finding] {
        [.skipped("cluster checks did not run: \(reason)")]
    }
}
