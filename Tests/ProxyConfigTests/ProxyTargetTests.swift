import Testing

@testable import ProxyConfig

@Suite("ProxyTarget")
struct ProxyTargetTests {
    @Test("unknown modes are refused with the valid ones listed", arguments: ["userspace", "IPVS", "", "kernelspace", "nft"])
    func unknownMode(mode: String) throws {
        let error = try #require(throws: ProxyConfigError.self) { try ProxyTarget(mode: mode) }
        #expect(error.kind == .invalidTarget)
        #expect(error.remediation.contains("iptables, ipvs, nftables"))
    }

    @Test("every scheduler kube-proxy validates is accepted", arguments: ProxyTarget.ipvsSchedulers)
    func acceptedScheduler(scheduler: String) throws {
        #expect(try ProxyTarget(mode: .ipvs, ipvsScheduler: scheduler).ipvsScheduler == scheduler)
    }

    @Test("schedulers kube-proxy rejects are refused", arguments: ["mh", "fo", "ovf", "RR", "round-robin", ""])
    func rejectedScheduler(scheduler: String) throws {
        let error = try #require(throws: ProxyConfigError.self) { try ProxyTarget(mode: .ipvs, ipvsScheduler: scheduler) }
        #expect(error.kind == .invalidTarget)
    }

    @Test("IPVS settings with another mode are refused")
    func ipvsSettingsElsewhere() throws {
        #expect(throws: ProxyConfigError.self) { try ProxyTarget(mode: .nftables, ipvsStrictARP: true) }
        #expect(throws: ProxyConfigError.self) { try ProxyTarget(mode: .iptables, ipvsScheduler: "rr") }
    }

    @Test("nftables edits by version", arguments: [
        (28, nil as Bool?, nil as [String]?),
        (29, nil, ["mode", "featureGates.NFTablesProxyMode"]),
        (30, false, ["mode", "featureGates.NFTablesProxyMode"]),
        (30, true, ["mode"]),
        (31, nil, ["mode"]),
        (32, false, ["mode", "featureGates.NFTablesProxyMode"]),
        (33, nil, ["mode"]),
        (35, false, ["mode"]),
    ])
    func nftablesByVersion(minor: Int, gate: Bool?, expected: [String]?) throws {
        let target = try ProxyTarget(mode: .nftables)
        let current = KubeProxyConfigurationSummary(mode: "iptables", nftablesFeatureGate: gate)
        let version = KubernetesVersion(major: 1, minor: minor)
        guard let expected else {
            let error = try #require(throws: ProxyConfigError.self) { try target.edits(for: version, current: current) }
            #expect(error.kind == .unsupportedVersion)
            #expect(error.runbook?.anchor == "nftables-versions")
            return
        }
        #expect(try target.edits(for: version, current: current).map(\.key) == expected)
    }

    @Test("an unparsable configuration is an error, not a write")
    func unparsable() throws {
        let error = try #require(throws: ProxyConfigError.self) {
            try ConfigRewrite(of: "mode: [iptables\n", to: ProxyTarget(mode: .ipvs), version: KubernetesVersion(major: 1, minor: 34))
        }
        #expect(error.kind == .unparsable)
        #expect(error.line != nil)
    }

    @Test("Kubernetes versions parse from kubelet and server strings", arguments: [
        ("v1.30.2", 30), ("1.29", 29), ("v1.29.0+k3s1", 29), ("v1.31.3-eks-59bf375", 31), ("v1.33.1-gke.100", 33),
    ])
    func versions(text: String, minor: Int) {
        #expect(KubernetesVersion(text) == KubernetesVersion(major: 1, minor: minor))
    }

    @Test("non-versions do not parse", arguments: ["", "latest", "v1", "vx.y"])
    func nonVersions(text: String) {
        #expect(KubernetesVersion(text) == nil)
    }
}
