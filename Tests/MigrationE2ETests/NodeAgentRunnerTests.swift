import Foundation
import KubeAPI
import NodeState
import Testing

@testable import KPSwitch
@testable import KubeSim

/// Agent pods through kube-sim's API: created from kube-proxy's template, waited on with a watch,
/// and deleted whatever happens.
@Suite("node agent pods through the API")
struct NodeAgentRunnerTests {
    func runner(_ cluster: TestCluster, deadlineSeconds: Int, concurrency: Int = 20) async throws -> (NodeAgentRunner, KubeClient) {
        let client = KubeClient(config: try KubeConfig.load(kubeconfig: cluster.kubeconfig, environment: [:]))
        let daemonSet = try await client.get(DaemonSet.self, name: "kube-proxy", namespace: "kube-system")
        let template = try #require(daemonSet.json[path: ["spec", "template"]])
        let runner = NodeAgentRunner(
            client: client, namespace: "kube-system", template: template, image: nil, concurrency: concurrency,
            deadlineSeconds: deadlineSeconds)
        return (runner, client)
    }

    func agentPods(_ cluster: TestCluster) -> [KubeSim.JSONValue] {
        cluster.store.list(.pods, filter: ObjectFilter(namespace: "kube-system")).items.map(\.object).filter {
            $0[path: ["metadata", "labels", NodeAgentPod.managedByLabel]]?.stringValue == NodeAgentPod.managedBy
        }
    }

    func nodeNames(_ cluster: TestCluster) -> [String] {
        cluster.store.list(.nodes, filter: ObjectFilter()).items.compactMap { $0.object[path: ["metadata", "name"]]?.stringValue }
    }

    @Test("every node's agent runs and reports its facts; the node's ipvs profile decides ip_vs; no agent pod is left")
    func facts() async throws {
        let groups = Scenario.IPVSSupport.allCases.map { Scenario.NodeGroup(namePrefix: $0.rawValue, count: 1, ipvs: $0) }
        try await TestCluster.with(.kubeadm, try ClusterShape.kubeadm.scenario(mode: "iptables", nodeGroups: groups)) { cluster in
            let (runner, client) = try await runner(cluster, deadlineSeconds: 120)
            let results = await runner.inspect(nodes: Scenario.IPVSSupport.allCases.map { "\($0.rawValue)-1" })
            try await client.shutdown()
            let expected: [String: ModuleState] = ["loaded-1": .loaded, "loadable-1": .loadable, "builtin-1": .builtin, "absent-1": .absent]
            for (node, state) in expected {
                switch results[node] {
                case .success(let agent)?:
                    #expect(try agent.kernelModules().state(of: "ip_vs") == state, "\(node)")
                    #expect(try agent.kernelModules().state(of: "ip_vs_rr") == state, "\(node)")
                case .failure(let failure)?:
                    Issue.record("\(node): \(failure.reason)")
                case nil:
                    Issue.record("\(node): no result")
                }
            }
            if case .success(let absent)? = results["absent-1"] {
                let check = try #require(NodeChecks.checks(for: .ipvs, scheduler: "rr", node: absent, ipvs: absent).first)
                #expect(await check.run().map(\.severity) == [.error, .error])
            }
            #expect(agentPods(cluster).isEmpty)
        }
    }

    @Test("a node that never starts the pod is that node's failure after the deadline, and its pod is deleted")
    func neverStarts() async throws {
        var never = Scenario.NodeGroup(namePrefix: "never", count: 1)
        never.startsAgents = false
        let groups = [Scenario.NodeGroup(namePrefix: "worker", count: 1), never]
        try await TestCluster.with(.kubeadm, try ClusterShape.kubeadm.scenario(mode: "iptables", nodeGroups: groups)) { cluster in
            let (runner, client) = try await runner(cluster, deadlineSeconds: 1)
            let results = await runner.inspect(nodes: ["never-1"])
            try await client.shutdown()
            guard case .failure(let failure)? = results["never-1"] else {
                Issue.record("never-1 passed: \(String(describing: results["never-1"]))")
                return
            }
            #expect(failure.reason.contains("did not finish within 1s"), "\(failure.reason)")
            #expect(agentPods(cluster).isEmpty)
        }
    }

    @Test("cancelling the caller (Ctrl-C) deletes the agent pods already created, and at most --node-concurrency run at once")
    func cancellation() async throws {
        // Nodes that never start agents keep the pods alive until the cancellation.
        var never = Scenario.NodeGroup(namePrefix: "worker", count: 5)
        never.startsAgents = false
        try await TestCluster.with(.kubeadm, try ClusterShape.kubeadm.scenario(mode: "iptables", nodeGroups: [never])) { cluster in
            let (runner, client) = try await runner(cluster, deadlineSeconds: 120, concurrency: 2)
            let task = Task { await runner.inspect(nodes: nodeNames(cluster)) }
            let clock = ContinuousClock()
            let start = clock.now
            while agentPods(cluster).count < 2 && clock.now - start < .seconds(20) {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(agentPods(cluster).count == 2)
            task.cancel()
            let results = await task.value
            try await client.shutdown()
            #expect(results.values.allSatisfy { if case .failure = $0 { true } else { false } })
            #expect(agentPods(cluster).isEmpty)
        }
    }
}
