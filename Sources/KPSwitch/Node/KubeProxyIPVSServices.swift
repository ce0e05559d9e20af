import IPVS

/// Which IPVS virtual servers kube-proxy made: those on an address bound to kube-ipvs0 (ClusterIPs,
/// external and load-balancer IPs), and NodePorts (30000–32767 by default) on the node's own addresses.
/// kube-proxy never makes firewall-mark services. Preflight warns about the others; cleanup keeps them.
struct KubeProxyIPVSServices {
    static let nodePorts: ClosedRange<UInt16> = 30000...32767

    let kubeIPVS0: Set<String>
    let nodeAddresses: Set<String>

    /// From addresses per link, as `ip -o addr show` lists them.
    init(linkAddresses: [String: [String]]) {
        kubeIPVS0 = Set(linkAddresses["kube-ipvs0"] ?? [])
        nodeAddresses = Set(linkAddresses.filter { $0.key != "kube-ipvs0" }.values.joined())
    }

    func owns(_ key: IPVSService.Key) -> Bool {
        switch key {
        case .firewallMark: return false
        case .endpoint(_, let address, let port):
            let text = address.description
            return kubeIPVS0.contains(text) || (nodeAddresses.contains(text) && Self.nodePorts.contains(port))
        }
    }
}
