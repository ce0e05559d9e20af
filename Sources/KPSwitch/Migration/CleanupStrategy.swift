/// How the old mode's state leaves the nodes, by mode pair (DESIGN.md, "Cleanup strategy by mode pair";
/// kube-proxy's platformCleanup in cmd/kube-proxy/app/server_linux.go).
public enum CleanupStrategy: String, Codable, Sendable {
    /// To or from nftables: kube-proxy removes the other mode's state when it starts.
    case kubeProxyCleansItself = "kube-proxy"
    /// iptables ↔ ipvs: a temporary init container runs the cluster's kube-proxy image with `--cleanup`.
    case initContainer = "init-container"
    /// iptables ↔ ipvs: kpswitch cleans every node through agent pods after the rollout (`MigrationStep.cleanNodes`).
    case node
    /// iptables ↔ ipvs, at the operator's request: nothing removes the old state.
    case none

    /// What `--cleanup auto|init-container|node|none` means for this pair. Asking for a cleanup that
    /// kube-proxy already does is not an error; it is simply not needed.
    public static func choose(from old: ProxyMode, to new: ProxyMode, requested: Requested) -> CleanupStrategy {
        // Same mode (only ipvs.scheduler or strictARP change): kube-proxy reconciles its own state.
        if old == new || old == .nftables || new == .nftables { return .kubeProxyCleansItself }
        switch requested {
        case .auto, .initContainer: return .initContainer
        case .node: return .node
        case .none: return .none
        }
    }

    public enum Requested: String, Codable, Sendable {
        case auto
        case initContainer = "init-container"
        case node
        case none
    }
}
