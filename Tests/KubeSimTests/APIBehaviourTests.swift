import AsyncHTTPClient
import Foundation
import KubeSim
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

/// An HTTPS client that authenticates like kubectl does from the simulator's kubeconfig.
struct SimClient {
    let client: HTTPClient
    let base: String
    let token: String?

    init(_ sim: KubeSimServer, useToken: Bool = false) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(sim.caPEM.utf8), format: .pem)])
        if !useToken {
            tls.certificateChain = [.certificate(try NIOSSLCertificate(bytes: Array(sim.adminCertificatePEM.utf8), format: .pem))]
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(sim.adminKeyPEM.utf8), format: .pem))
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        base = sim.baseURL
        token = useToken ? sim.token : nil
    }

    func request(_ method: HTTPMethod, _ path: String, body: String? = nil, contentType: String = "application/json",
                 bearer: String? = nil) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let t = bearer ?? token { request.headers.add(name: "Authorization", value: "Bearer \(t)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), String(buffer: bytes))
    }

    /// Reads watch events until `count` lines arrived (or the stream ends).
    func watch(_ path: String, lines count: Int) async throws -> [[String: Any]] {
        let request = HTTPClientRequest(url: base + path)
        let response = try await client.execute(request, timeout: .seconds(30))
        var buffer = ""
        var events: [[String: Any]] = []
        for try await chunk in response.body {
            buffer += String(buffer: chunk)
            while let newline = buffer.firstIndex(of: "\n") {
                let line = String(buffer[..<newline])
                buffer = String(buffer[buffer.index(after: newline)...])
                if let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] { events.append(object) }
                if events.count >= count { return events }
            }
        }
        return events
    }

    func shutdown() async throws { try await client.shutdown() }
}

func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

extension KubeSimSuite {
@Suite("kube-apiserver behaviour", .serialized)
struct APIBehaviourTests {
    @Test("errors are Status bodies as kube-apiserver writes them")
    func statusBodies() async throws {
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm())
        let client = try SimClient(sim)
        let missing = try await client.request(.GET, "/api/v1/namespaces/kube-system/configmaps/nope")
        #expect(missing.status == 404)
        let status = try json(missing.body)
        #expect(status["kind"] as? String == "Status")
        #expect(status["status"] as? String == "Failure")
        #expect(status["reason"] as? String == "NotFound")
        #expect(status["message"] as? String == #"configmaps "nope" not found"#)
        #expect(status["code"] as? Int == 404)
        #expect((status["details"] as? [String: Any])?["kind"] as? String == "configmaps")

        let exists = try await client.request(.POST, "/api/v1/namespaces/kube-system/configmaps",
                                              body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-proxy"}}"#)
        #expect(exists.status == 409)
        #expect(try json(exists.body)["reason"] as? String == "AlreadyExists")

        let badToken = try await client.request(.GET, "/api/v1/namespaces", bearer: "wrong")
        #expect(badToken.status == 401)
        #expect(try json(badToken.body)["reason"] as? String == "Unauthorized")

        let stalePatch = try await client.request(.PATCH, "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy",
                                                  body: #"{"metadata":{"resourceVersion":"1"}}"#, contentType: "application/merge-patch+json")
        #expect(stalePatch.status == 409)
        #expect(try json(stalePatch.body)["message"] as? String == #"Operation cannot be fulfilled on daemonsets.apps "kube-proxy": the object has been modified; please apply your changes to the latest version and try again"#)
        try await client.shutdown()
        try await sim.shutdown()
    }

    @Test("injected faults answer 429 with Retry-After, and requests are counted per verb")
    func faultsAndCounts() async throws {
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm())
        let client = try SimClient(sim)
        sim.resetRequestCounts()
        sim.faults.failNext(verb: "get", resource: "configmaps", code: 429)
        let first = try await client.request(.GET, "/api/v1/namespaces/kube-system/configmaps/kube-proxy")
        #expect(first.status == 429)
        #expect(try json(first.body)["reason"] as? String == "TooManyRequests")
        let second = try await client.request(.GET, "/api/v1/namespaces/kube-system/configmaps/kube-proxy")
        #expect(second.status == 200)
        #expect(sim.requestCounts["get"] == 2)
        #expect(sim.requestCounts["get configmaps"] == 2)
        try await client.shutdown()
        try await sim.shutdown()
    }

    @Test("lists page with limit and continue, with one resourceVersion across pages")
    func pagination() async throws {
        var scenario = try Fixtures.kubeadm()
        scenario.services = Scenario.Services(count: 120, endpointsPerService: 2)
        let sim = try await KubeSimServer.start(scenario: scenario)
        let client = try SimClient(sim)
        var names: [String] = []
        var token = ""
        var versions = Set<String>()
        repeat {
            let page = try await client.request(.GET, "/apis/discovery.k8s.io/v1/endpointslices?limit=50" + (token.isEmpty ? "" : "&continue=\(token)"))
            #expect(page.status == 200)
            let list = try json(page.body)
            let metadata = try #require(list["metadata"] as? [String: Any])
            versions.insert(metadata["resourceVersion"] as? String ?? "")
            names += (list["items"] as? [[String: Any]] ?? []).compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
            token = (metadata["continue"] as? String ?? "").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        } while !token.isEmpty
        #expect(names.count == 121)  // 120 generated + default/kubernetes
        #expect(Set(names).count == 121)
        #expect(versions.count == 1)
        try await client.shutdown()
        try await sim.shutdown()
    }

    @Test("watch replays from a version, sends bookmarks, and answers a compacted version with 410 Expired")
    func watch() async throws {
        var scenario = try Fixtures.kubeadm()
        scenario.watchBookmarkInterval = .milliseconds(100)
        let sim = try await KubeSimServer.start(scenario: scenario)
        let client = try SimClient(sim)
        let cm = try json(try await client.request(.GET, "/api/v1/namespaces/kube-system/configmaps/kube-proxy").body)
        let rv = try #require((cm["metadata"] as? [String: Any])?["resourceVersion"] as? String)
        let patched = try await client.request(.PATCH, "/api/v1/namespaces/kube-system/configmaps/kube-proxy",
                                               body: #"{"data":{"extra":"1"}}"#, contentType: "application/merge-patch+json")
        #expect(patched.status == 200)
        let events = try await client.watch(
            "/api/v1/namespaces/kube-system/configmaps?watch=1&resourceVersion=\(rv)&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dkube-proxy",
            lines: 2)
        #expect(events.first?["type"] as? String == "MODIFIED")
        #expect(((events.first?["object"] as? [String: Any])?["data"] as? [String: Any])?["extra"] as? String == "1")
        #expect(events.last?["type"] as? String == "BOOKMARK")

        sim.compactHistory()
        let expired = try await client.watch("/api/v1/namespaces/kube-system/configmaps?watch=1&resourceVersion=\(rv)", lines: 1)
        #expect(expired.first?["type"] as? String == "ERROR")
        let status = try #require(expired.first?["object"] as? [String: Any])
        #expect(status["code"] as? Int == 410)
        #expect(status["reason"] as? String == "Expired")
        try await client.shutdown()
        try await sim.shutdown()
    }
}
}
