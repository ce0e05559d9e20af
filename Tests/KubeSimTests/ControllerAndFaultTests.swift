import Foundation
import KubeSim
import Testing

extension KubeSimSuite {
@Suite("DaemonSet strategies, shipped scenarios and faults", .serialized)
struct ControllerAndFaultTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("maxSurge starts the new pod beside the old one and the rollout completes")
    func surgeRollout() async throws {
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm(nodes: 4))
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        let patch = try kubectl.run(["patch", "ds", "kube-proxy", "-n", "kube-system", "--type", "merge", "-p",
                                     #"{"spec":{"updateStrategy":{"rollingUpdate":{"maxSurge":"50%","maxUnavailable":0}}}}"#])
        #expect(patch.status == 0, "\(patch.stderr)")
        let client = try SimClient(sim)
        let list = try json(try await client.request(.GET, "/api/v1/namespaces/kube-system/pods").body)
        let rv = try #require((list["metadata"] as? [String: Any])?["resourceVersion"] as? String)
        var pods: [String: (node: String, ready: Bool)] = [:]
        func record(_ object: [String: Any], deleted: Bool) {
            let name = (object["metadata"] as? [String: Any])?["name"] as? String ?? ""
            let node = (object["spec"] as? [String: Any])?["nodeName"] as? String ?? ""
            let statuses = (object["status"] as? [String: Any])?["containerStatuses"] as? [[String: Any]] ?? []
            pods[name] = deleted ? nil : (node, statuses.first?["ready"] as? Bool ?? false)
        }
        for item in list["items"] as? [[String: Any]] ?? [] { record(item, deleted: false) }
        #expect(try kubectl.run(["rollout", "restart", "ds/kube-proxy", "-n", "kube-system"]).status == 0)
        let status = try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=60s"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(try kubectl.run(["get", "pods", "-n", "kube-system", "-o", "name"]).stdout.split(separator: "\n").count == 4)
        // Replay the rollout from the watch history: some node ran two kube-proxy pods at once, and fewer than
        // four Ready pods never happened (maxUnavailable 0).
        let events = try await client.watch("/api/v1/namespaces/kube-system/pods?watch=1&resourceVersion=\(rv)&timeoutSeconds=1", lines: 10_000)
        var sawSurge = false
        var minimumReady = 4
        for event in events {
            record(event["object"] as? [String: Any] ?? [:], deleted: event["type"] as? String == "DELETED")
            let nodes = pods.values.map(\.node)
            if Set(nodes).count < nodes.count { sawSurge = true }
            minimumReady = min(minimumReady, pods.values.filter(\.ready).count)
        }
        #expect(sawSurge)
        #expect(minimumReady == 4)
        try await client.shutdown()
    }

    @Test("OnDelete leaves pods alone until they are deleted, and rollout status refuses it as kubectl does")
    func onDelete() async throws {
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm(nodes: 2))
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        #expect(try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=30s"]).status == 0)
        let before = try kubectl.run(["get", "pods", "-n", "kube-system", "-o", "name"]).stdout
        #expect(try kubectl.run(["patch", "ds", "kube-proxy", "-n", "kube-system", "--type", "json", "-p",
                                 #"[{"op":"replace","path":"/spec/updateStrategy","value":{"type":"OnDelete"}}]"#]).status == 0)
        #expect(try kubectl.run(["rollout", "restart", "ds/kube-proxy", "-n", "kube-system"]).status == 0)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try kubectl.run(["get", "pods", "-n", "kube-system", "-o", "name"]).stdout == before)
        let status = try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=2s"])
        #expect(status.status != 0)
        #expect(status.stderr.contains("rollout status is only available for RollingUpdate strategy type"), "\(status.stderr)")
        let updated = try kubectl.run(["get", "ds", "kube-proxy", "-n", "kube-system", "-o", "jsonpath={.status.updatedNumberScheduled}"])
        #expect(updated.stdout.isEmpty || updated.stdout == "0")
    }

    @Test("the shipped demo and EKS scenarios load, and their kube-proxy pods run the configured mode")
    func shippedScenarios() async throws {
        for (file, mode) in [("demo.yaml", "iptables"), ("eks.yaml", "ipvs")] {
            var scenario = try Scenario(contentsOf: ControllerAndFaultTests.repository.appendingPathComponent("Scenarios/\(file)").path)
            scenario.podStartDelay = .milliseconds(50)
            let sim = try await KubeSimServer.start(scenario: scenario)
            let kubectl = try Kubectl(sim)
            let status = try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=30s"])
            #expect(status.status == 0, "\(file): \(status.stderr)")
            let pod = try kubectl.run(["get", "pods", "-n", "kube-system", "-o", "jsonpath={.items[0].metadata.name}"]).stdout
            let logs = try kubectl.run(["logs", "-n", "kube-system", pod])
            #expect(logs.stdout.contains("\"Using \(mode) Proxier\""), "\(file): \(logs.stdout)\(logs.stderr)")
            let token = try kubectl.run(["--context", "kube-sim-token", "get", "nodes", "-o", "name"])
            #expect(token.status == (file == "demo.yaml" ? 0 : 1), "\(file): \(token.stderr)")
            try await sim.shutdown()
        }
    }

    @Test("an outside ConfigMap edit lands at its moment; latency and dropped watches are injected")
    func scenarioFaults() async throws {
        var scenario = try Fixtures.kubeadm(nodes: 1)
        scenario.faults = Scenario.Faults(latency: .milliseconds(30), dropWatchesEvery: .milliseconds(300),
                                          configMapEdits: [Scenario.ConfigMapEdit(after: .milliseconds(200), mode: "nftables")])
        let sim = try await KubeSimServer.start(scenario: scenario)
        defer { Task { try await sim.shutdown() } }
        let client = try SimClient(sim)
        let clock = ContinuousClock()
        let started = clock.now
        _ = try await client.request(.GET, "/version")
        #expect(clock.now - started >= .milliseconds(30))
        #expect(try await eventually {
            let cm = try await client.request(.GET, "/api/v1/namespaces/kube-system/configmaps/kube-proxy").body
            return cm.contains(#"mode: nftables\n"#)
        })
        // A watch without timeout ends when the simulator cuts the connection.
        let events = try await client.watch("/api/v1/namespaces/kube-system/configmaps?watch=1", lines: 1000)
        #expect(events.count >= 1)
        try await client.shutdown()
    }
}
}
