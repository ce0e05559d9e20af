/// What kube-proxy in one mode leaves on a node (reference/kube-proxy.md §4, from
/// `pkg/proxy/{iptables,ipvs,nftables}/proxier.go` and `pkg/proxy/ipvs/ipset.go`): the data that
/// cleanup removes and nothing more.
public struct KubeProxyFootprint: Sendable {
    /// iptables chains by table: exact names, and prefixes of per-service and per-endpoint chains.
    public let chains: [String: Set<String>]
    public let chainPrefixes: [String: [String]]
    public let ipsets: Set<String>
    /// nftables tables as `(family, name)`.
    public let nftTables: [NFTTable]
    public let links: [String]
    /// Chains a prefix would claim that belong to the mode running beside this footprint (`leaving(_:)`).
    public let keptChains: [String: Set<String>]

    init(
        chains: [String: Set<String>], chainPrefixes: [String: [String]], ipsets: Set<String>, nftTables: [NFTTable], links: [String],
        keptChains: [String: Set<String>] = [:]
    ) {
        self.chains = chains
        self.chainPrefixes = chainPrefixes
        self.ipsets = ipsets
        self.nftTables = nftTables
        self.links = links
        self.keptChains = keptChains
    }

    /// Whether kube-proxy in this mode owns `chain` of `table`.
    public func owns(chain: String, inTable table: String) -> Bool {
        if keptChains[table]?.contains(chain) == true { return false }
        if chains[table]?.contains(chain) == true { return true }
        return chainPrefixes[table]?.contains { chain.hasPrefix($0) } == true
    }

    /// What this footprint leaves behind on a node where kube-proxy now runs with `running`'s: the iptables
    /// and ipvs modes share chain names (nat KUBE-SERVICES, KUBE-MARK-MASQ, filter KUBE-FORWARD, ...;
    /// reference/kube-proxy.md §4–5), and removing one of those would cut the running mode's traffic.
    public func leaving(_ running: KubeProxyFootprint) -> KubeProxyFootprint {
        var chains: [String: Set<String>] = [:]
        var prefixes: [String: [String]] = [:]
        var kept: [String: Set<String>] = [:]
        for table in Set(self.chains.keys).union(chainPrefixes.keys) {
            let names = (self.chains[table] ?? []).filter { !running.owns(chain: $0, inTable: table) }
            if !names.isEmpty { chains[table] = names }
            let own = (chainPrefixes[table] ?? []).filter { prefix in
                !(running.chainPrefixes[table] ?? []).contains { prefix.hasPrefix($0) }
            }
            if !own.isEmpty { prefixes[table] = own }
            let claimed = (running.chains[table] ?? []).filter { name in own.contains { name.hasPrefix($0) } }
                .union(keptChains[table] ?? [])
            if !claimed.isEmpty { kept[table] = claimed }
        }
        return KubeProxyFootprint(
            chains: chains, chainPrefixes: prefixes, ipsets: ipsets.subtracting(running.ipsets),
            nftTables: nftTables.filter { !running.nftTables.contains($0) }, links: links.filter { !running.links.contains($0) },
            keptChains: kept)
    }

    public static let iptables = KubeProxyFootprint(
        chains: [
            "nat": ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ", "KUBE-PROXY-CANARY"],
            // KUBE-FIREWALL and KUBE-KUBELET-CANARY belong to kubelet and stay.
            "filter": [
                "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-FORWARD", "KUBE-PROXY-FIREWALL",
                "KUBE-PROXY-CANARY",
            ],
            "mangle": ["KUBE-PROXY-CANARY"],
        ],
        chainPrefixes: ["nat": ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"]],
        ipsets: [], nftTables: [], links: [])

    public static let ipvs = KubeProxyFootprint(
        chains: [
            "nat": ["KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-NODE-PORT", "KUBE-LOAD-BALANCER", "KUBE-MARK-MASQ"],
            "filter": [
                "KUBE-FORWARD", "KUBE-NODE-PORT", "KUBE-PROXY-FIREWALL", "KUBE-SOURCE-RANGES-FIREWALL",
                "KUBE-IPVS-FILTER", "KUBE-IPVS-OUT-FILTER",
            ],
        ],
        chainPrefixes: [:],
        ipsets: ipvsSets, nftTables: [], links: ["kube-ipvs0"])

    public static let nftables = KubeProxyFootprint(
        chains: [:], chainPrefixes: [:], ipsets: [],
        nftTables: [NFTTable(family: "ip", name: "kube-proxy"), NFTTable(family: "ip6", name: "kube-proxy")],
        links: [])

    /// The IPv4 names and their IPv6 twins: prefix `KUBE-6-`, cut to ipset's 31-character limit.
    static let ipvsSets: Set<String> = {
        let v4 = [
            "KUBE-LOOP-BACK", "KUBE-CLUSTER-IP", "KUBE-EXTERNAL-IP", "KUBE-EXTERNAL-IP-LOCAL", "KUBE-LOAD-BALANCER",
            "KUBE-LOAD-BALANCER-LOCAL", "KUBE-LOAD-BALANCER-FW", "KUBE-LOAD-BALANCER-SOURCE-IP",
            "KUBE-LOAD-BALANCER-SOURCE-CIDR", "KUBE-NODE-PORT-TCP", "KUBE-NODE-PORT-UDP", "KUBE-NODE-PORT-LOCAL-TCP",
            "KUBE-NODE-PORT-LOCAL-UDP", "KUBE-NODE-PORT-SCTP-HASH", "KUBE-NODE-PORT-LOCAL-SCTP-HASH",
            "KUBE-HEALTH-CHECK-NODE-PORT",
        ]
        let v6 = v4.map { String(("KUBE-6-" + $0.dropFirst("KUBE-".count)).prefix(31)) }
        return Set(v4 + v6)
    }()
}
