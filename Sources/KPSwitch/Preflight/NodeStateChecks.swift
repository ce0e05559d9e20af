import NodeState

/// Which iptables backend holds rules. kube-proxy's image picks one; KUBE-* chains in both mean one set is
/// stale and may shadow or fight the live one.
struct IPTablesBackend: PreflightCheck {
    let name: CheckName = "IPTablesBackend"
    let scope: CheckScope = .node
    let node: any NodeInspector

    func run() async -> [Finding] {
        if let skip = Finding.cannotRun(on: node, needsPrivilege: true) { return [skip] }
        let captures: [IPTablesChains]
        do {
            captures = try await node.iptablesChains()
        } catch {
            return [.couldNotRead("the iptables rules", error)]
        }
        if captures.isEmpty {
            return [.skipped("neither iptables-legacy-save nor iptables-nft-save is installed")]
        }
        var findings: [Finding] = []
        var backendsWithKube: [IPTablesChains.Backend] = []
        for backend in IPTablesChains.Backend.allCases {
            let held = captures.filter { $0.backend == backend && !$0.chainsByTable.isEmpty }
            guard !held.isEmpty else { continue }
            let kube = held.flatMap(\.kubeProxyChains).count
            if kube > 0 { backendsWithKube.append(backend) }
            let families = held.map(\.family.rawValue).joined(separator: ", ")
            findings.append(.note(
                "the \(backend.rawValue) backend holds tables (\(families)) with \(kube) kube-proxy chain(s)",
                subject: "iptables-\(backend.rawValue)"))
        }
        if findings.isEmpty {
            findings.append(.note("no iptables backend holds any table yet", subject: "iptables"))
        }
        if backendsWithKube.count > 1 {
            findings.append(.warning(
                "KUBE-* chains exist in both the legacy and the nft iptables backends; one set is stale",
                subject: "iptables",
                remediation: "Find which backend kube-proxy's image uses and remove the KUBE-* chains from the other."))
        }
        return findings
    }
}

/// State of other modes on the node, and what becomes of it after switching to the target: kube-proxy
/// cleans nftables ↔ iptables/ipvs itself, never iptables ↔ ipvs (cmd/kube-proxy/app/server_linux.go).
struct ModeLeftovers: PreflightCheck {
    let name: CheckName = "ModeLeftovers"
    let scope: CheckScope = .node
    let node: any NodeInspector
    let target: ProxyMode?

    func run() async -> [Finding] {
        if let skip = Finding.cannotRun(on: node, needsPrivilege: true) { return [skip] }
        var present: [(mode: ProxyMode, what: String)] = []
        do {
            let serviceChains = try await node.iptablesChains().flatMap(\.kubeProxyChains)
                .filter { $0.hasPrefix("nat/KUBE-SVC-") || $0.hasPrefix("nat/KUBE-SEP-") }
            if !serviceChains.isEmpty {
                present.append((.iptables, "\(serviceChains.count) KUBE-SVC/KUBE-SEP chains"))
            }
            for link in KubeProxyFootprint.ipvs.links where try await node.linkExists(link) {
                present.append((.ipvs, "interface \(link)"))
            }
            let sets = try await node.ipsetNames().filter { $0.hasPrefix("KUBE-") }
            if !sets.isEmpty { present.append((.ipvs, "\(sets.count) KUBE-* ipsets")) }
            let kubeProxyTables = Set(KubeProxyFootprint.nftables.nftTables.map { "\($0.family) \($0.name)" })
            let tables = try await node.nftablesTables().filter(kubeProxyTables.contains)
            if !tables.isEmpty { present.append((.nftables, "nft tables \(tables.joined(separator: ", "))")) }
        } catch {
            return [.couldNotRead("the node's netfilter state", error)]
        }
        if present.isEmpty {
            return [.note("no kube-proxy state of any mode on this node")]
        }
        return present.map { item in
            guard let target, item.mode != target else {
                return .note("\(item.mode.rawValue) mode state: \(item.what)", subject: item.mode.rawValue)
            }
            if Self.cleansItself(from: item.mode, to: target) {
                return .note(
                    "\(item.mode.rawValue) mode state (\(item.what)) is removed by kube-proxy itself when it starts in \(target.rawValue) mode",
                    subject: item.mode.rawValue)
            }
            return .warning(
                "\(item.mode.rawValue) mode state (\(item.what)) stays after switching to \(target.rawValue); kube-proxy does not clean it",
                subject: item.mode.rawValue,
                remediation: "Migrate with --cleanup init-container, or run 'kpswitch cleanup --mode \(item.mode.rawValue) --running-mode \(target.rawValue)' on this node afterwards (or --nodes all from a workstation).")
        }
    }

    static func cleansItself(from old: ProxyMode, to new: ProxyMode) -> Bool {
        old == .nftables || new == .nftables
    }
}

/// The sysctls kube-proxy sets and no mode switch reverts (pkg/proxy/ipvs/proxier.go, k/k #93297); their
/// values are recorded so that an operator can compare after the switch.
struct ProxySysctls: PreflightCheck {
    let name: CheckName = "ProxySysctls"
    let scope: CheckScope = .node
    let node: any NodeInspector

    func run() async -> [Finding] {
        if let skip = Finding.cannotRun(on: node) { return [skip] }
        var values: [String] = []
        for key in Sysctls.kubeProxyKeys {
            if let value = await node.sysctl(key) { values.append("\(key)=\(value)") }
        }
        return [.note(values.isEmpty ? "none of kube-proxy's sysctls exist on this kernel" : values.joined(separator: " "))]
    }
}
