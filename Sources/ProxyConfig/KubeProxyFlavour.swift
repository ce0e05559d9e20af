/// How a cluster runs kube-proxy, which decides whether kpswitch can migrate it through a ConfigMap.
public enum KubeProxyFlavour: String, CaseIterable, Codable, Sendable {
    case kubeadm
    case kubespray
    case eks
    case eksManagedAddon = "eks-managed-addon"
    /// A kube-proxy DaemonSet with no marker of a known distribution.
    case daemonSet = "daemonset"
    case talos
    case k3s
    case rke2
    case kops
    case aks
    case gke
    case cilium
    case calicoEBPF = "calico-ebpf"
    /// Static kube-proxy pods of an unrecognised distribution.
    case staticPods = "static-pods"
    /// No kube-proxy and nothing known replacing it.
    case absent

    /// Whether kpswitch can migrate this flavour by editing the ConfigMap behind the DaemonSet.
    public var isMigratable: Bool {
        switch self {
        case .kubeadm, .kubespray, .eks, .eksManagedAddon, .daemonSet: true
        default: false
        }
    }
}

/// A note for the operator that does not block migration.
public struct ProxyConfigWarning: Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public let runbook: RunbookReference

    public var description: String { "\(message) See \(runbook)." }
}

/// What flavour detection found: the flavour, the evidence, where the mode lives, and what blocks migration.
public struct FlavourReport: Sendable {
    public let flavour: KubeProxyFlavour
    /// Facts that decided the flavour, for `-v` output and bug reports.
    public let evidence: [String]
    /// The DaemonSet's mode location, when the flavour is migratable and the mode was found.
    public let location: ModeLocation?
    public let warnings: [ProxyConfigWarning]
    /// Why kpswitch must not migrate this cluster (preflight turns it into an error, exit 3); nil when it may.
    public let blocker: ProxyConfigError?
}
