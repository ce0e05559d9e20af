/// The proxy mode an operator asks for, with the IPVS settings that go with it.
public struct ProxyTarget: Hashable, Sendable {
    public let mode: ProxyMode
    /// `ipvs.scheduler`; nil leaves the configured one (blank means kube-proxy's default, rr).
    public let ipvsScheduler: String?
    /// `ipvs.strictARP`; nil leaves the configured value.
    public let ipvsStrictARP: Bool?

    /// Schedulers kube-proxy's validation accepts (k/k `pkg/proxy/apis/config/validation/validation.go`,
    /// `validateIPVSSchedulerMethod`); `mh` is an IPVS scheduler but kube-proxy rejects it.
    public static let ipvsSchedulers = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq"]

    /// Validates the request on its own: a scheduler that kube-proxy accepts, IPVS settings only with IPVS.
    public init(mode: ProxyMode, ipvsScheduler: String? = nil, ipvsStrictARP: Bool? = nil) throws(ProxyConfigError) {
        if mode != .ipvs, ipvsScheduler != nil || ipvsStrictARP != nil {
            throw ProxyConfigError(
                .invalidTarget, "ipvs.scheduler and ipvs.strictARP only take effect in ipvs mode, not \(mode.rawValue).",
                remediation: "Drop the IPVS options or migrate to ipvs.")
        }
        if let ipvsScheduler, !Self.ipvsSchedulers.contains(ipvsScheduler) {
            throw ProxyConfigError(
                .invalidTarget, "kube-proxy does not accept the IPVS scheduler \"\(ipvsScheduler)\".",
                remediation: "Use one of \(Self.ipvsSchedulers.joined(separator: ", ")).")
        }
        self.mode = mode
        self.ipvsScheduler = ipvsScheduler
        self.ipvsStrictARP = ipvsStrictARP
    }

    /// Validates a mode spelled by the operator, as `--to` receives it.
    public init(mode text: String, ipvsScheduler: String? = nil, ipvsStrictARP: Bool? = nil) throws(ProxyConfigError) {
        guard let mode = ProxyMode(rawValue: text) else {
            throw ProxyConfigError(
                .invalidTarget, "\"\(text)\" is not a kube-proxy mode kpswitch migrates to.",
                remediation: "Use one of \(ProxyMode.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        try self.init(mode: mode, ipvsScheduler: ipvsScheduler, ipvsStrictARP: ipvsStrictARP)
    }

    /// The key edits this target needs on a cluster of this version, given the current configuration.
    ///
    /// nftables exists from 1.29; on 1.29–1.30 its feature gate is alpha and off by default, on 1.31–1.32
    /// it is beta and on unless the configuration turns it off, and validation checks it either way
    /// (KEP-3866; `validateProxyModeLinux`). From 1.33 the mode is GA.
    public func edits(
        for version: KubernetesVersion, current: KubeProxyConfigurationSummary
    ) throws(ProxyConfigError) -> [ConfigEdit] {
        var edits = [ConfigEdit(path: ConfigEdit.modeKey, value: .string(mode.rawValue))]
        if mode == .nftables {
            if version < KubernetesVersion(major: 1, minor: 29) {
                throw ProxyConfigError(
                    .unsupportedVersion, "kube-proxy \(version) has no nftables mode; it arrived in 1.29.",
                    remediation: "Upgrade the cluster to 1.31 or later (1.29–1.30 with the alpha feature gate), or choose iptables or ipvs.",
                    runbook: .migrate("nftables-versions"))
            }
            let gateNeeded = version < KubernetesVersion(major: 1, minor: 31)
                ? current.nftablesFeatureGate != true
                : version < KubernetesVersion(major: 1, minor: 33) && current.nftablesFeatureGate == false
            if gateNeeded { edits.append(ConfigEdit(path: ConfigEdit.nftablesGateKey, value: .bool(true))) }
        }
        if let ipvsScheduler { edits.append(ConfigEdit(path: ConfigEdit.schedulerKey, value: .string(ipvsScheduler))) }
        if let ipvsStrictARP { edits.append(ConfigEdit(path: ConfigEdit.strictARPKey, value: .bool(ipvsStrictARP))) }
        return edits
    }
}
