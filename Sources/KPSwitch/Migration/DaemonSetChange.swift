import KubeAPI

/// The DaemonSet edits a migration makes, as functions of the recorded original: each result is the whole
/// `spec.updateStrategy` and `spec.template`, so a step re-run after a crash writes the same thing again.
enum DaemonSetChange {
    static let cleanupContainerName = "kpswitch-cleanup"
    static let restartedAtKey = "kubectl.kubernetes.io/restartedAt"

    /// Canary: OnDelete, the config volume on the staged ConfigMap, and (iptables ↔ ipvs with the
    /// init-container strategy) an init container running this cluster's kube-proxy image with `--cleanup`.
    /// The update strategy under which only kpswitch replaces pods.
    static let onDelete: JSONValue = ["type": "OnDelete"]

    static func staged(
        _ original: MigrationState.OriginalDaemonSet, stagedConfigMap: String, configPath: String, cleanup: CleanupStrategy
    ) throws(KPSwitchError) -> (updateStrategy: JSONValue, template: JSONValue) {
        var template = original.template
        var volumes = template[path: ["spec", "volumes"]]?.arrayValue ?? []
        guard let index = volumes.firstIndex(where: { $0["name"]?.stringValue == original.volume }) else {
            throw KPSwitchError(
                status: .runtimeError,
                message: "DaemonSet \(original.name) has no volume \(original.volume) in its recorded template.",
                remediation: "Nothing was changed by this step. Run kpswitch rollback.", runbook: .rollback("kpswitch-rollback"))
        }
        volumes[index][path: ["configMap", "name"]] = .string(stagedConfigMap)
        template[path: ["spec", "volumes"]] = .array(volumes)
        if cleanup == .initContainer {
            let proxy = try kubeProxyContainer(original)
            var inits = template[path: ["spec", "initContainers"]]?.arrayValue ?? []
            inits.removeAll { $0["name"]?.stringValue == cleanupContainerName }
            inits.append(cleanupContainer(from: proxy, configPath: configPath))
            template[path: ["spec", "initContainers"]] = .array(inits)
        }
        return (onDelete, template)
    }

    /// `kube-proxy --cleanup` in the cluster's own image and privileges: it removes iptables, IPVS and
    /// nftables state whatever the mode, then exits (kube-proxy's options.go), before the new mode starts.
    static func cleanupContainer(from proxy: JSONValue, configPath: String) -> JSONValue {
        let command = proxy["command"]?.arrayValue?.first?.stringValue ?? "kube-proxy"
        var container: JSONValue = [
            "name": .string(cleanupContainerName),
            "command": [.string(command), "--cleanup", .string("--config=\(configPath)")],
        ]
        for key in ["image", "imagePullPolicy", "securityContext", "volumeMounts", "env"] {
            if let value = proxy[key] { container[key] = value }
        }
        return container
    }

    static func kubeProxyContainer(_ original: MigrationState.OriginalDaemonSet) throws(KPSwitchError) -> JSONValue {
        guard let proxy = (original.template[path: ["spec", "containers"]]?.arrayValue ?? [])
            .first(where: { $0["name"]?.stringValue == original.container })
        else {
            throw KPSwitchError(
                status: .runtimeError, message: "DaemonSet \(original.name) has no container \(original.container) in its recorded template.")
        }
        return proxy
    }

    /// `kubectl rollout restart`: a new `restartedAt` template annotation (RFC 3339), nothing else.
    static func restarted(_ template: JSONValue, at time: String) -> JSONValue {
        var template = template
        var annotations = template[path: ["metadata", "annotations"]]?.objectValue ?? [:]
        annotations[restartedAtKey] = .string(time)
        template[path: ["metadata", "annotations"]] = .object(annotations)
        return template
    }

    /// The DaemonSet with `updateStrategy` and `template` replaced, all else as read (metadata, status,
    /// resourceVersion for the optimistic-concurrency check).
    static func applying(_ daemonSet: DaemonSet, updateStrategy: JSONValue, template: JSONValue) -> DaemonSet {
        var daemonSet = daemonSet
        daemonSet.json[path: ["spec", "updateStrategy"]] = updateStrategy
        daemonSet.json[path: ["spec", "template"]] = template
        return daemonSet
    }

    /// Whether the live DaemonSet has exactly this strategy and template.
    static func matches(_ daemonSet: DaemonSet, updateStrategy: JSONValue, template: JSONValue) -> Bool {
        daemonSet.json[path: ["spec", "updateStrategy"]] == updateStrategy && daemonSet.json[path: ["spec", "template"]] == template
    }

    /// The changes, for the plan.
    static func describe(
        _ original: MigrationState.OriginalDaemonSet, strategy: MigrationPlan.Strategy, stagedConfigMap: String,
        cleanup: CleanupStrategy, configMap: String
    ) -> [String] {
        let originalType = original.updateStrategy["type"]?.stringValue ?? "RollingUpdate"
        switch strategy {
        case .canary:
            var lines = [
                "spec.updateStrategy: \(originalType) -> OnDelete while nodes are replaced batch by batch, then \(originalType) again",
                "spec.template volume \(original.volume): ConfigMap \(configMap) -> \(stagedConfigMap) while migrating, then \(configMap) again",
            ]
            if cleanup == .initContainer {
                lines.append("spec.template.spec.initContainers: + \(cleanupContainerName) (kube-proxy --cleanup, same image) on migrated pods; removed at finalize")
            }
            lines.append("finalize: template exactly as recorded while still OnDelete; kpswitch replaces the pods in its final batches, then the recorded update strategy, with nothing left for the controller to roll")
            return lines
        case .rolling:
            return ["spec.template.metadata.annotations[\(restartedAtKey)]: set, as kubectl rollout restart does; the \(originalType) strategy rolls the pods"]
        }
    }
}
