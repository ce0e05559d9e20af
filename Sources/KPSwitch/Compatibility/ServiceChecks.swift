import ProxyConfig

/// kube-proxy's iptables mode also serves NodePorts on 127.0.0.1 (`iptables.localhostNodePorts`, default true,
/// through `route_localnet`); IPVS and nftables modes do not. nftables mode also accepts NodePorts only on the
/// node's primary addresses when `nodePortAddresses` is unset, where the other modes accept them on all. Both
/// are warnings: whether a client uses them shows only on the nodes (kube-proxy's metric
/// `kubeproxy_iptables_localhost_nodeports_accepted_packets_total`).
struct LocalhostNodePortsCheck: PreflightCheck {
    let name: CheckName = "LocalhostNodePorts"
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey
    let target: ProxyMode?

    func run() async -> [Finding] {
        let proxy: KubeProxyState
        let services: ServiceSummary
        do {
            proxy = try await survey.kubeProxy()
            services = try await survey.services()
        } catch {
            return [.skipped("could not read kube-proxy's settings and the Services: \(KPSwitchError(error).message)")]
        }
        let nodePorts = services.nodePorts
        guard !nodePorts.isEmpty else { return [.note("no Service has a NodePort, so nothing depends on where NodePorts are served")] }
        var findings: [Finding] = []
        if proxy.mode == .iptables && target != .iptables {
            if Self.servesLocalhost(proxy.config) {
                let after = target.map { "\($0.rawValue) mode does" } ?? "IPVS and nftables modes do"
                findings.append(.warning(
                    "iptables mode also serves every NodePort on 127.0.0.1 (iptables.localhostNodePorts, route_localnet) and \(after) "
                        + "not, so a client on a node that uses 127.0.0.1:<nodePort> stops working; Services with NodePorts "
                        + "(\(nodePorts.total)): \(nodePorts.listed)",
                    subject: "Services",
                    remediation: "On a few nodes read kube-proxy's metric kubeproxy_iptables_localhost_nodeports_accepted_packets_total "
                        + "(curl -s 127.0.0.1:10249/metrics); if it grows, point those clients at the node's own IP before switching."))
            } else {
                findings.append(.note("iptables.localhostNodePorts is false or nodePortAddresses excludes 127.0.0.0/8: NodePorts are not served on 127.0.0.1 now, so the switch changes nothing there"))
            }
        }
        if proxy.mode != .nftables && (target == .nftables || target == nil) && proxy.config.nodePortAddresses == nil {
            findings.append(.warning(
                "nodePortAddresses is unset: nftables mode then accepts NodePorts only on each node's primary IPs, where \(proxy.mode.rawValue) "
                    + "mode accepts them on every local address; Services with NodePorts (\(nodePorts.total)): \(nodePorts.listed)",
                subject: "Services",
                remediation: "If clients reach NodePorts on a node's secondary addresses, set nodePortAddresses to those CIDRs in kube-proxy's "
                    + "configuration with the switch."))
        }
        if findings.isEmpty {
            findings.append(.note("Services with NodePorts (\(nodePorts.total)): \((target ?? proxy.mode).rawValue) mode serves them where \(proxy.mode.rawValue) mode does"))
        }
        return findings
    }

    /// Localhost NodePorts apply only when nodePortAddresses is unset or includes a loopback range.
    static func servesLocalhost(_ config: KubeProxyConfigurationSummary) -> Bool {
        guard config.iptablesLocalhostNodePorts != false else { return false }
        guard let addresses = config.nodePortAddresses, !addresses.isEmpty else { return true }
        return addresses.contains { $0.hasPrefix("127.") || $0 == "localhost" }
    }
}

/// Under IPVS kube-proxy binds every Service external IP to `kube-ipvs0` on every node, so the nodes treat the
/// address as their own (k/k #93175, #66966). When it is a node's address, the other nodes can no longer reach
/// that node — an error (k/k #127410, #104679); any other external IP is a warning. iptables and nftables serve
/// external IPs alike.
struct ExternalIPsCheck: PreflightCheck {
    let name: CheckName = "ExternalIPs"
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey
    let target: ProxyMode?

    func run() async -> [Finding] {
        let proxy: KubeProxyState
        let services: ServiceSummary
        do {
            proxy = try await survey.kubeProxy()
            services = try await survey.services()
        } catch {
            return [.skipped("could not read the Services: \(KPSwitchError(error).message)")]
        }
        guard !services.externalIPs.isEmpty else { return [.note("no Service sets externalIPs")] }
        let after = target ?? proxy.mode
        guard after == .ipvs || target == nil else {
            return [.note("Services with externalIPs (\(services.externalIPs.total)): \(services.externalIPs.listed); \(after.rawValue) mode serves them as \(proxy.mode.rawValue) mode does")]
        }
        let prefix = after == .ipvs ? "" : "if you choose IPVS: "
        var findings: [Finding] = []
        if !services.externalIPsOnNodes.isEmpty {
            let message = prefix + "Services with a node's own address in externalIPs (\(services.externalIPsOnNodes.total)): "
                + "\(services.externalIPsOnNodes.listed); under IPVS every node binds it to kube-ipvs0, so the other nodes can no longer reach that node"
            let fix = "Remove node addresses from these Services' externalIPs (expose them with a NodePort or LoadBalancer) before switching."
            findings.append(after == .ipvs ? .error(message, subject: "Services", remediation: fix)
                                           : .warning(message, subject: "Services", remediation: fix))
        }
        findings.append(.warning(
            prefix + "Services with externalIPs (\(services.externalIPs.total)): \(services.externalIPs.listed); under IPVS each is bound to "
                + "kube-ipvs0 on every node, so the nodes treat it as local: they cannot reach a real host at that address, and "
                + "without ipvs.strictARP they answer ARP for it",
            subject: "Services",
            remediation: "Make sure no host the nodes must reach uses these addresses, and set ipvs.strictARP: true if they sit on the nodes' network."))
        return findings
    }
}

/// `sessionAffinity: ClientIP` is kept in each mode's own state — iptables' `recent` lists, IPVS persistence
/// (`ipvsadm -p <timeoutSeconds>`), nftables sets with timeouts — none of which carries over to another mode. A
/// warning: each client may be pinned to a different backend once per node, and the timeout starts afresh.
struct SessionAffinityCheck: PreflightCheck {
    let name: CheckName = "SessionAffinity"
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey
    let target: ProxyMode?

    func run() async -> [Finding] {
        let proxy: KubeProxyState
        let services: ServiceSummary
        do {
            proxy = try await survey.kubeProxy()
            services = try await survey.services()
        } catch {
            return [.skipped("could not read the Services: \(KPSwitchError(error).message)")]
        }
        let sticky = services.clientIPAffinity
        guard !sticky.isEmpty else { return [.note("no Service uses sessionAffinity: ClientIP")] }
        guard target != proxy.mode else {
            return [.note("Services with sessionAffinity: ClientIP (\(sticky.total)): \(sticky.listed); staying on \(proxy.mode.rawValue) keeps their state")]
        }
        return [.warning(
            "Services with sessionAffinity: ClientIP (\(sticky.total)): \(sticky.listed); the affinity lives in \(proxy.mode.rawValue) "
                + "mode's own state (\(Self.mechanism(proxy.mode))) and \(target.map { "\($0.rawValue) mode" } ?? "the new mode") starts empty "
                + "(\(target.map(Self.mechanism) ?? "its own tables")), so as each node switches its clients may be sent to another backend once "
                + "and the timeout starts afresh",
            subject: "Services",
            remediation: "Expect one re-pin per client per node; if a backend keeps session state only in memory, migrate in a quiet "
                + "window or move that state out of the pod first.")]
    }

    static func mechanism(_ mode: ProxyMode) -> String {
        switch mode {
        case .iptables: "iptables 'recent' lists with --seconds timeoutSeconds"
        case .ipvs: "IPVS persistence, ipvsadm -p timeoutSeconds"
        case .nftables: "nftables sets with a timeout of timeoutSeconds"
        }
    }
}
