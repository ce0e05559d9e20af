import ProxyConfig

/// `kpswitch advise`: which mode this cluster should run, why (with its numbers), and what switching costs.
public struct Advice: Report, Equatable {
    public static let kind = "Advice"

    public enum Availability: String, Codable, Sendable {
        case unavailable
        /// 1.29–1.30: alpha, behind `featureGates: {NFTablesProxyMode: true}`.
        case alpha
        /// 1.31–1.32: beta, on by default.
        case beta
        /// 1.33 and later.
        case generallyAvailable = "ga"
    }

    public let current: ProxyMode
    public let recommended: ProxyMode
    /// Each reason cites the numbers it rests on.
    public let reasons: [String]
    /// Present when the recommendation is a change of mode.
    public let cost: SwitchCost?
    public let facts: ClusterFacts
    /// The cluster checks for the recommended mode (flavour, MetalLB, NodeLocal DNSCache, NodePorts, external
    /// IPs, session affinity, GitOps owners, RBAC), as preflight reports them.
    public let compatibility: [PreflightReport.CheckResult]

    public struct SwitchCost: Codable, Equatable, Sendable {
        public let cleanup: CleanupStrategy
        public let disruption: String
    }

    /// Below roughly this many services or endpoints, iptables' sequential rule evaluation costs little.
    public static let iptablesComfortLimit = 500
    /// SIG Scalability's per-service endpoint threshold.
    public static let endpointsPerServiceThreshold = 250

    public static func nftablesAvailability(_ version: KubernetesVersion) -> Availability {
        switch version {
        case ..<KubernetesVersion(major: 1, minor: 29): .unavailable
        case ..<KubernetesVersion(major: 1, minor: 31): .alpha
        case ..<KubernetesVersion(major: 1, minor: 33): .beta
        default: .generallyAvailable
        }
    }

    public static func ipvsDeprecated(_ version: KubernetesVersion) -> Bool {
        version >= KubernetesVersion(major: 1, minor: 35)
    }

    public init(facts: ClusterFacts, compatibility: [PreflightReport.CheckResult] = []) {
        self.facts = facts
        self.compatibility = compatibility
        current = facts.currentMode
        var reasons: [String] = []
        let scale = max(facts.services, facts.endpoints)
        let large = scale >= Self.iptablesComfortLimit
        reasons.append(
            "\(facts.services) services (\(facts.servicePorts) ports) and \(facts.endpoints) endpoints: "
                + (large
                    ? "at or above ~\(Self.iptablesComfortLimit), where iptables' rules, evaluated in sequence, start to cost"
                    : "below ~\(Self.iptablesComfortLimit), where iptables is simple and fine"))
        if facts.maxEndpointsPerService > Self.endpointsPerServiceThreshold {
            reasons.append("the largest service has \(facts.maxEndpointsPerService) endpoints (p99 \(facts.p99EndpointsPerService)), above the \(Self.endpointsPerServiceThreshold) per service that SIG Scalability tests")
        }

        let availability = Self.nftablesAvailability(facts.kubernetesVersion)
        let oldKernels = facts.nodesBelowNFTablesKernel
        let nftablesPossible = availability != .unavailable && availability != .alpha && oldKernels.isEmpty
        switch availability {
        case .unavailable:
            reasons.append("Kubernetes \(facts.kubernetesVersion) has no nftables mode (it arrived in 1.29)")
        case .alpha:
            reasons.append("nftables is alpha in Kubernetes \(facts.kubernetesVersion) (feature gate NFTablesProxyMode); not for production before 1.31")
        case .beta:
            reasons.append("nftables is beta and on by default in Kubernetes \(facts.kubernetesVersion); GA in 1.33")
        case .generallyAvailable:
            reasons.append("nftables is GA in Kubernetes \(facts.kubernetesVersion) and the mode upstream recommends")
        }
        if let problem = ClusterFacts.nftablesKernelProblem(facts.nodes) {
            reasons.append(problem)
        }

        let recommended: ProxyMode
        if nftablesPossible && (large || facts.currentMode == .ipvs) {
            recommended = .nftables
        } else if facts.currentMode == .ipvs && !large {
            recommended = .iptables
            reasons.append("IPVS brings nothing at this scale; iptables needs no extra kernel modules or tooling")
        } else if large && !nftablesPossible {
            recommended = .ipvs
            reasons.append("IPVS keeps services in hash tables and scales to thousands of services; it offers schedulers such as rr, lc and sh")
        } else {
            recommended = .iptables
        }
        if recommended == .ipvs || facts.currentMode == .ipvs {
            reasons.append(Self.ipvsDeprecated(facts.kubernetesVersion)
                ? "IPVS is deprecated since Kubernetes 1.35 (KEP-5495): the KubeProxyIPVS gate is planned to default to off in 1.40 and the mode to be removed in 1.43; plan to leave it"
                : "IPVS is deprecated from Kubernetes 1.35 (KEP-5495), with removal planned for 1.43; choose it only as a bridge")
        }
        self.recommended = recommended
        self.reasons = reasons
        cost = recommended == facts.currentMode
            ? nil
            : SwitchCost(
                cleanup: CleanupStrategy.choose(from: facts.currentMode, to: recommended, requested: .auto),
                disruption: "kube-proxy restarts on one node at a time (a canary first, then batches, and once more "
                    + "at finalize); while a restarted kube-proxy programs its first sync, new connections to "
                    + "services on that node may briefly fail")
    }

    private enum CodingKeys: String, CodingKey { case current, recommended, reasons, cost, facts, compatibility }
}
