import IPVS
import NodeState

/// `kpswitch cleanup --mode MODE`: removes what kube-proxy in MODE leaves on the node and nothing
/// else, listing exactly what goes.
public struct LeftoverRemoval: Sendable {
    let node: any NodeNetfilterAccess
    let ipvs: any NodeIPVSAccess
    let host: HostIdentity

    public init(node: any NodeNetfilterAccess, ipvs: any NodeIPVSAccess, host: HostIdentity) {
        self.node = node
        self.ipvs = ipvs
        self.host = host
    }

    static func footprint(of mode: ProxyMode) -> KubeProxyFootprint {
        switch mode {
        case .iptables: .iptables
        case .ipvs: .ipvs
        case .nftables: .nftables
        }
    }

    /// What `mode` leaves on a node where kube-proxy now runs in `running`: only what `mode` owns and
    /// `running` does not (both transports remove exactly this).
    static func footprint(of mode: ProxyMode, alongside running: ProxyMode?) -> KubeProxyFootprint {
        guard let running else { return footprint(of: mode) }
        return footprint(of: mode).leaving(footprint(of: running))
    }

    /// - Parameter running: the mode kube-proxy runs in on this node now, whose state stays; nil when none runs.
    public func run(mode: ProxyMode, running: ProxyMode? = nil, dryRun: Bool) async throws(KPSwitchError) -> CleanupReport {
        try host.requireRoot(for: "Cleanup")
        if let running, running == mode {
            throw KPSwitchError(
                status: .usageError, message: "kube-proxy runs in \(mode) mode here; cleaning up \(mode) would remove the running mode's state.",
                remediation: "Name the mode kube-proxy ran in before: kpswitch cleanup --mode OLD --running-mode \(mode).")
        }
        let footprint = Self.footprint(of: mode, alongside: running)
        let services = footprint.links.contains("kube-ipvs0") ? try await ipvsServices() : IPVSServices(owned: [], kept: [])
        let plan: LeftoverCleanup
        do {
            plan = try await node.planCleanup(of: footprint)
        } catch {
            throw KPSwitchError(error, while: "Reading the node's \(mode) leftovers")
        }
        if !dryRun {
            // Virtual servers first: their ownership was judged by kube-ipvs0's addresses, and the
            // link goes with the rest of the plan.
            if !services.owned.isEmpty {
                do throws(IPVSError) {
                    try await ipvs.delete(services.owned)
                } catch {
                    throw KPSwitchError(status: .runtimeError, message: "Removing kube-proxy's IPVS virtual servers: \(error)")
                }
            }
            do {
                try await node.apply(plan)
            } catch {
                throw KPSwitchError(error, while: "Removing \(mode) leftovers")
            }
        }
        return CleanupReport(
            mode: mode, dryRun: dryRun, plan: plan, ipvsServices: services.owned.map(\.description),
            keptIPVSServices: services.kept.map(\.description))
    }

    struct IPVSServices {
        let owned: [IPVSService.Key]
        let kept: [IPVSService.Key]
    }

    /// kube-proxy's virtual servers and the others, read only when ip_vs is loaded or built in (without
    /// it there are none, and asking for the IPVS family could load it).
    private func ipvsServices() async throws(KPSwitchError) -> IPVSServices {
        let addresses: [String: [String]]
        do {
            let state = try await ipvs.moduleState()
            guard state == .loaded || state == .builtin else { return IPVSServices(owned: [], kept: []) }
            addresses = try await ipvs.linkAddresses()
        } catch {
            throw KPSwitchError(error, while: "Reading the node's IPVS state")
        }
        let keys: [IPVSService.Key]
        do throws(IPVSError) {
            keys = try await ipvs.table().entries.map(\.service.key).sorted()
        } catch .unavailable {
            return IPVSServices(owned: [], kept: [])
        } catch {
            throw KPSwitchError(status: .runtimeError, message: "Reading the IPVS table: \(error)")
        }
        let kubeProxys = KubeProxyIPVSServices(linkAddresses: addresses)
        return IPVSServices(owned: keys.filter(kubeProxys.owns), kept: keys.filter { !kubeProxys.owns($0) })
    }
}

/// What `kpswitch cleanup` removed, or would remove with `--dry-run`.
public struct CleanupReport: Report {
    public static let kind = "Cleanup"

    public struct Chain: Encodable, Sendable {
        public let store: String
        public let table: String
        public let chain: String

        private enum CodingKeys: String, CodingKey { case store, table, chain }
    }

    public struct Jump: Encodable, Sendable {
        public let store: String
        public let table: String
        public let chain: String
        public let rule: String

        private enum CodingKeys: String, CodingKey { case store, table, chain, rule }
    }

    public let mode: ProxyMode
    public let dryRun: Bool
    public let jumps: [Jump]
    public let chains: [Chain]
    public let ipsets: [String]
    public let nftTables: [String]
    public let links: [String]
    /// kube-proxy's IPVS virtual servers (as `ipvsadm -L -n` names them: `TCP 10.96.0.1:443`).
    public let ipvsServices: [String]
    /// IPVS virtual servers that are not kube-proxy's, left in place.
    public let keptIPVSServices: [String]
    public let notChecked: [String]

    init(mode: ProxyMode, dryRun: Bool, plan: LeftoverCleanup, ipvsServices: [String], keptIPVSServices: [String]) {
        self.mode = mode
        self.dryRun = dryRun
        jumps = plan.iptables.flatMap { item in
            item.removal.jumps.map { Jump(store: item.variant.program, table: $0.table, chain: $0.chain, rule: $0.spec) }
        }
        chains = plan.iptables.flatMap { item in
            item.removal.chains.map { Chain(store: item.variant.program, table: $0.table, chain: $0.name) }
        }
        ipsets = plan.ipsets
        nftTables = plan.nftTables.map(\.description)
        links = plan.links
        self.ipvsServices = ipvsServices
        self.keptIPVSServices = keptIPVSServices
        notChecked = plan.notChecked
    }

    private enum CodingKeys: String, CodingKey {
        case mode, dryRun, jumps, chains, ipsets, nftTables, links, ipvsServices, keptIPVSServices, notChecked
    }
}
