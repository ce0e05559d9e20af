import Foundation
import Testing
@testable import KubeSim

/// Issue #11: some nodes lack IPVS. The canary fails verification, no other node ever runs the new configuration,
/// kpswitch rolls back by itself and exits 4, and kube-proxy's objects are exactly as before.
@Suite("canary failure", .timeLimit(.minutes(5)))
struct CanaryFailureTests {
    /// Two nodes without IPVS sort first (the canary comes from them), two with it after.
    static func nodes(_ shape: ClusterShape) -> [Scenario.NodeGroup] {
        let kernel = shape == .eks ? "6.1.115-126.197.amzn2023.x86_64" : "6.1.0-28-amd64"
        return [Scenario.NodeGroup(namePrefix: "node-a", count: 2, kernelVersion: kernel, ipvs: .absent),
                Scenario.NodeGroup(namePrefix: "node-b", count: 2, kernelVersion: kernel, ipvs: .loaded)]
    }

    @Test("iptables→ipvs where the canary lacks IPVS", arguments: ClusterShape.allCases)
    func canaryLacksIPVS(shape: ClusterShape) async throws {
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", nodeGroups: Self.nodes(shape))) { cluster in
            let before = try cluster.kubeProxyObjects()
            // Preflight's agents find node-a's missing IPVS; ignoring that lets the canary meet it, which is what
            // this test is about.
            let ignore = ["--ignore-preflight-errors", "IPVSKernelSupport"]
            let plan = try await cluster.kpswitch(["migrate", "--to", "ipvs", "--dry-run", "-o", "json", "--batches", "1,100%"] + ignore)
            try #require(plan.status == 0, "\(plan)")
            let canary = try #require((plan.json()["batches"] as? [[String]])?.first, "\(plan)")
            try #require(canary.count == 1 && canary[0].hasPrefix("node-a"), "the canary is \(canary), not a node without IPVS")

            let result = try await cluster.kpswitch(["migrate", "--to", "ipvs", "--yes", "--batches", "1,100%", "--timeout", "2m"] + ignore)
            #expect(result.status == 4, "\(result)")
            let output = result.stdout + result.stderr
            #expect(output.contains(canary[0]), "the failure names the canary node:\n\(result)")

            // Only the canary ever ran a pod from the staged ConfigMap, and the original never held the new mode.
            let staged = cluster.podSightings.filter { $0.configMaps.contains { $0.contains("-kpswitch-") } }
            #expect(!staged.isEmpty, "no pod ever used a staged ConfigMap")
            #expect(Set(staged.map(\.node)) == Set(canary), "nodes that got the staged config: \(staged.map(\.node))")
            let originalModes = cluster.versions(ofConfigMap: shape.configMapName).map {
                ObjectComparison.scalar("mode", in: $0[path: ["data", shape.configKey]]?.stringValue ?? "") ?? "absent"
            }
            #expect(originalModes.allSatisfy { $0 == "" || $0 == "iptables" }, "the original ConfigMap held \(originalModes)")

            try await cluster.waitUntilKubeProxyReady()
            try await cluster.expectRestored(before, mode: "iptables")
            #expect(cluster.state?["outcome"] == "rolledBack", "\(cluster.state ?? [:])")
        }
    }
}
