import KubeAPI
import ProxyConfig

/// What kube-proxy's version allows: nftables is alpha before 1.31 (behind the NFTablesProxyMode gate), beta
/// and on by default in 1.31–1.32, GA from 1.33; IPVS is deprecated from 1.35 (KEP-5495). The version is the
/// kube-proxy image's tag, else the oldest kubelet (kube-proxy may not be newer than its kubelet). Version
/// skew: kube-proxy must not be newer than the API server and may be at most three minor versions older.
struct KubeProxyVersionCheck: PreflightCheck {
    let name: CheckName = "KubeProxyVersion"
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey
    let target: ProxyMode?

    static let supportedSkew = 3

    func run() async -> [Finding] {
        let proxy: KubeProxyState
        let fleet: ProxyNodes
        do {
            proxy = try await survey.kubeProxy()
            fleet = try await survey.proxyNodes()
        } catch {
            return [.skipped("could not read kube-proxy's objects: \(KPSwitchError(error).message)")]
        }
        let fromKubelets = ClusterFactsReader.oldestKubelet(fleet.nodes)
        guard let version = proxy.version ?? fromKubelets else {
            return [.skipped("kube-proxy's version is unknown: its image has no version tag and no node reports a kubelet version")]
        }
        let source = proxy.version != nil ? "kube-proxy \(version) (its image tag)" : "kube-proxy \(version) (the oldest kubelet; the image has no version tag)"
        let location = proxy.configMap.map { "ConfigMap \($0.namespace ?? survey.namespace)/\($0.name)" } ?? "kube-proxy's flags"
        var findings = modeFindings(version: version, source: source, gate: proxy.config.nftablesFeatureGate, location: location)
        findings += await skewFindings(version: version, source: source)
        return findings
    }

    func modeFindings(version: KubernetesVersion, source: String, gate: Bool?, location: String) -> [Finding] {
        var findings: [Finding] = []
        if target == .nftables || target == nil {
            let upgrade = "Upgrade the cluster to 1.31 or later (1.33 for GA), or choose --to iptables or ipvs."
            switch Advice.nftablesAvailability(version) {
            case .unavailable:
                let message = "\(source) has no nftables mode (it arrived as alpha in 1.29)"
                findings.append(target == nil ? .note(message, subject: "nftables") : .error(message, subject: "nftables", remediation: upgrade))
            case .alpha where gate == true:
                findings.append(.warning(
                    "\(source): nftables mode is alpha; \(location) enables the NFTablesProxyMode feature gate, but alpha features are not for production",
                    subject: "nftables", remediation: upgrade))
            case .alpha:
                let message = "\(source): nftables mode is alpha and needs featureGates.NFTablesProxyMode: true, which \(location) does not set"
                // kpswitch would add the gate with the mode; turning on an alpha feature is the operator's call.
                findings.append(target == nil
                    ? .note(message, subject: "nftables")
                    : .error(message, subject: "nftables", remediation: upgrade
                        + " To run the alpha mode knowingly: --ignore-preflight-errors=KubeProxyVersion (kpswitch then sets the gate with the mode)."))
            case .beta where gate == false:
                findings.append(.warning(
                    "\(source): nftables mode is beta and on by default, but \(location) sets NFTablesProxyMode: false; kpswitch sets it to true with the mode",
                    subject: "nftables"))
            case .beta:
                findings.append(.note("\(source): nftables mode is beta and on by default (GA in 1.33)", subject: "nftables"))
            case .generallyAvailable:
                findings.append(.note("\(source): nftables mode is GA, the mode upstream recommends", subject: "nftables"))
            }
        }
        if target == .ipvs {
            let message = Advice.ipvsDeprecated(version)
                ? "\(source): IPVS mode is deprecated since Kubernetes 1.35 (KEP-5495) and kube-proxy logs so at start; removal is planned for 1.43"
                : "\(source): IPVS mode is deprecated since Kubernetes 1.35 (KEP-5495), with removal planned for 1.43; this cluster reaches 1.35 within its next upgrades"
            findings.append(.warning(message, subject: "ipvs", remediation: "nftables is the recommended replacement: --to nftables."))
        }
        if target == .iptables {
            findings.append(.note("\(source): iptables mode is supported on every version", subject: "iptables"))
        }
        return findings
    }

    func skewFindings(version: KubernetesVersion, source: String) async -> [Finding] {
        let server: KubernetesVersion
        do {
            guard let parsed = KubernetesVersion(try await survey.client.serverVersion()) else {
                return [.note("the API server's version could not be parsed; version skew not checked")]
            }
            server = parsed
        } catch {
            return [.note("the API server's version could not be read (\(KPSwitchError(error).message)); version skew not checked")]
        }
        let fix = "Upgrade kube-proxy with the cluster (kubeadm upgrade, or your distribution's add-on) before switching modes."
        if version > server {
            return [.warning("\(source) is newer than the API server (\(server)), which the version-skew policy does not support", remediation: fix)]
        }
        if version.major == server.major && server.minor - version.minor > Self.supportedSkew {
            return [.warning(
                "\(source) is \(server.minor - version.minor) minor versions older than the API server (\(server)); the version-skew policy supports at most \(Self.supportedSkew)",
                remediation: fix)]
        }
        return [.note("\(source) is within the supported skew of the API server (\(server))")]
    }
}
