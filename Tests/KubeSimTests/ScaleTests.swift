import Foundation
import KubeSim
import Testing

extension KubeSimSuite {
@Suite("kube-sim at scale", .serialized)
struct ScaleTests {
    @Test("1,000 nodes and 10,000 Services start and serve a complete paginated EndpointSlice list")
    func thousandNodes() async throws {
        var scenario = try Fixtures.kubeadm(nodes: 1000)
        scenario.services = Scenario.Services(count: 10_000, endpointsPerService: 3)
        scenario.historyLimit = 20_000
        let sim = try await KubeSimServer.start(scenario: scenario)
        let client = try SimClient(sim)
        var names = Set<String>()
        var token = ""
        var pages = 0
        repeat {
            let page = try await client.request(.GET, "/apis/discovery.k8s.io/v1/endpointslices?limit=500" + (token.isEmpty ? "" : "&continue=\(token)"))
            #expect(page.status == 200)
            let list = try json(page.body)
            for item in list["items"] as? [[String: Any]] ?? [] {
                if let metadata = item["metadata"] as? [String: Any], let name = metadata["name"] as? String,
                   let namespace = metadata["namespace"] as? String {
                    names.insert("\(namespace)/\(name)")
                }
            }
            pages += 1
            token = ((list["metadata"] as? [String: Any])?["continue"] as? String ?? "")
                .addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        } while !token.isEmpty
        #expect(names.count == 10_001)
        #expect(pages == 21)
        let nodes = try json(try await client.request(.GET, "/api/v1/nodes?limit=1").body)
        #expect((nodes["metadata"] as? [String: Any])?["remainingItemCount"] as? Int == 999)
        try await client.shutdown()
        try await sim.shutdown()
    }
}
}
