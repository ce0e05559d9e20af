import NodeState

/// `kpswitch cleanup --mode MODE`: removes what kube-proxy in MODE leaves on the node and nothing
/// else, listing exactly what goes.
public struct LeftoverRemoval: Sendable {
    let node: any NodeNetfilterAccess
    let host: HostIdentity

    public init(node: any NodeNetfilterAccess, host: HostIdentity) {
        self.node = node
        self.host = host
    }

    static func footprint(of mode: ProxyMode) -> KubeProxyFootprint {
        switch mode {
        case .iptables: .iptables
        case .ipvs: .ipvs
        case .nftables: .nftables
        }
    }

    public func run(mode: ProxyMode, dryRun: Bool) async throws(KPSwitchError) -> CleanupReport {
        try host.requireRoot(for: "Cleanup")
        let plan: LeftoverCleanup
        do {
            plan = try await node.planCleanup(of: Self.footprint(of: mode))
            if !dryRun { try await node.apply(plan) }
        } catch {
            throw KPSwitchError(error, while: dryRun ? "Reading the node's \(mode) leftovers" : "Removing \(mode) leftovers")
        }
        var notChecked = plan.notChecked
        if mode == .ipvs {
            notChecked.append("IPVS virtual servers: this build cannot read the IPVS table yet (issue #6)")
        }
        return CleanupReport(mode: mode, dryRun: dryRun, plan: plan, notChecked: notChecked)
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
    public let notChecked: [String]

    init(mode: ProxyMode, dryRun: Bool, plan: LeftoverCleanup, notChecked: [String]) {
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
        self.notChecked = notChecked
    }

    private enum CodingKeys: String, CodingKey { case mode, dryRun, jumps, chains, ipsets, nftTables, links, notChecked }
}
