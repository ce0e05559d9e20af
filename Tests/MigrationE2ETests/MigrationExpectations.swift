import Foundation
import Testing
@testable import KubeSim

/// kube-proxy's two objects as they were at one moment.
struct KubeProxyObjects: Sendable {
    let configMap: JSONValue
    let daemonSet: JSONValue
    var config: String { configMap[path: ["data"]]?.objectValue?.values.compactMap(\.stringValue).first ?? "" }
}

extension TestCluster {
    func kubeProxyObjects() throws -> KubeProxyObjects {
        guard let configMap = kubeProxyConfigMap, let daemonSet else {
            throw E2EFailure("kube-proxy's ConfigMap \(shape.configMapName) or DaemonSet is missing")
        }
        return KubeProxyObjects(configMap: configMap, daemonSet: daemonSet)
    }

    /// After a successful migration to `mode`: the ConfigMap changed in `intendedKeys` only, the DaemonSet is as it
    /// was (a restart mark aside when `allowRestart`), nothing of kpswitch's is left, every node runs `mode`.
    func expectMigrated(
        to mode: String, from before: KubeProxyObjects, intendedKeys: Set<String> = ["mode"], allowRestart: Bool,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let after = try kubeProxyObjects()
        let beforeText = try #require(before.configMap[path: ["data", shape.configKey]]?.stringValue, sourceLocation: sourceLocation)
        let afterText = try #require(after.configMap[path: ["data", shape.configKey]]?.stringValue, sourceLocation: sourceLocation)
        let value = ObjectComparison.scalar("mode", in: afterText)
        #expect(value == mode || (mode == "iptables" && value == ""), "mode is \(value ?? "absent"), not \(mode)",
                sourceLocation: sourceLocation)
        let changed = ObjectComparison.changedKeys(from: beforeText, to: afterText)
        #expect(changed.isSubset(of: intendedKeys), "changed beyond \(intendedKeys.sorted()): \(changed.sorted())",
                sourceLocation: sourceLocation)
        #expect(ObjectComparison.removing(intendedKeys, from: beforeText) == ObjectComparison.removing(intendedKeys, from: afterText),
                "the text differs outside \(intendedKeys.sorted()):\n--- before\n\(beforeText)\n--- after\n\(afterText)",
                sourceLocation: sourceLocation)
        #expect(try ObjectComparison.parsed(beforeText, removing: intendedKeys) == ObjectComparison.parsed(afterText, removing: intendedKeys),
                sourceLocation: sourceLocation)
        var otherBefore = ObjectComparison.userOwned(before.configMap)
        var otherAfter = ObjectComparison.userOwned(after.configMap)
        otherBefore[path: ["data", shape.configKey]] = nil
        otherAfter[path: ["data", shape.configKey]] = nil
        #expect(ObjectComparison.differences(otherBefore, otherAfter) == [], "the ConfigMap changed beyond its config key",
                sourceLocation: sourceLocation)
        let dsDiff = ObjectComparison.differences(
            ObjectComparison.userOwnedDaemonSet(before.daemonSet, allowRestart: allowRestart),
            ObjectComparison.userOwnedDaemonSet(after.daemonSet, allowRestart: allowRestart))
        #expect(dsDiff == [], "the DaemonSet is not as it was", sourceLocation: sourceLocation)
        expectNothingLeftBehind(sourceLocation: sourceLocation)
        try await expectStatus(mode: mode, sourceLocation: sourceLocation)
    }

    /// After a rollback or a failed migration: kube-proxy's objects exactly as in `before`, and the old mode running.
    func expectRestored(
        _ before: KubeProxyObjects, mode: String, allowRestart: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let after = try kubeProxyObjects()
        #expect(after.configMap[path: ["data"]] == before.configMap[path: ["data"]],
                "ConfigMap data differs: \(ObjectComparison.differences(before.configMap["data"], after.configMap["data"]))",
                sourceLocation: sourceLocation)
        #expect(ObjectComparison.differences(ObjectComparison.userOwned(before.configMap), ObjectComparison.userOwned(after.configMap)) == [],
                sourceLocation: sourceLocation)
        #expect(ObjectComparison.differences(
            ObjectComparison.userOwnedDaemonSet(before.daemonSet, allowRestart: allowRestart),
            ObjectComparison.userOwnedDaemonSet(after.daemonSet, allowRestart: allowRestart)) == [],
                "the DaemonSet is not exactly as before", sourceLocation: sourceLocation)
        expectNothingLeftBehind(sourceLocation: sourceLocation)
        try await expectStatus(mode: mode, sourceLocation: sourceLocation)
    }

    func expectNothingLeftBehind(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(stagedConfigMaps == [], "a staged ConfigMap is left", sourceLocation: sourceLocation)
        let holder = lease?[path: ["spec", "holderIdentity"]]?.stringValue ?? ""
        #expect(holder.isEmpty, "the Lease kpswitch is still held by \(holder)", sourceLocation: sourceLocation)
    }

    /// `kpswitch status -o json` reports every node in `mode`, and kube-sim agrees.
    func expectStatus(mode: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let status = try await kpswitch(["status", "-o", "json"])
        #expect(status.status == 0, "\(status)", sourceLocation: sourceLocation)
        let json = try status.json()
        #expect(json["kind"] as? String == "MigrationStatus", sourceLocation: sourceLocation)
        let nodes = json["nodes"] as? [[String: Any]] ?? []
        let byNode = Dictionary(nodes.compactMap { n in (n["node"] as? String).map { ($0, n["observedMode"] as? String ?? "") } },
                                uniquingKeysWith: { first, _ in first })
        #expect(Set(byNode.keys) == Set(nodeNames), "status lists \(byNode.keys.sorted())", sourceLocation: sourceLocation)
        #expect(byNode.values.allSatisfy { $0 == mode }, "status: \(byNode)", sourceLocation: sourceLocation)
        #expect(json["configuredMode"] as? String == mode, "\(status.stdout)", sourceLocation: sourceLocation)
        // kube-sim's own view: one Ready pod per node, on the mode's start-up line.
        let pods = kubeProxyPods
        #expect(pods.count == nodeNames.count && pods.allSatisfy(\.ready), "\(pods)", sourceLocation: sourceLocation)
        for pod in store.list(.pods, filter: ObjectFilter(namespace: namespace)).items.map(\.object)
        where pod[path: ["metadata", "labels", "k8s-app"]]?.stringValue == "kube-proxy" {
            let log = try sim.cluster.kubelet.log(pod: pod, container: nil, previous: false, tailLines: nil)
            #expect(log.contains("Using \(mode) Proxier"), "\(pod[path: ["spec", "nodeName"]]?.stringValue ?? ""): \(log)",
                    sourceLocation: sourceLocation)
        }
    }
}
