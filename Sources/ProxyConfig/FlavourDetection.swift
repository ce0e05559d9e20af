/// Recognises the kube-proxy flavour from cluster objects (reference: kube-proxy.md §8).
public enum FlavourDetection {
    /// Detects the flavour, locates the mode of a migratable one, and explains any refusal.
    public static func detect(_ objects: KubeProxyObjects) -> FlavourReport {
        let facts = Facts(objects)
        if let managed = facts.refusedPlatform { return refusal(managed.flavour, evidence: managed.evidence) }

        let daemonSets = objects.daemonSets.filter { $0.metadata.label("k8s-app") == "kube-proxy" || $0.metadata.name == "kube-proxy" }
        let staticPods = objects.pods.filter(isStaticKubeProxyPod)

        if daemonSets.isEmpty {
            if let pod = staticPods.first {
                let kops = pod.metadata.label("kubernetes.io/managed-by") == "nodeup" || pod.metadata.label("tier") == "node"
                return refusal(kops ? .kops : .staticPods, evidence: [
                    "no kube-proxy DaemonSet; pod \(pod.metadata.name) is a static (mirror) pod owned by its node",
                ] + (kops ? ["labels of kops' nodeup (k8s-app=kube-proxy, tier=node)"] : []))
            }
            if facts.ciliumReplacesKubeProxy { return refusal(.cilium, evidence: ["no kube-proxy; cilium-config has kube-proxy-replacement enabled"]) }
            if facts.calicoEBPF { return refusal(.calicoEBPF, evidence: ["no kube-proxy; Calico runs the eBPF dataplane"]) }
            return refusal(.absent, evidence: ["no kube-proxy DaemonSet or static pods in the namespace"])
        }

        guard let daemonSet = daemonSets.count == 1 ? daemonSets.first : daemonSets.first(where: { $0.metadata.name == "kube-proxy" })
        else {
            return refusal(.daemonSet, evidence: ["\(daemonSets.count) kube-proxy DaemonSets: \(daemonSets.map(\.metadata.name).joined(separator: ", "))"],
                           blocker: ProxyConfigError(
                               .unsupportedFlavour,
                               "found \(daemonSets.count) kube-proxy DaemonSets (\(daemonSets.map(\.metadata.name).joined(separator: ", "))) and none is named kube-proxy.",
                               remediation: "Migrate each by hand, or keep one kube-proxy DaemonSet.", runbook: .migrate("several-daemonsets")))
        }
        let disabled = daemonSet.spec.template.spec.nodeSelector?.keys.contains("non-calico") == true
            || daemonSet.status?.desiredNumberScheduled == 0
        if facts.calicoEBPF, disabled {
            return refusal(.calicoEBPF, evidence: ["Calico eBPF dataplane; DaemonSet \(daemonSet.metadata.name) schedules no pods"])
        }
        if facts.ciliumReplacesKubeProxy {
            return refusal(.cilium, evidence: ["cilium-config has kube-proxy-replacement enabled next to DaemonSet \(daemonSet.metadata.name)"])
        }
        return migratable(daemonSet, objects: objects, facts: facts, staticPods: staticPods)
    }

    private static func migratable(
        _ daemonSet: KubeProxyObjects.DaemonSet, objects: KubeProxyObjects, facts: Facts, staticPods: [KubeProxyObjects.Pod]
    ) -> FlavourReport {
        var evidence = ["DaemonSet \(daemonSet.metadata.name) runs kube-proxy"]
        var warnings: [ProxyConfigWarning] = []
        let location: ModeLocation
        do {
            location = try ModeLocation.locate(in: daemonSet)
        } catch {
            return FlavourReport(flavour: .daemonSet, evidence: evidence, location: nil, warnings: [], blocker: error)
        }
        var configMap: KubeProxyObjects.ConfigMap?
        switch location.source {
        case .configMap(let name, let key, _, let path):
            evidence.append("--config=\(path) reads key \(key) of ConfigMap \(name)")
            configMap = objects.configMaps.first { $0.metadata.name == name }
            guard let found = configMap, found.data?[key] != nil else {
                return FlavourReport(flavour: .daemonSet, evidence: evidence, location: location, warnings: [], blocker: ProxyConfigError(
                    .notFound, "ConfigMap \(name) with key \(key), which kube-proxy reads through --config=\(path), was not found.",
                    remediation: "Check that the ConfigMap exists in the kube-proxy namespace and that kpswitch may read it.",
                    runbook: .migrate("locate-mode")))
            }
        case .flag(let value):
            evidence.append("no --config; mode from --proxy-mode=\(value ?? "(unset, iptables)"); the change goes to the args")
        }
        if !staticPods.isEmpty {
            warnings.append(ProxyConfigWarning(
                message: "static kube-proxy pods (\(staticPods.map(\.metadata.name).joined(separator: ", "))) also run; kpswitch does not change them.",
                runbook: .migrate("static-pods")))
        }

        let eksManagers = ([daemonSet.metadata] + (configMap.map { [$0.metadata] } ?? [])).flatMap(\.managers)
        let flavour: KubeProxyFlavour
        if eksManagers.contains("eks") {
            flavour = .eksManagedAddon
            evidence.append("fields managed by \"eks\": the EKS managed add-on owns kube-proxy")
            warnings.append(ProxyConfigWarning(
                message: "the EKS managed add-on owns kube-proxy: an add-on update with --resolve-conflicts OVERWRITE replaces this edit. Set the mode in the add-on's configuration values too (aws eks update-addon --configuration-values '{\"mode\":\"...\"}').",
                runbook: .migrate("eks-managed-add-on")))
        } else if daemonSet.metadata.label("eks.amazonaws.com/component") == "kube-proxy" || facts.eksNodes
            || configMap?.metadata.name == "kube-proxy-config" {
            flavour = .eks
            evidence.append("EKS markers (label eks.amazonaws.com/component, ConfigMap kube-proxy-config or -eks- kubelet versions)")
        } else if facts.kubespray {
            flavour = .kubespray
            evidence.append("DaemonSet nodelocaldns, as Kubespray deploys it (heuristic)")
            warnings.append(ProxyConfigWarning(
                message: "this looks like a Kubespray cluster: its playbooks re-apply kube_proxy_mode from the inventory. Change kube_proxy_mode (and kube_proxy_strict_arp) there too.",
                runbook: .migrate("kubespray")))
        } else if configMap?.metadata.annotations?["kubeadm.kubernetes.io/component-config.hash"] != nil
            || configMap?.metadata.label("app") == "kube-proxy" {
            flavour = .kubeadm
            evidence.append("ConfigMap labelled app=kube-proxy / annotated by kubeadm")
        } else {
            flavour = .daemonSet
        }
        return FlavourReport(flavour: flavour, evidence: evidence, location: location, warnings: warnings, blocker: nil)
    }

    private static func isStaticKubeProxyPod(_ pod: KubeProxyObjects.Pod) -> Bool {
        let meta = pod.metadata
        let looksLikeKubeProxy = meta.label("k8s-app") == "kube-proxy" || meta.label("component") == "kube-proxy"
            || meta.name.hasPrefix("kube-proxy-")
        // Mirror pods of static manifests carry this annotation and are owned by their Node; the
        // k8s-app label alone is not enough, since kops' DaemonSet pods carry it too.
        let mirrored = meta.annotations?["kubernetes.io/config.mirror"] != nil
            || meta.ownerReferences?.contains { $0.kind == "Node" } == true
        return looksLikeKubeProxy && mirrored
    }

    private static func refusal(_ flavour: KubeProxyFlavour, evidence: [String], blocker: ProxyConfigError? = nil) -> FlavourReport {
        FlavourReport(flavour: flavour, evidence: evidence, location: nil, warnings: [],
                      blocker: blocker ?? procedure(for: flavour))
    }

    /// The refusal naming the right procedure for a flavour kpswitch cannot migrate through the ConfigMap.
    static func procedure(for flavour: KubeProxyFlavour) -> ProxyConfigError? {
        let (message, remediation, anchor): (String, String, String)
        switch flavour {
        case .talos:
            (message, remediation, anchor) = (
                "Talos owns kube-proxy and regenerates its DaemonSet and ConfigMap from the machine configuration.",
                "Set cluster.proxy.mode in the machine configuration (talosctl patch mc) and let Talos roll kube-proxy.",
                "talos")
        case .k3s:
            (message, remediation, anchor) = (
                "k3s runs kube-proxy inside its agent process; there is no DaemonSet or ConfigMap to edit.",
                "Set kube-proxy-arg: [\"proxy-mode=<mode>\"] in /etc/rancher/k3s/config.yaml on every node and restart k3s, one node at a time.",
                "k3s")
        case .rke2:
            (message, remediation, anchor) = (
                "RKE2 runs kube-proxy as static pods it regenerates; edits to the manifests are reverted.",
                "Set kube-proxy-arg: [\"proxy-mode=<mode>\"] in /etc/rancher/rke2/config.yaml on every node and restart rke2, one node at a time.",
                "rke2")
        case .kops:
            (message, remediation, anchor) = (
                "kops runs kube-proxy as static pods written by nodeup from the cluster spec.",
                "Set spec.kubeProxy.proxyMode with kops edit cluster, then kops update cluster --yes and kops rolling-update cluster.",
                "kops")
        case .aks:
            (message, remediation, anchor) = (
                "AKS manages kube-proxy; in-cluster edits are not the supported path.",
                "Use az aks update --kube-proxy-config with a file setting mode (IPTABLES, IPVS, or NFTABLES on 1.33+).",
                "aks")
        case .gke:
            (message, remediation, anchor) = (
                "GKE manages kube-proxy (or replaces it with Dataplane V2) and offers no mode setting.",
                "Keep GKE's dataplane; to leave iptables, create a cluster with Dataplane V2.",
                "gke")
        case .cilium:
            (message, remediation, anchor) = (
                "Cilium replaces kube-proxy (kube-proxy-replacement is on); there is no kube-proxy mode to switch.",
                "Nothing to migrate; Service handling is Cilium's.",
                "kube-proxy-replaced")
        case .calicoEBPF:
            (message, remediation, anchor) = (
                "Calico's eBPF dataplane replaces kube-proxy, which is disabled here; there is no kube-proxy mode to switch.",
                "Nothing to migrate; Service handling is Calico's.",
                "kube-proxy-replaced")
        case .staticPods:
            (message, remediation, anchor) = (
                "kube-proxy runs as static pods from node manifests; the API cannot change them.",
                "Edit --proxy-mode (or the config file) in each node's manifest, one node at a time.",
                "static-pods")
        case .absent:
            (message, remediation, anchor) = (
                "no kube-proxy was found in the namespace.",
                "Check the namespace (-n) and that kpswitch may list DaemonSets and Pods there.",
                "kube-proxy-not-found")
        case .kubeadm, .kubespray, .eks, .eksManagedAddon, .daemonSet:
            return nil
        }
        return ProxyConfigError(.unsupportedFlavour, "\(flavour.rawValue): \(message)", remediation: remediation,
                                runbook: .migrate(anchor))
    }
}

/// Cluster-wide facts detection reads from nodes and the networking add-ons.
private struct Facts {
    let refusedPlatform: (flavour: KubeProxyFlavour, evidence: [String])?
    let eksNodes: Bool
    let kubespray: Bool
    let ciliumReplacesKubeProxy: Bool
    let calicoEBPF: Bool

    init(_ objects: KubeProxyObjects) {
        let versions = objects.nodes.compactMap { $0.status?.nodeInfo?.kubeletVersion }
        let images = objects.nodes.compactMap { $0.status?.nodeInfo?.osImage }
        let labelKeys = Set(objects.nodes.flatMap { $0.metadata.labels?.keys.map { $0 } ?? [] })
        if labelKeys.contains(where: { $0.hasPrefix("kubernetes.azure.com/") }) {
            refusedPlatform = (.aks, ["node labels kubernetes.azure.com/*"])
        } else if labelKeys.contains("cloud.google.com/gke-nodepool") {
            refusedPlatform = (.gke, ["node label cloud.google.com/gke-nodepool"])
        } else if let image = images.first(where: { $0.hasPrefix("Talos") }) {
            refusedPlatform = (.talos, ["node osImage \"\(image)\""])
        } else if let version = versions.first(where: { $0.contains("+k3s") }) {
            refusedPlatform = (.k3s, ["kubelet version \(version)"])
        } else if let version = versions.first(where: { $0.contains("+rke2") }) {
            refusedPlatform = (.rke2, ["kubelet version \(version)"])
        } else {
            refusedPlatform = nil
        }
        eksNodes = versions.contains { $0.contains("-eks-") }
        kubespray = objects.daemonSets.contains { $0.metadata.name == "nodelocaldns" }
        let cilium = objects.configMaps.first { $0.metadata.name == "cilium-config" }?.data?["kube-proxy-replacement"]
        ciliumReplacesKubeProxy = cilium == "true" || cilium == "strict"
        calicoEBPF = objects.calicoInstallations.contains { $0.spec?.calicoNetwork?.linuxDataplane == "BPF" }
            || objects.daemonSets.contains { daemonSet in
                daemonSet.metadata.name == "calico-node" && daemonSet.spec.template.spec.containers.contains { container in
                    container.env?.contains { $0.name == "FELIX_BPFENABLED" && $0.value?.lowercased() == "true" } == true
                }
            }
    }
}
