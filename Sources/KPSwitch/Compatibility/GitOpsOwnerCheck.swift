import KubeAPI

/// A controller that reconciles kube-proxy's DaemonSet or ConfigMap from Git reverts kpswitch's edits — the
/// staged ConfigMap in the pod template, the OnDelete update strategy — mid-migration, restarting kube-proxy
/// with the old configuration: Argo CD and Flux are errors. A Helm release reverts only on the next
/// `helm upgrade`: a warning, so that the chart's values get the new mode too.
struct GitOpsOwnerCheck: PreflightCheck {
    let name: CheckName = "GitOpsOwner"
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey

    struct Owner: Equatable {
        enum Tool: String { case argoCD = "Argo CD", flux = "Flux", helm = "Helm" }
        let tool: Tool
        let evidence: String
        /// False for a mark other tools set too (`app.kubernetes.io/instance`).
        let certain: Bool
    }

    func run() async -> [Finding] {
        let proxy: KubeProxyState
        do {
            proxy = try await survey.kubeProxy()
        } catch {
            return [.skipped("could not read kube-proxy's objects: \(KPSwitchError(error).message)")]
        }
        var subjects: [(String, [Owner])] = []
        if let set = proxy.daemonSet { subjects.append(("DaemonSet \(set.namespace ?? survey.namespace)/\(set.name)", Self.owners(set))) }
        if let map = proxy.configMap { subjects.append(("ConfigMap \(map.namespace ?? survey.namespace)/\(map.name)", Self.owners(map))) }
        var findings: [Finding] = []
        for (subject, owners) in subjects where !owners.isEmpty {
            let evidence = owners.map { "\($0.tool.rawValue): \($0.evidence)" }.joined(separator: "; ")
            let reconciler = owners.first { ($0.tool == .argoCD || $0.tool == .flux) && $0.certain }
            if let reconciler {
                findings.append(.error(
                    "\(subject) is managed by \(reconciler.tool.rawValue) (\(evidence)): a sync reverts kpswitch's edits mid-migration "
                        + "and restarts kube-proxy with the old configuration",
                    subject: subject,
                    remediation: reconciler.tool == .argoCD
                        ? "Turn off auto-sync and self-heal for the Application (argocd app set APP --sync-policy none), migrate, commit the new mode to Git, then re-enable sync; run with --ignore-preflight-errors=GitOpsOwner once sync is off."
                        : "Suspend the Kustomization or HelmRelease (flux suspend kustomization NAME / flux suspend helmrelease NAME), migrate, commit the new mode to Git, then resume; run with --ignore-preflight-errors=GitOpsOwner once suspended."))
            } else if owners.contains(where: { $0.tool == .argoCD }) {
                findings.append(.warning(
                    "\(subject) may be tracked by Argo CD (\(evidence)); if an Application syncs it, a sync reverts the migration",
                    subject: subject,
                    remediation: "If Argo CD tracks it, turn off auto-sync for its Application while migrating and commit the new mode to Git."))
            } else {
                let helm = owners.first { $0.tool == .helm }?.evidence ?? evidence
                findings.append(.warning(
                    "\(subject) is managed by Helm (\(helm)): the next helm upgrade restores the old mode",
                    subject: subject,
                    remediation: "After migrating, set the new mode in the release's values (helm upgrade RELEASE CHART --reuse-values --set ...) so upgrades keep it."))
            }
        }
        if findings.isEmpty {
            let names = subjects.map(\.0).joined(separator: " and ")
            findings.append(.note("\(names.isEmpty ? "kube-proxy's objects" : names) carry no Helm, Argo CD or Flux labels, annotations or field managers"))
        }
        return findings
    }

    /// Owners named by an object's labels, annotations and field managers.
    static func owners(_ object: some KubeResource) -> [Owner] {
        let labels = object.labels
        let annotations = object.annotations
        let managers = Set((object.json[path: ["metadata", "managedFields"]]?.arrayValue ?? []).compactMap { $0["manager"]?.stringValue })
        var owners: [Owner] = []
        if let id = annotations["argocd.argoproj.io/tracking-id"] {
            owners.append(Owner(tool: .argoCD, evidence: "annotation argocd.argoproj.io/tracking-id=\(id)", certain: true))
        }
        if let app = labels["argocd.argoproj.io/instance"] {
            owners.append(Owner(tool: .argoCD, evidence: "label argocd.argoproj.io/instance=\(app)", certain: true))
        }
        for manager in managers.sorted() where manager.hasPrefix("argocd") {
            owners.append(Owner(tool: .argoCD, evidence: "field manager \(manager)", certain: true))
        }
        // Argo CD's default tracking label, which Helm charts also set to the release name.
        if let instance = labels["app.kubernetes.io/instance"], annotations["meta.helm.sh/release-name"] == nil,
           !owners.contains(where: { $0.tool == .argoCD }) {
            owners.append(Owner(tool: .argoCD, evidence: "label app.kubernetes.io/instance=\(instance)", certain: false))
        }
        for (key, value) in labels.sorted(by: { $0.key < $1.key })
        where key.hasPrefix("kustomize.toolkit.fluxcd.io/") || key.hasPrefix("helm.toolkit.fluxcd.io/") {
            owners.append(Owner(tool: .flux, evidence: "label \(key)=\(value)", certain: true))
        }
        for manager in managers.sorted() where manager == "kustomize-controller" || manager == "helm-controller" {
            owners.append(Owner(tool: .flux, evidence: "field manager \(manager)", certain: true))
        }
        if let release = annotations["meta.helm.sh/release-name"] {
            let namespace = annotations["meta.helm.sh/release-namespace"].map { "\($0)/" } ?? ""
            owners.append(Owner(tool: .helm, evidence: "release \(namespace)\(release), annotation meta.helm.sh/release-name", certain: true))
        } else if labels["app.kubernetes.io/managed-by"] == "Helm" {
            owners.append(Owner(tool: .helm, evidence: "label app.kubernetes.io/managed-by=Helm", certain: true))
        }
        return owners
    }
}
