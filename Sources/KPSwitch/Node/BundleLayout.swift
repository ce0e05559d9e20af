import NodeState

/// File names inside a snapshot bundle: part of the contract (README, "Snapshot bundles").
enum BundleLayout {
    static func iptables(_ variant: IPTablesVariant) -> String {
        "iptables-\(variant.backend.rawValue)-\(variant.family.rawValue).rules"
    }

    static let nftables = "nftables.rules"
    static let ipsets = "ipset.rules"
    static let sysctls = "sysctl.json"
    static let kubeIPVS0 = "kube-ipvs0.json"
    static let ipvsJSON = "ipvs.json"
    static let ipvsadm = "ipvsadm.rules"
    /// `/proc/net/ip_vs` as the kernel prints it: what an agent pod, which has no netlink reader, can record.
    static let ipvsProc = "ip_vs.proc"
    static let clusterDirectory = "cluster/"
}
