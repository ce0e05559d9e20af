import Foundation
import KubeAPI
import ProxyConfig

/// Reads `ClusterFacts` from the API server: nodes, kube-proxy's objects, then services and EndpointSlices
/// page by page, keeping only counts (one integer per service), so memory stays bounded on big clusters.
struct ClusterFactsReader {
    let survey: ClusterSurvey

    func read() async throws -> ClusterFacts {
        let proxy = try await survey.kubeProxy()
        let fleet = try await survey.proxyNodes()
        let services = try await survey.services()
        var perService: [String: Int] = [:]
        var endpoints = 0
        for try await page in survey.client.listPages(EndpointSlice.self, namespace: "") {
            for slice in page.items {
                let owner = slice.json[path: ["metadata", "labels", "kubernetes.io/service-name"]]?.stringValue ?? ""
                let key = (slice.json[path: ["metadata", "namespace"]]?.stringValue ?? "") + "/" + owner
                let count = slice.json["endpoints"]?.arrayValue?.count ?? 0
                perService[key, default: 0] += count
                endpoints += count
            }
        }
        let counts = perService.values.sorted()
        let p99 = counts.isEmpty ? 0 : counts[min(counts.count - 1, Int((Double(counts.count) * 0.99).rounded(.up)) - 1)]

        return ClusterFacts(
            kubernetesVersion: proxy.version ?? Self.oldestKubelet(fleet.nodes) ?? KubernetesVersion(major: 0, minor: 0),
            currentMode: proxy.mode, services: services.count, servicePorts: services.ports, endpoints: endpoints,
            maxEndpointsPerService: counts.last ?? 0, p99EndpointsPerService: p99,
            nodes: fleet.nodes.map(ClusterFacts.Node.init),
            leftOut: fleet.leftOut.map { ClusterFacts.LeftOutNode(name: $0.name, reason: $0.reason == .windows ? "windows" : "notSelected") })
    }

    /// Without a kube-proxy image tag, the oldest kubelet bounds what kube-proxy may be (version skew).
    static func oldestKubelet(_ nodes: [Node]) -> KubernetesVersion? {
        nodes.compactMap { $0.kubeletVersion.flatMap(KubernetesVersion.init) }.min()
    }
}

/// kube-proxy as the cluster runs it: flavour, where its mode is set, the mode, its version, the settings the
/// compatibility checks read, and the objects that hold them.
struct KubeProxyState: Sendable {
    let flavour: FlavourReport
    let mode: ProxyMode
    let version: KubernetesVersion?
    /// From the ConfigMap key, or from the flags when kube-proxy runs without `--config`.
    let config: KubeProxyConfigurationSummary
    let daemonSet: DaemonSet?
    /// The ConfigMap kube-proxy reads its configuration from; nil when the flags set the mode.
    let configMap: ConfigMap?

    /// The state `detected` describes; throws the flavour's refusal (exit 3) when kpswitch cannot migrate it.
    static func state(detected: (FlavourReport, [DaemonSet], [ConfigMap]), namespace: String) throws -> KubeProxyState {
        let (report, daemonSets, configMaps) = detected
        if let blocker = report.blocker {
            throw KPSwitchError(
                status: .preflightFailed, message: blocker.message, remediation: blocker.remediation,
                runbook: blocker.runbook.map { Runbook(file: $0.file, anchor: $0.anchor) })
        }
        return try state(report: report, daemonSets: daemonSets, configMaps: configMaps, namespace: namespace)
    }

    /// Flavour detection over the namespace's DaemonSets, ConfigMaps and kube-proxy pods, and the nodes.
    static func detect(client: KubeClient, namespace: String) async throws -> (FlavourReport, [DaemonSet], [ConfigMap]) {
        let daemonSets = try await client.list(DaemonSet.self, namespace: namespace).items
        let configMaps = try await client.list(ConfigMap.self, namespace: namespace).items
        // Page by page, straight into what detection reads: a thousand whole pods and nodes are never held at
        // once, nor encoded for ProxyConfig to decode again.
        var pods: [KubeProxyObjects.Pod] = []
        for try await page in client.listPages(
            Pod.self, namespace: namespace, labelSelector: "k8s-app=kube-proxy", pageSize: ClusterSurvey.pageSize,
            keeping: metadataFields)
        {
            pods += page.items.map { KubeProxyObjects.Pod(metadata: Self.metadata($0.json)) }
        }
        var nodes: [KubeProxyObjects.ClusterNode] = []
        let nodeFields = metadataFields.union(.only(["status": .only(["nodeInfo": .all])]))
        for try await page in client.listPages(Node.self, pageSize: ClusterSurvey.pageSize, keeping: nodeFields) {
            nodes += page.items.map { node in
                KubeProxyObjects.ClusterNode(
                    metadata: Self.metadata(node.json),
                    kubeletVersion: node.json[path: ["status", "nodeInfo", "kubeletVersion"]]?.stringValue,
                    osImage: node.json[path: ["status", "nodeInfo", "osImage"]]?.stringValue)
            }
        }
        let encoder = JSONEncoder()
        var objects = try KubeProxyObjects(
            daemonSets: try encoder.encode(JSONValue.object(["items": .array(daemonSets.map(\.json))])),
            configMaps: try encoder.encode(JSONValue.object(["items": .array(configMaps.map(\.json))])),
            pods: Data(#"{"items":[]}"#.utf8), nodes: Data(#"{"items":[]}"#.utf8))
        objects.pods = pods
        objects.nodes = nodes
        return (FlavourDetection.detect(objects), daemonSets, configMaps)
    }

    /// What `metadata(_:)` reads.
    static let metadataFields: JSONProjection = .only([
        "metadata": .only(["name": .all, "namespace": .all, "labels": .all, "annotations": .all, "ownerReferences": .all])
    ])

    /// The metadata detection reads of a pod or node (its managedFields are the DaemonSet's and ConfigMap's concern).
    static func metadata(_ object: JSONValue) -> KubeProxyObjects.ObjectMeta {
        let metadata = object["metadata"]
        func strings(_ key: String) -> [String: String]? {
            metadata?[key]?.objectValue?.compactMapValues(\.stringValue)
        }
        return KubeProxyObjects.ObjectMeta(
            name: metadata?["name"]?.stringValue ?? "", namespace: metadata?["namespace"]?.stringValue,
            labels: strings("labels"), annotations: strings("annotations"),
            ownerReferences: metadata?["ownerReferences"]?.arrayValue?.compactMap { owner in
                guard let kind = owner["kind"]?.stringValue, let name = owner["name"]?.stringValue else { return nil }
                return KubeProxyObjects.OwnerReference(kind: kind, name: name)
            })
    }

    static func state(
        report: FlavourReport, daemonSets: [DaemonSet], configMaps: [ConfigMap], namespace: String
    ) throws -> KubeProxyState {
        guard let location = report.location else {
            throw KPSwitchError(
                status: .runtimeError,
                message: "kube-proxy's mode could not be located in namespace \(namespace) (flavour \(report.flavour.rawValue)).",
                remediation: "Check -n/--namespace; kpswitch looks for the kube-proxy DaemonSet there.")
        }
        let daemonSet = daemonSets.first { $0.name == location.daemonSet }
        let mode: ProxyMode
        let config: KubeProxyConfigurationSummary
        var configMap: ConfigMap?
        switch location.source {
        case .configMap(let name, let key, _, _):
            configMap = configMaps.first { $0.name == name }
            guard let text = configMap?.data[key] else {
                throw KPSwitchError(
                    status: .runtimeError, message: "ConfigMap \(namespace)/\(name) has no key \(key), which kube-proxy reads.",
                    remediation: "Restore the ConfigMap from a snapshot or from your cluster's installer.")
            }
            config = try KubeProxyConfigurationSummary(parsing: text)
            guard let effective = config.effectiveMode else {
                throw KPSwitchError(status: .runtimeError, message: "ConfigMap \(namespace)/\(name) sets mode '\(config.mode)', which kpswitch does not know.")
            }
            mode = effective
        case .flag(let value):
            guard let effective = value.map({ ProxyMode(rawValue: $0) }) ?? .iptables else {
                throw KPSwitchError(status: .runtimeError, message: "kube-proxy runs with --proxy-mode=\(value ?? ""), which kpswitch does not know.")
            }
            mode = effective
            config = Self.flagSettings(daemonSet, mode: value ?? "")
        }
        let image = daemonSet?.templateContainers.first?["image"]?.stringValue
        let version = image.flatMap { $0.split(separator: ":").last }.flatMap { KubernetesVersion(String($0)) }
        return KubeProxyState(flavour: report, mode: mode, version: version, config: config, daemonSet: daemonSet, configMap: configMap)
    }

    /// The settings the compatibility checks read, from kube-proxy's flags (`--ipvs-strict-arp`,
    /// `--iptables-localhost-nodeports`, `--nodeport-addresses`), for a kube-proxy run without `--config`.
    static func flagSettings(_ daemonSet: DaemonSet?, mode: String) -> KubeProxyConfigurationSummary {
        let container = daemonSet?.templateContainers.first
        let argv = ((container?["command"]?.arrayValue ?? []) + (container?["args"]?.arrayValue ?? [])).compactMap(\.stringValue)
        func flag(_ name: String) -> String? {
            for (index, arg) in argv.enumerated() {
                if arg.hasPrefix("--\(name)=") { return String(arg.dropFirst(name.count + 3)) }
                if arg == "--\(name)" {
                    let next = index + 1 < argv.count ? argv[index + 1] : nil
                    return next.flatMap { $0.hasPrefix("-") ? nil : $0 } ?? "true"
                }
            }
            return nil
        }
        return KubeProxyConfigurationSummary(
            mode: mode, ipvsStrictARP: flag("ipvs-strict-arp").map { $0 == "true" },
            iptablesLocalhostNodePorts: flag("iptables-localhost-nodeports").map { $0 == "true" },
            nodePortAddresses: flag("nodeport-addresses").map { $0.split(separator: ",").map(String.init) })
    }
}
