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
        // Page by page, keeping only what detection reads: a thousand whole pods and nodes are never held at once.
        var pods: [JSONValue] = []
        for try await page in client.listPages(Pod.self, namespace: namespace, labelSelector: "k8s-app=kube-proxy") {
            pods += page.items.map { Self.only(Self.podFields, of: $0.json) }
        }
        var nodes: [JSONValue] = []
        for try await page in client.listPages(Node.self) {
            nodes += page.items.map { Self.only([["metadata", "name"], ["metadata", "labels"], ["status", "nodeInfo"]], of: $0.json) }
        }
        let encoder = JSONEncoder()
        let objects = try KubeProxyObjects(
            daemonSets: try encoder.encode(JSONValue.object(["items": .array(daemonSets.map(\.json))])),
            configMaps: try encoder.encode(JSONValue.object(["items": .array(configMaps.map(\.json))])),
            pods: try encoder.encode(JSONValue.object(["items": .array(pods)])),
            nodes: try encoder.encode(JSONValue.object(["items": .array(nodes)])))
        return (FlavourDetection.detect(objects), daemonSets, configMaps)
    }

    /// A pod's fields detection reads (static pods are found by label, annotation and owner), without its managedFields.
    static let podFields = [["name"], ["namespace"], ["labels"], ["annotations"], ["ownerReferences"]].map { ["metadata"] + $0 }

    /// The fields detection reads of a pod or node (its metadata, a node's nodeInfo): on a large cluster,
    /// encoding whole pods and nodes for it cost more than the rest of planning.
    static func only(_ paths: [[String]], of object: JSONValue) -> JSONValue {
        var kept: JSONValue = [:]
        for path in paths {
            kept[path: path] = object[path: path]
        }
        return kept
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
