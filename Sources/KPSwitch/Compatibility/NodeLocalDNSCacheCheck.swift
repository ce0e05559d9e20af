import Foundation
import KubeAPI
import ProxyConfig

/// NodeLocal DNSCache is set up differently per kube-proxy mode (kubernetes.io "Using NodeLocal DNSCache"):
/// for iptables its `-localip` lists the link-local address *and* the kube-dns ClusterIP, so pods keep their
/// resolver; under IPVS that ClusterIP already sits on every node's `kube-ipvs0`, so node-local-dns must listen
/// only on the link-local address and the kubelets' `--cluster-dns` must point at it. An error when the
/// cluster would run IPVS with the iptables setup.
struct NodeLocalDNSCacheCheck: PreflightCheck {
    let name: CheckName = "NodeLocalDNSCache"
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey
    let target: ProxyMode?

    func run() async -> [Finding] {
        let caches: [(set: DaemonSet, addresses: [String])]
        let proxy: KubeProxyState
        var clusterDNS: Set<String> = []
        do {
            caches = try await survey.daemonSets().compactMap { set -> (set: DaemonSet, addresses: [String])? in
                Self.isNodeLocalDNS(set) ? (set: set, addresses: Self.localIPs(set)) : nil
            }
            proxy = try await survey.kubeProxy()
            if !caches.isEmpty, let service = try await survey.client.getIfPresent(Service.self, name: "kube-dns", namespace: "kube-system") {
                clusterDNS = Set((service.json[path: ["spec", "clusterIPs"]]?.arrayValue ?? []).compactMap(\.stringValue) + [service.clusterIP].compactMap { $0 })
            }
        } catch {
            return [.skipped("could not look for NodeLocal DNSCache: \(KPSwitchError(error).message)")]
        }
        guard !caches.isEmpty else {
            return [.note("NodeLocal DNSCache is not installed (no node-local-dns or nodelocaldns DaemonSet)")]
        }
        let after = target ?? proxy.mode
        return caches.map { cache in
            let subject = "DaemonSet \(cache.set.namespace ?? "")/\(cache.set.name)"
            let shared = cache.addresses.filter { Self.isServiceAddress($0, clusterDNS: clusterDNS) }
            let linkLocal = cache.addresses.filter { !shared.contains($0) }
            guard !cache.addresses.isEmpty else {
                return .warning("\(subject) runs NodeLocal DNSCache but kpswitch found no -localip argument to tell its setup",
                                subject: subject, remediation: "Check its setup against the kube-proxy mode by hand before switching.")
            }
            guard !shared.isEmpty else {
                return .note("\(subject) listens only on \(linkLocal.joined(separator: ", ")) (the setup for IPVS, with kubelet --cluster-dns pointing there), which works in every mode")
            }
            let problem = "\(subject) listens on \(cache.addresses.joined(separator: ", ")) (-localip): the iptables-mode setup, which binds "
                + "the cluster DNS address \(shared.joined(separator: ", ")) on every node; under IPVS kube-proxy binds that address to "
                + "kube-ipvs0, and upstream documents a different setup for IPVS"
            let fix = "Before switching to IPVS: set every kubelet's clusterDNS (--cluster-dns) to \(linkLocal.first ?? "the link-local address"), "
                + "re-render node-local-dns for IPVS (-localip \(linkLocal.first ?? "169.254.20.10") only: the docs' sed drops "
                + ",__PILLAR__DNS__SERVER__ and sets __PILLAR__CLUSTER__DNS__), restart the kubelets, then recreate pods that must "
                + "use the cache. Or choose nftables."
            if after == .ipvs { return .error(problem, subject: subject, remediation: fix) }
            if target == nil { return .warning("if you choose IPVS: " + problem, subject: subject, remediation: fix) }
            return .note("\(subject) uses the iptables-mode setup (-localip \(cache.addresses.joined(separator: ","))), which \(after.rawValue) mode keeps working: kube-proxy binds no service address to an interface there")
        }
    }

    static func isNodeLocalDNS(_ set: DaemonSet) -> Bool {
        let names: Set<String> = ["node-local-dns", "nodelocaldns"]
        let templateApp = set.json[path: ["spec", "template", "metadata", "labels", "k8s-app"]]?.stringValue
        return names.contains(set.name) || names.contains(set.labels["k8s-app"] ?? "") || names.contains(templateApp ?? "")
    }

    /// The addresses of node-cache's `-localip` (Go flags: one or two dashes, `=value` or the next argument).
    static func localIPs(_ set: DaemonSet) -> [String] {
        for container in set.templateContainers {
            let argv = ((container["command"]?.arrayValue ?? []) + (container["args"]?.arrayValue ?? [])).compactMap(\.stringValue)
            for (index, arg) in argv.enumerated() {
                let flag = arg.drop { $0 == "-" }
                var value: Substring?
                if flag.hasPrefix("localip=") {
                    value = flag.dropFirst("localip=".count)
                } else if flag == "localip", index + 1 < argv.count {
                    value = argv[index + 1][...]
                }
                if let value { return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            }
        }
        return []
    }

    /// Whether node-local-dns also binds a Service address: the kube-dns ClusterIP when kube-dns was found, else
    /// any address outside the link-local ranges (169.254.0.0/16, fe80::/10). The docs also suggest fd00::/8 for
    /// the local address, which IPv6 service ranges use too, so only the kube-dns Service can tell those apart.
    static func isServiceAddress(_ address: String, clusterDNS: Set<String>) -> Bool {
        if !clusterDNS.isEmpty { return clusterDNS.contains(address) }
        let lower = address.lowercased()
        return !(lower.hasPrefix("169.254.") || lower.hasPrefix("fe80:"))
    }
}
