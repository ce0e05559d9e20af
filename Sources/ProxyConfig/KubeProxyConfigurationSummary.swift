import Yams

/// What a KubeProxyConfiguration says about the proxy mode, read without changing anything.
public struct KubeProxyConfigurationSummary: Hashable, Sendable {
    /// `mode` as written; "" when blank, null or missing.
    public let mode: String
    public let ipvsScheduler: String?
    public let ipvsStrictARP: Bool?
    /// `featureGates.NFTablesProxyMode` when the configuration sets it.
    public let nftablesFeatureGate: Bool?
    /// `iptables.localhostNodePorts` when set (kube-proxy's default is true).
    public let iptablesLocalhostNodePorts: Bool?
    /// `nodePortAddresses` when set: CIDRs, or `primary` (the nftables default when unset).
    public let nodePortAddresses: [String]?

    public init(
        mode: String = "", ipvsScheduler: String? = nil, ipvsStrictARP: Bool? = nil, nftablesFeatureGate: Bool? = nil,
        iptablesLocalhostNodePorts: Bool? = nil, nodePortAddresses: [String]? = nil
    ) {
        self.mode = mode
        self.ipvsScheduler = ipvsScheduler
        self.ipvsStrictARP = ipvsStrictARP
        self.nftablesFeatureGate = nftablesFeatureGate
        self.iptablesLocalhostNodePorts = iptablesLocalhostNodePorts
        self.nodePortAddresses = nodePortAddresses
    }

    /// Reads a KubeProxyConfiguration document (the text of the ConfigMap key).
    public init(parsing text: String) throws(ProxyConfigError) {
        try self.init(ConfigDocument(Self.withoutByteOrderMark(text)))
    }

    init(_ document: ConfigDocument) {
        let root = document.root
        self.init(
            mode: root["mode"]?.string ?? "",
            ipvsScheduler: root["ipvs"]?["scheduler"]?.string,
            ipvsStrictARP: root["ipvs"]?["strictARP"]?.bool,
            nftablesFeatureGate: root["featureGates"]?["NFTablesProxyMode"]?.bool,
            iptablesLocalhostNodePorts: root["iptables"]?["localhostNodePorts"]?.bool,
            nodePortAddresses: root["nodePortAddresses"]?.sequence.map { $0.compactMap(\.string) })
    }

    /// The mode kube-proxy runs on Linux: blank defaults to iptables (`platformApplyDefaults`,
    /// `cmd/kube-proxy/app/server_linux.go`); nil for a value kpswitch does not know.
    public var effectiveMode: ProxyMode? { mode.isEmpty ? .iptables : ProxyMode(rawValue: mode) }

    static func withoutByteOrderMark(_ text: String) -> String {
        text.unicodeScalars.first == "\u{FEFF}" ? String(String.UnicodeScalarView(text.unicodeScalars.dropFirst())) : text
    }
}
