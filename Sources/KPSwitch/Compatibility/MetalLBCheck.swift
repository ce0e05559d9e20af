import KubeAPI
import ProxyConfig

/// MetalLB in L2 mode answers ARP for LoadBalancer IPs from one elected node; under IPVS every node holds those
/// IPs on `kube-ipvs0` and answers too, unless kube-proxy's `ipvs.strictARP` is true (MetalLB's installation
/// docs; metallb/metallb #153). An error when the cluster would run IPVS without it.
struct MetalLBCheck: PreflightCheck {
    let name: CheckName = "MetalLB"
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey
    let target: ProxyMode?

    func run() async -> [Finding] {
        let evidence: [String]
        let proxy: KubeProxyState
        do {
            evidence = try await Self.find(survey)
            proxy = try await survey.kubeProxy()
        } catch {
            return [.skipped("could not look for MetalLB: \(KPSwitchError(error).message)")]
        }
        guard !evidence.isEmpty else {
            return [.note("MetalLB is not installed (no metallb.io CRDs, no MetalLB controller Deployment or speaker DaemonSet)")]
        }
        let found = "MetalLB is installed (\(evidence.joined(separator: "; ")))"
        let after = target ?? proxy.mode
        let location = proxy.configMap.map { "ConfigMap \($0.namespace ?? survey.namespace)/\($0.name)" } ?? "kube-proxy's flags"
        if proxy.config.ipvsStrictARP == true {
            return [.note("\(found); ipvs.strictARP is true in \(location), as MetalLB's L2 mode needs under IPVS")]
        }
        let problem = "\(found) and ipvs.strictARP is not true in \(location): under IPVS every node holds each LoadBalancer IP "
            + "on kube-ipvs0 and answers ARP for it, so L2 traffic lands on whichever node answers first and long-lived "
            + "connections drop when that changes"
        let fix = "Set ipvs.strictARP: true in \(location) with the switch (kubectl edit, or your installer's setting such as "
            + "Kubespray's kube_proxy_strict_arp). If MetalLB only announces over BGP, nothing is needed: "
            + "--ignore-preflight-errors=MetalLB."
        if after == .ipvs {
            return [.error(problem, subject: "MetalLB", remediation: fix)]
        }
        if target == nil {
            return [.warning("if you choose IPVS: " + problem, subject: "MetalLB", remediation: fix)]
        }
        return [.note("\(found); \(after.rawValue) mode needs nothing from kube-proxy for it (strictARP matters only under IPVS)")]
    }

    /// What marks a MetalLB install: its CRDs, the controller Deployment and the speaker DaemonSet, labelled
    /// `app=metallb` by the manifests and `app.kubernetes.io/name=metallb` by the Helm chart, in whatever namespace.
    static func find(_ survey: ClusterSurvey) async throws -> [String] {
        var evidence: [String] = []
        var crds: [String] = []
        for name in ["ipaddresspools.metallb.io", "l2advertisements.metallb.io", "bgppeers.metallb.io"] {
            if try await survey.client.getIfPresent(CustomResourceDefinition.self, name: name) != nil { crds.append(name) }
        }
        if !crds.isEmpty { evidence.append("CRDs \(crds.joined(separator: ", "))") }
        var controllers: [String] = []
        for selector in ["app=metallb,component=controller", "app.kubernetes.io/name=metallb,app.kubernetes.io/component=controller"] {
            for deployment in try await survey.client.list(Deployment.self, namespace: "", labelSelector: selector).items {
                let name = "\(deployment.namespace ?? "")/\(deployment.name)"
                if !controllers.contains(name) { controllers.append(name) }
            }
        }
        if !controllers.isEmpty { evidence.append("Deployment \(controllers.joined(separator: ", "))") }
        let speakers = try await survey.daemonSets().filter { set in
            let labels = set.labels
            return (labels["app"] == "metallb" || labels["app.kubernetes.io/name"] == "metallb")
                && (labels["component"] == "speaker" || labels["app.kubernetes.io/component"] == "speaker")
        }
        if !speakers.isEmpty {
            evidence.append("DaemonSet \(speakers.map { "\($0.namespace ?? "")/\($0.name)" }.joined(separator: ", "))")
        }
        return evidence
    }
}
