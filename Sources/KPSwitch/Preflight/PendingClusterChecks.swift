/// Stands in the report for the cluster checks not built yet, so that the report says they did not run
/// instead of implying they passed.
struct PendingClusterChecks: PreflightCheck {
    let name: CheckName = "ClusterCompatibility"
    let scope: CheckScope = .cluster

    func run() async -> [Finding] {
        [.skipped("compatibility (MetalLB, NodeLocal DNSCache, GitOps owners) and RBAC checks are not implemented yet (issue #10)")]
    }
}

/// The cluster checks when no kubeconfig could be loaded during `--scope all`.
struct ClusterUnreachable: PreflightCheck {
    let name: CheckName = "KubeProxyFlavour"
    let scope: CheckScope = .cluster
    let reason: String

    func run() async -> [Finding] {
        [.skipped("cluster checks did not run: \(reason)")]
    }
}
