import Foundation
import Testing
@testable import KubeSim

/// Issue #11: two migrations at once, and colleagues editing kube-proxy's objects while one runs.
@Suite("concurrent migrations and edits", .timeLimit(.minutes(5)))
struct ConcurrencyTests {
    @Test("two migrations at once: one proceeds, the other exits 1 naming the holder")
    func twoAtOnce() async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables")) { cluster in
            let before = try cluster.kubeProxyObjects()
            let arguments = ["migrate", "--to", "nftables", "--yes", "--timeout", "2m"] + Strategy.canary.arguments
            let first = try cluster.startKPSwitch(arguments)
            let second = try cluster.startKPSwitch(arguments)
            let results = [await first.wait(), await second.wait()]
            let pids = [first.pid, second.pid]
            let winners = results.indices.filter { results[$0].status == 0 }
            try #require(winners.count == 1, "\(results[0])\n\(results[1])")
            let winner = winners[0], loser = 1 - winner
            #expect(results[loser].status == 1, "\(results[loser])")
            let message = results[loser].stdout + results[loser].stderr
            #expect(message.contains("held by") && message.contains("/pid-\(pids[winner])"), "\(results[loser])")
            try await cluster.expectMigrated(to: "nftables", from: before, allowRestart: false)
        }
    }

    @Test("a second migration while one runs is refused, naming the holder")
    func whileOneRuns() async throws {
        let shape = ClusterShape.eks
        try await TestCluster.with(shape, try shape.scenario(mode: "ipvs")) { cluster in
            let before = try cluster.kubeProxyObjects()
            let first = try cluster.startKPSwitch(["migrate", "--to", "nftables", "--yes", "--timeout", "2m"] + Strategy.canary.arguments)
            // Wait until the first holds the lock and has begun replacing pods.
            let deadline = ContinuousClock.now + .seconds(60)
            while cluster.podSightings.allSatisfy({ !$0.configMaps.contains { $0.contains("-kpswitch-") } }),
                  ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let second = try await cluster.kpswitch(["migrate", "--to", "iptables", "--yes"])
            #expect(second.status == 1, "\(second)")
            #expect((second.stdout + second.stderr).contains("held by"), "\(second)")
            #expect((second.stdout + second.stderr).contains("/pid-\(first.pid)"), "\(second)")
            let result = await first.wait()
            try #require(result.status == 0, "\(result)")
            try await cluster.expectMigrated(to: "nftables", from: before, allowRestart: false)
        }
    }

    /// Someone's change made while the canary runs (after the DaemonSet was pointed at the staged ConfigMap).
    enum OutsideEdit: String, Sendable, CaseIterable {
        case configMap = "ConfigMap"
        case daemonSet = "DaemonSet"
    }

    @Test("a concurrent edit is not overwritten, and the message names the object", arguments: OutsideEdit.allCases)
    func outsideEdit(_ edit: OutsideEdit) async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables")) { cluster in
            let edited = Locked(false)
            let kubectl = Locked<(status: Int32, output: String)?>(nil)
            cluster.onStateWrite { data in
                // Once the DaemonSet points at the staged ConfigMap (step 4 done), with real kubectl, off the store's lock.
                guard data["completed"] == "4", !edited.withLock({ let was = $0; $0 = true; return was }) else { return }
                Thread {
                    let patch: [String]
                    switch edit {
                    case .configMap:
                        let text = cluster.kubeProxyConfig ?? ""
                        let changed = text.replacingOccurrences(of: "clusterCIDR: 172.17.0.0/16", with: "clusterCIDR: 172.18.0.0/16")
                        let body = try? JSONSerialization.data(withJSONObject: ["data": [shape.configKey: changed]])
                        patch = ["patch", "configmap", shape.configMapName, "--type", "merge", "-p", String(decoding: body ?? Data(), as: UTF8.self)]
                    case .daemonSet:
                        patch = ["patch", "daemonset", "kube-proxy", "--type", "merge",
                                 "-p", #"{"spec":{"template":{"metadata":{"annotations":{"example.com/edited-by":"colleague"}}}}}"#]
                    }
                    let result = try? cluster.kubectl(patch)
                    kubectl.withLock { $0 = result ?? (-1, "kubectl did not start") }
                }.start()
            }
            let result = try await cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--timeout", "1m"] + Strategy.canary.arguments)
            #expect(edited.value, "the record never showed step 4 completed")
            let deadline = ContinuousClock.now + .seconds(30)
            while edited.value, kubectl.value == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(kubectl.value?.status == 0, "kubectl patch: \(kubectl.value?.output ?? "did not finish")")
            #expect(result.status == 4 || result.status == 5, "\(result)")
            let message = result.stdout + result.stderr
            let name = edit == .configMap ? shape.configMapName : "kube-proxy"
            #expect(message.contains(edit.rawValue) && message.contains(name), "the message names the object:\n\(result)")
            #expect(["changed", "modified", "edited"].contains { message.contains($0) }, "\(result)")
            switch edit {
            case .configMap:
                #expect(cluster.kubeProxyConfig?.contains("clusterCIDR: 172.18.0.0/16") == true, "their edit was overwritten")
            case .daemonSet:
                #expect(cluster.daemonSet?[path: ["spec", "template", "metadata", "annotations", "example.com/edited-by"]] == "colleague",
                        "their edit was overwritten")
            }
        }
    }
}
