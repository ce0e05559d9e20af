import Foundation
import KubeSim
import Testing

@testable import KubeAPI

@Suite("typed resources against KubeSim", .serialized)
struct ResourceTests {
    static let objects = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Scenarios/objects").standardizedFileURL.path

    static func kubeadmCluster() async throws -> SimCluster {
        let objects =
            try Scenario.loadObjects(from: Self.objects + "/kubeadm-v1.34-kube-proxy-configmap.yaml")
            + Scenario.loadObjects(from: Self.objects + "/kubeadm-v1.34-kube-proxy-daemonset.yaml")
        return try await SimCluster.start(
            Scenario(objects: objects, nodeGroups: [.init(namePrefix: "node", count: 2)], podStartDelay: .milliseconds(10)))
    }

    /// Marks the template restarted with a PUT and returns the DaemonSet as read and as written. The simulated
    /// controller writes the DaemonSet's status while its pods start, which moves the resourceVersion: like
    /// client-go's RetryOnConflict, it reads again and reapplies on a 409.
    static func restart(_ client: KubeClient) async throws -> (before: KubeAPI.JSONValue, updated: DaemonSet) {
        var attempt = 1
        while true {
            let read = try await client.get(DaemonSet.self, name: "kube-proxy", namespace: "kube-system")
            var ds = read
            ds.templateAnnotations["kubectl.kubernetes.io/restartedAt"] = "2026-11-27T00:00:00Z"
            let outcome: Result<DaemonSet, KubeAPIError>
            do throws(KubeAPIError) { outcome = .success(try await client.update(ds)) } catch { outcome = .failure(error) }
            switch outcome {
            case .success(let updated): return (read.json, updated)
            case .failure(let error) where error.kind == .conflict && attempt < 5: attempt += 1
            case .failure(let error): throw error
            }
        }
    }

    @Test("DaemonSet PUT keeps the fields KubeAPI does not model; strategic merge merges containers by name")
    func daemonSetRoundTrip() async throws {
        let cluster = try await Self.kubeadmCluster()
        let client = try cluster.client()
        do {
            let (before, updated) = try await Self.restart(client)
            #expect(DaemonSet(json: before).updateStrategyType == "RollingUpdate")
            #expect(updated.templateAnnotations["kubectl.kubernetes.io/restartedAt"] == "2026-11-27T00:00:00Z")
            #expect(updated.json[path: ["spec", "template", "spec", "priorityClassName"]] == "system-node-critical")
            #expect(updated.json[path: ["spec", "revisionHistoryLimit"]] == before[path: ["spec", "revisionHistoryLimit"]])
            #expect(updated.templateVolumes == DaemonSet(json: before).templateVolumes)

            let patched = try await client.patch(
                DaemonSet.self, name: "kube-proxy", namespace: "kube-system",
                ["spec": ["template": ["spec": ["containers": [["name": "kube-proxy", "env": [["name": "X", "value": "1"]]]]]]]],
                type: .strategicMerge)
            let container = try #require(patched.templateContainers.first)
            let env = (container["env"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            #expect(env.contains("X") && env.contains("NODE_NAME"), "env merged by name, not replaced")
            #expect(container["command"] != nil, "strategic merge kept the container's other fields")
        } catch {
            try await cluster.finish(client)
            throw error
        }
        try await cluster.finish(client)
    }

    @Test("nodes, pods by label and field selector, pod logs with container and tail")
    func nodesPodsLogs() async throws {
        let cluster = try await Self.kubeadmCluster()
        let client = try cluster.client()
        do {
            let nodes = try await client.list(Node.self).items
            #expect(nodes.count == 2)
            #expect(nodes.allSatisfy { $0.kernelVersion != nil && $0.internalIP != nil })

            var pods: [Pod] = []
            for _ in 0..<200 where pods.count < 2 || !pods.allSatisfy(\.isReady) {
                pods = try await client.list(Pod.self, namespace: "kube-system", labelSelector: "k8s-app=kube-proxy").items
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(pods.count == 2)
            let pod = try #require(pods.first)
            let onNode = try await client.list(
                Pod.self, namespace: "kube-system", fieldSelector: "spec.nodeName=\(pod.nodeName ?? "")").items
            #expect(onNode.map(\.name).contains(pod.name))

            let log = try await client.logs(pod: pod.name, namespace: "kube-system", container: "kube-proxy", tailLines: 2)
            #expect(!log.isEmpty)
            #expect(log.split(separator: "\n").count <= 2)
            let wrong = await #expect(throws: KubeAPIError.self) {
                try await client.logs(pod: pod.name, namespace: "kube-system", container: "nope")
            }
            #expect(wrong?.kind == .badRequest)
        } catch {
            try await cluster.finish(client)
            throw error
        }
        try await cluster.finish(client)
    }

    @Test("Lease: create, AlreadyExists, take over with resourceVersion, stale take-over is a Conflict")
    func lease() async throws {
        let cluster = try await SimCluster.start()
        let client = try cluster.client()
        do {
            var lease = Lease(name: "kpswitch", namespace: "kube-system")
            lease.holderIdentity = "laptop-1"
            lease.leaseDurationSeconds = 30
            lease.renewTime = "2026-11-27T00:00:00.000000Z"
            let held = try await client.create(lease)
            let again = await #expect(throws: KubeAPIError.self) { try await client.create(lease) }
            #expect(again?.kind == .alreadyExists)

            var takeover = held
            takeover.holderIdentity = "laptop-2"
            takeover.leaseTransitions = 1
            let taken = try await client.update(takeover)
            #expect(taken.holderIdentity == "laptop-2")
            var late = held
            late.holderIdentity = "laptop-3"
            let lost = await #expect(throws: KubeAPIError.self) { try await client.update(late) }
            #expect(lost?.kind == .conflict)

            let stale = await #expect(throws: KubeAPIError.self) {
                try await client.delete(Lease.self, name: "kpswitch", namespace: "kube-system", resourceVersion: held.resourceVersion)
            }
            #expect(stale?.kind == .conflict)
            try await client.delete(Lease.self, name: "kpswitch", namespace: "kube-system", resourceVersion: taken.resourceVersion)

            let service = try await client.get(Service.self, name: "kubernetes", namespace: "default")
            #expect(service.clusterIP == "10.96.0.1")
            let slices = try await client.list(EndpointSlice.self, namespace: "default").items
            #expect(slices.flatMap(\.addresses).contains("10.0.0.10"))
            _ = try await client.list(Event.self, namespace: "")
        } catch {
            try await cluster.finish(client)
            throw error
        }
        try await cluster.finish(client)
    }
}
