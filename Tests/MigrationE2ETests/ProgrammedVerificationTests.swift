import Foundation
import Testing
@testable import KubeSim

/// Issue #15's verification: after each batch and the final rollout, every migrated node's agent counts the
/// ClusterIP service ports the new mode programs (kube-sim's netfilter nodes hold real rules) against the
/// Services the API lists; a node programming too few fails the batch by name and number, and the
/// migration rolls back.
@Suite("programmed service ports", .timeLimit(.minutes(5)))
struct ProgrammedVerificationTests {
    @Test("iptables→nftables: every batch's nodes program every ClusterIP port, and iptables' chains are gone")
    func everyNodeVerified() async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", workers: 2)) { cluster in
            let before = try cluster.kubeProxyObjects()
            let result = try await cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--batches", "1,100%", "--timeout", "3m"])
            try #require(result.status == 0, "\(result)")
            // kubernetes plus the scenario's four Services; three nodes, canary batches 1 and 2, final 1 and 2.
            let lines = result.stdout.split(separator: "\n").filter { $0.contains("programmed:") }
            #expect(lines.count == 4, "\(result.stdout)")
            #expect(lines.allSatisfy { $0.contains("the 5 ClusterIP service ports in nftables mode") }, "\(lines)")
            try await cluster.expectMigrated(to: "nftables", from: before, allowRestart: false)
        }
    }

    @Test("a node whose kube-proxy programs too few fails its batch, named with the numbers, and the migration rolls back")
    func tooFewRollsBack() async throws {
        let shape = ClusterShape.kubeadm
        var short = Scenario.NodeGroup(namePrefix: "short", count: 1)
        short.kubeProxyOmitsServices = 2
        let groups = [Scenario.NodeGroup(namePrefix: "full", count: 1), short]
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", nodeGroups: groups)) { cluster in
            let before = try cluster.kubeProxyObjects()
            // The short node's kube-proxy leaves two ports out in every mode: preflight cannot see it coming.
            let result = try await cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--batches", "1,100%", "--timeout", "3m"])
            #expect(result.status == 4, "\(result)")
            let output = result.stdout + result.stderr
            #expect(output.contains("node short-1: kube-proxy programs 3 of the 5 ClusterIP service ports the API lists in nftables mode (2 missing; at most 0 may be)"),
                    "\(result)")
            #expect(!output.contains("node full-1:"), "\(result)")
            try await cluster.waitUntilKubeProxyReady()
            try await cluster.expectRestored(before, mode: "iptables")
            #expect(cluster.state?["outcome"] == "rolledBack", "\(cluster.state ?? [:])")
            #expect(cluster.store.list(.pods, filter: ObjectFilter()).items.allSatisfy { !AgentPods.isAgent($0.object) })
        }
    }
}
