import KubeAPI
import ProxyConfig

/// The cluster checks, run with a client to the API server.
enum ClusterChecks {
    /// The cluster checks' names, in the order they run.
    static let names: [CheckName] = [
        "KubeProxyFlavour", "KubeProxyVersion", "KubeProxyRollout", "NodeKernels", "NodeReadiness", "MetalLB",
        "NodeLocalDNSCache", "LocalhostNodePorts", "ExternalIPs", "SessionAffinity", "GitOpsOwner", "MigrationRBAC",
    ]

    /// Every cluster check for `target` (nil judges every mode kpswitch could move to); `advise` runs them for the mode it recommends, so the two agree.
    /// They share one survey, so the nodes and the Services are listed once.
    static func checks(survey: ClusterSurvey, target: ProxyMode?) -> [any PreflightCheck] {
        [
            KubeProxyFlavourCheck(survey: survey),
            KubeProxyVersionCheck(survey: survey, target: target),
            KubeProxyRolloutCheck(survey: survey),
            NodeKernelsCheck(survey: survey, target: target),
            NodeReadinessCheck(survey: survey),
            MetalLBCheck(survey: survey, target: target),
            NodeLocalDNSCacheCheck(survey: survey, target: target),
            LocalhostNodePortsCheck(survey: survey, target: target),
            ExternalIPsCheck(survey: survey, target: target),
            SessionAffinityCheck(survey: survey, target: target),
            GitOpsOwnerCheck(survey: survey),
            MigrationRBACCheck(client: survey.client, namespace: survey.namespace),
        ]
    }
}

/// How this cluster runs kube-proxy, and whether kpswitch may migrate it through the ConfigMap: a flavour
/// whose mode lives elsewhere (Talos, k3s, RKE2, kops, AKS, GKE, kube-proxy replaced) is an error naming
/// the right procedure.
struct KubeProxyFlavourCheck: PreflightCheck {
    let name: CheckName = "KubeProxyFlavour"
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey
    var namespace: String { survey.namespace }

    func run() async -> [Finding] {
        let detected: (FlavourReport, [DaemonSet], [ConfigMap])
        do {
            detected = try await survey.detection()
        } catch {
            return [.skipped("could not read kube-proxy's objects in \(namespace): \(KPSwitchError(error).message)")]
        }
        let (report, daemonSets, configMaps) = detected
        var findings: [Finding] = report.warnings.map { warning in
            .warning(warning.message, subject: report.flavour.rawValue,
                     remediation: "See Runbooks/\(warning.runbook.file)#\(warning.runbook.anchor).")
        }
        if let blocker = report.blocker {
            let link = blocker.runbook.map { " See Runbooks/\($0.file)#\($0.anchor)." } ?? ""
            findings.insert(.error(
                "\(report.flavour.rawValue): \(blocker.message)", subject: report.flavour.rawValue,
                remediation: blocker.remediation + link), at: 0)
            return findings
        }
        do {
            let state = try KubeProxyState.state(report: report, daemonSets: daemonSets, configMaps: configMaps, namespace: namespace)
            findings.insert(.note(
                "\(report.flavour.rawValue): kube-proxy runs in \(state.mode.rawValue) mode, set \(Self.describe(report.location))",
                subject: report.flavour.rawValue), at: 0)
        } catch {
            findings.insert(.error(KPSwitchError(error).message, subject: report.flavour.rawValue,
                                   remediation: KPSwitchError(error).remediation), at: 0)
        }
        return findings
    }

    static func describe(_ location: ModeLocation?) -> String {
        switch location?.source {
        case .configMap(let name, let key, _, _): "in ConfigMap \(name), key \(key)"
        case .flag: "by the --proxy-mode flag"
        case nil: "somewhere kpswitch could not locate"
        }
    }
}
