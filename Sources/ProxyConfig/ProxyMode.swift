/// A kube-proxy proxy mode on Linux, spelled as KubeProxyConfiguration's `mode` field spells it.
public enum ProxyMode: String, CaseIterable, Codable, Sendable {
    case iptables
    case ipvs
    case nftables
}
