import Foundation

/// The sysctls kube-proxy sets and no mode switch reverts (reference/kube-proxy.md §4), read from
/// `/proc/sys` so the values are those of the caller's network namespace.
public enum Sysctls {
    public static let kubeProxyKeys = [
        "net.ipv4.ip_forward",
        "net.ipv4.conf.all.route_localnet",
        "net.ipv4.conf.all.arp_ignore",
        "net.ipv4.conf.all.arp_announce",
        "net.ipv4.vs.conntrack",
        "net.ipv4.vs.expire_nodest_conn",
        "net.ipv4.vs.expire_quiescent_template",
        "net.ipv4.vs.conn_reuse_mode",
        "net.netfilter.nf_conntrack_max",
        "net.netfilter.nf_conntrack_tcp_be_liberal",
        "net.netfilter.nf_conntrack_tcp_timeout_established",
        "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
        "net.netfilter.nf_conntrack_udp_timeout",
        "net.netfilter.nf_conntrack_udp_timeout_stream",
    ]

    /// Each key's value, or nil when the kernel does not have it (no ip_vs, no conntrack loaded).
    public static func read(_ keys: [String] = kubeProxyKeys, root: String = "/proc/sys") -> [String: String?] {
        var values: [String: String?] = [:]
        for key in keys {
            let path = root + "/" + key.replacingOccurrences(of: ".", with: "/")
            // A key the kernel lacks is a fact to record, not a failure: its file does not exist.
            if let data = FileManager.default.contents(atPath: path) {
                values[key] = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                values[key] = .some(nil)
            }
        }
        return values
    }
}
