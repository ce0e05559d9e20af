import Foundation
import KubeSim
import Testing

@testable import KubeAPI

typealias JSON = KubeAPI.JSONValue

@Suite("KubeClient against KubeSim over HTTPS", .serialized)
struct KubeClientTests {
    @Test("client-certificate auth: create, get, update with resourceVersion, stale update is a Conflict, delete")
    func crudWithClientCertificate() async throws {
        let cluster = try await SimCluster.start()
        let client = try cluster.client(context: "kube-sim")
        do {
            var map = ConfigMap(name: "settings", namespace: "default")
            map.data = ["mode": "iptables"]
            map.json["futureField"] = ["kept": true]
            let created = try await client.create(map)
            #expect(created.resourceVersion != nil)

            var fetched = try await client.get(ConfigMap.self, name: "settings", namespace: "default")
            #expect(fetched.data == ["mode": "iptables"])
            let stale = fetched
            fetched.data["mode"] = "ipvs"
            let updated = try await client.update(fetched)
            #expect(updated.data["mode"] == "ipvs")
            #expect(updated.resourceVersion != stale.resourceVersion)

            let conflict = await #expect(throws: KubeAPIError.self) { try await client.update(stale) }
            #expect(conflict?.kind == .conflict)
            #expect(conflict?.code == 409)
            #expect(conflict?.description.contains("configmaps default/settings") == true)

            let merged = try await client.patch(
                ConfigMap.self, name: "settings", namespace: "default", ["data": ["extra": "1"]], type: .merge)
            #expect(merged.data == ["mode": "ipvs", "extra": "1"])
            let strategic = try await client.patch(
                ConfigMap.self, name: "settings", namespace: "default", ["metadata": ["labels": ["a": "b"]]],
                type: .strategicMerge)
            #expect(strategic.labels == ["a": "b"])

            try await client.delete(ConfigMap.self, name: "settings", namespace: "default")
            let missing = await #expect(throws: KubeAPIError.self) {
                try await client.get(ConfigMap.self, name: "settings", namespace: "default")
            }
            #expect(missing?.kind == .notFound)
        } catch {
            try await cluster.finish(client)
            throw error
        }
        try await cluster.finish(client)
    }

    @Test("token auth: allowed reads succeed, a denied write is Forbidden naming verb and resource")
    func tokenAuth() async throws {
        let scenario = Scenario(
            tokenUser: .init(rules: [PolicyRule(apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"])]))
        let cluster = try await SimCluster.start(scenario)
        let client = try cluster.client(context: "kube-sim-token")
        do {
            let (items, version) = try await client.list(ConfigMap.self, namespace: "kube-system")
            #expect(version != nil)
            _ = items
            let denied = await #expect(throws: KubeAPIError.self) {
                try await client.create(ConfigMap(name: "nope", namespace: "default"))
            }
            #expect(denied?.kind == .forbidden)
            #expect(denied?.description.contains("create configmaps") == true)
            #expect(denied?.description.contains(cluster.sim.token) == false)
            #expect(try await client.canI("list", resource: "configmaps", namespace: "default"))
            #expect(try await !client.canI("delete", resource: "configmaps", namespace: "default"))
        } catch {
            try await cluster.finish(client)
            throw error
        }
        try await cluster.finish(client)
    }

    @Test("a server certificate from another CA is refused, not retried")
    func wrongCARefused() async throws {
        let cluster = try await SimCluster.start()
        let otherCA = try String(contentsOfFile: Fixtures.kubeconfigs + "/pki/ca.crt", encoding: .utf8)
        let path = cluster.directory + "/wrong-ca"
        try Fixtures.write(
            cluster.sim.kubeconfig().replacingOccurrences(
                of: SimCluster.base64(cluster.sim.caPEM), with: SimCluster.base64(otherCA)), to: path)
        let client = try cluster.client(kubeconfig: path)
        cluster.sim.resetRequestCounts()
        let refused = await #expect(throws: KubeAPIError.self) {
            try await client.get(ConfigMap.self, name: "kube-proxy", namespace: "kube-system")
        }
        #expect(refused?.kind == .tls)
        #expect(refused?.description.contains("certificate-authority") == true)
        #expect(cluster.sim.requestCounts["total", default: 0] == 0)
        try await cluster.finish(client)
    }

    @Test("KUBECONFIG merged from two files: cluster and context in one, the user in the other")
    func mergedKubeconfig() async throws {
        let cluster = try await SimCluster.start()
        let clusterFile = cluster.directory + "/cluster.yaml"
        let userFile = cluster.directory + "/user.yaml"
        try Fixtures.write(
            """
            apiVersion: v1
            kind: Config
            current-context: merged
            clusters:
            - name: sim
              cluster:
                server: \(cluster.sim.baseURL)
                certificate-authority-data: \(SimCluster.base64(cluster.sim.caPEM))
            contexts:
            - name: merged
              context: {cluster: sim, user: operator, namespace: kube-system}
            """, to: clusterFile)
        try Fixtures.write(
            """
            apiVersion: v1
            kind: Config
            current-context: ignored-because-the-first-file-set-it
            users:
            - name: operator
              user:
                client-certificate-data: \(SimCluster.base64(cluster.sim.adminCertificatePEM))
                client-key-data: \(SimCluster.base64(cluster.sim.adminKeyPEM))
            """, to: userFile)
        let config = try KubeConfig.load(environment: ["KUBECONFIG": "\(clusterFile):\(userFile)"])
        #expect(config.contextName == "merged")
        #expect(config.namespace == "kube-system")
        let client = KubeClient(config: config)
        let nodes = try await client.list(Node.self)
        _ = nodes
        let review = try await client.create(SelfSubjectAccessReview(verb: "patch", group: "apps", resource: "daemonsets", namespace: "kube-system"))
        #expect(review.allowed)
        try await cluster.finish(client)
    }

    @Test("injected 429 and 500 on reads are retried; a failed create is not")
    func retries() async throws {
        let cluster = try await SimCluster.start(
            Scenario(objects: [["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "target", "namespace": "default"]]]))
        let client = try cluster.client()
        do {
            cluster.sim.resetRequestCounts()
            cluster.sim.faults.failNext(verb: "get", resource: "configmaps", code: 500, count: 2)
            _ = try await client.get(ConfigMap.self, name: "target", namespace: "default")
            #expect(cluster.sim.requestCounts["get configmaps"] == 3)

            cluster.sim.resetRequestCounts()
            cluster.sim.faults.failNext(verb: "get", resource: "configmaps", code: 429, count: 1)
            _ = try await client.get(ConfigMap.self, name: "target", namespace: "default")
            #expect(cluster.sim.requestCounts["get configmaps"] == 2)

            cluster.sim.resetRequestCounts()
            cluster.sim.faults.failNext(verb: "get", resource: "configmaps", code: 503, count: 10)
            let exhausted = await #expect(throws: KubeAPIError.self) {
                try await client.get(ConfigMap.self, name: "target", namespace: "default")
            }
            #expect(exhausted?.kind == .serviceUnavailable)
            #expect(cluster.sim.requestCounts["get configmaps"] == RetryPolicy().maxAttempts)

            cluster.sim.resetRequestCounts()
            cluster.sim.faults.failNext(verb: "create", resource: "configmaps", code: 500, count: 1)
            let failed = await #expect(throws: KubeAPIError.self) {
                try await client.create(ConfigMap(name: "once", namespace: "default"))
            }
            #expect(failed?.kind == .serverError)
            #expect(cluster.sim.requestCounts["create configmaps"] == 1)
        } catch {
            try await cluster.finish(client)
            throw error
        }
        try await cluster.finish(client)
    }

    @Test("a request slower than the per-request timeout fails with .timeout")
    func perRequestTimeout() async throws {
        let cluster = try await SimCluster.start()
        let client = try cluster.client(timeout: .milliseconds(300))
        cluster.sim.faults.latency = .seconds(2)
        let slow = await #expect(throws: KubeAPIError.self) {
            try await client.get(ConfigMap.self, name: "kube-proxy", namespace: "kube-system")
        }
        #expect(slow?.kind == .timeout)
        #expect(slow?.description.contains("timed out") == true)
        cluster.sim.faults.latency = .zero
        try await cluster.finish(client)
    }

    @Test("tls-server-name routes to the real host; no CA means system roots, never no verification")
    func serverNameAndDefaultRoots() async throws {
        let cluster = try await SimCluster.start()
        let base = cluster.sim.kubeconfig()
        let caLine = "    certificate-authority-data: \(SimCluster.base64(cluster.sim.caPEM))"
        func client(_ replacement: String) throws -> KubeClient {
            let path = cluster.directory + "/variant-\(UUID().uuidString)"
            try Fixtures.write(base.replacingOccurrences(of: caLine, with: replacement), to: path)
            return try cluster.client(kubeconfig: path)
        }
        let named = try client(caLine + "\n    tls-server-name: kubernetes.default")
        let service = try await named.get(Service.self, name: "kubernetes", namespace: "default")
        #expect(service.clusterIP == "10.96.0.1")
        // A name the certificate lacks is not refused here: NIOSSL also accepts a certificate whose IP SAN matches
        // the connected address (127.0.0.1 in KubeSim's), unlike Go's crypto/tls. See Docs/kubeapi.md.
        let systemRoots = try client("")
        let refusedRoots = await #expect(throws: KubeAPIError.self) {
            try await systemRoots.list(Node.self)
        }
        #expect(refusedRoots?.kind == .tls)
        try await cluster.finish(named, systemRoots)
    }
}
