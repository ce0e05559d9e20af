import Testing
@testable import KubeSim

/// The judge the end-to-end tests rely on must see the changes it exists to catch.
@Suite("object comparison")
struct ObjectComparisonTests {
    static let config = """
        apiVersion: kubeproxy.config.k8s.io/v1alpha1
        ipvs:
          scheduler: ""
          strictARP: false
        kind: KubeProxyConfiguration
        mode: ""
        nftables:
          syncPeriod: 0s
        """

    @Test("a mode edit is the mode key, and nothing else")
    func modeOnly() {
        let after = Self.config.replacingOccurrences(of: "mode: \"\"", with: "mode: \"nftables\"")
        #expect(ObjectComparison.changedKeys(from: Self.config, to: after) == ["mode"])
        #expect(ObjectComparison.removing(["mode"], from: Self.config) == ObjectComparison.removing(["mode"], from: after))
        #expect(ObjectComparison.scalar("mode", in: after) == "nftables")
    }

    @Test("nested keys, added keys, and changes outside any key are all seen")
    func catches() throws {
        let nested = Self.config.replacingOccurrences(of: "  scheduler: \"\"", with: "  scheduler: lc")
        #expect(ObjectComparison.changedKeys(from: Self.config, to: nested) == ["ipvs.scheduler"])
        let added = Self.config.replacingOccurrences(of: "  strictARP: false", with: "  strictARP: false\n  tcpTimeout: 0s")
        #expect(ObjectComparison.changedKeys(from: Self.config, to: added) == ["ipvs.tcpTimeout"])
        let comment = Self.config + "\n# edited"
        #expect(ObjectComparison.changedKeys(from: Self.config, to: comment).isEmpty)
        #expect(ObjectComparison.removing(["mode"], from: Self.config) != ObjectComparison.removing(["mode"], from: comment))
        let renamed = Self.config.replacingOccurrences(of: "nftables:\n  syncPeriod", with: "nftables:\n  minSyncPeriod")
        #expect(try ObjectComparison.parsed(Self.config, removing: ["mode"]) != ObjectComparison.parsed(renamed, removing: ["mode"]))
    }

    @Test("server-owned fields are ignored, a changed template is not")
    func daemonSets() {
        let original: JSONValue = [
            "metadata": ["name": "kube-proxy", "resourceVersion": "10", "generation": 1,
                         "annotations": ["deprecated.daemonset.template.generation": "1"]],
            "spec": ["template": ["metadata": ["labels": ["k8s-app": "kube-proxy"]]]],
            "status": ["numberReady": 3],
        ]
        var bumped = original
        bumped[path: ["metadata", "resourceVersion"]] = "20"
        bumped[path: ["metadata", "generation"]] = 3
        bumped[path: ["metadata", "annotations", "deprecated.daemonset.template.generation"]] = "3"
        bumped[path: ["status", "numberReady"]] = 2
        #expect(ObjectComparison.userOwned(bumped) == ObjectComparison.userOwned(original))
        var restarted = bumped
        restarted[path: ["spec", "template", "metadata", "annotations", ObjectComparison.restartedAt]] = "2026-11-27T02:00:00Z"
        #expect(ObjectComparison.userOwnedDaemonSet(restarted, allowRestart: false) != ObjectComparison.userOwned(original))
        #expect(ObjectComparison.userOwnedDaemonSet(restarted, allowRestart: true) == ObjectComparison.userOwned(original))
        #expect(ObjectComparison.differences(restarted["spec"], original["spec"])
            == [".template.metadata.annotations: {\"\(ObjectComparison.restartedAt)\":\"2026-11-27T02:00:00Z\"} → absent"])
    }
}
