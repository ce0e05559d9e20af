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
