import Foundation
import KubeSim
import Testing

/// `kpswitch advise` against kube-sim over HTTPS, through a kubeconfig the simulator writes.
@Suite("advise against kube-sim")
struct AdviseTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func advise(_ scenario: Scenario, _ extra: [String] = []) async throws -> (KPSwitchBinary.Result, [String: Any]) {
        let sim = try await KubeSimServer.startRolledOut(scenario: scenario)
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("advise-\(UUID()).kubeconfig").path
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        try sim.writeKubeconfig(to: kubeconfig)
        let result = try KPSwitchBinary.run(["advise", "--kubeconfig", kubeconfig, "-o", "json"] + extra)
        try await sim.shutdown()
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        return (result, json)
    }

    static func kubeadm(services: Int, kernels: [String], version: String = "v1.34.0") throws -> Scenario {
        let objects = try ["kubeadm-v1.34-kube-proxy-configmap.yaml", "kubeadm-v1.34-kube-proxy-daemonset.yaml"].flatMap {
            try Scenario.loadObjects(from: packageRoot.appendingPathComponent("Scenarios/objects/\($0)").path)
        }
        return Scenario(
            kubernetesVersion: version, objects: objects,
            nodeGroups: kernels.enumerated().map { Scenario.NodeGroup(namePrefix: "pool\($0.offset)-", count: 2, kernelVersion: $0.element) },
            services: Scenario.Services(count: services, endpointsPerService: 3))
    }

    @Test("the demo cluster stays on iptables, with the numbers it read")
    func demo() async throws {
        let (result, json) = try await Self.advise(try Scenario(contentsOf: Self.packageRoot.appendingPathComponent("Scenarios/demo.yaml").path))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(json["kind"] as? String == "Advice")
        #expect(json["current"] as? String == "iptables")
        #expect(json["recommended"] as? String == "iptables")
        let facts = try #require(json["facts"] as? [String: Any])
        #expect((facts["nodes"] as? [Any])?.count == 5)
        #expect(facts["kubernetesVersion"] as? String == "1.34")
        #expect(json["cost"] == nil)
    }

    @Test("600 services on kernels 6.1: nftables, which kube-proxy cleans up after itself")
    func sixHundred() async throws {
        let (result, json) = try await Self.advise(try Self.kubeadm(services: 600, kernels: ["6.1.0-28-amd64"]))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(json["recommended"] as? String == "nftables")
        let facts = try #require(json["facts"] as? [String: Any])
        #expect(facts["services"] as? Int ?? 0 >= 600)
        #expect(facts["endpoints"] as? Int ?? 0 >= 1_800)
        #expect((json["cost"] as? [String: Any])?["cleanup"] as? String == "kube-proxy")
    }

    @Test("mixed kernels: the nodes below 5.13 are named and nftables is ruled out")
    func mixedKernels() async throws {
        let (_, json) = try await Self.advise(try Self.kubeadm(services: 600, kernels: ["6.1.0-28-amd64", "5.10.0-30-amd64"]))
        #expect(json["recommended"] as? String == "ipvs")
        let reasons = json["reasons"] as? [String] ?? []
        #expect(reasons.contains { $0.hasPrefix("2 of 4 nodes run a kernel older than 5.13") })
        #expect(reasons.contains { $0.contains("IPVS is deprecated") })
    }

    @Test("a kubeconfig that does not exist is invalid input: exit 2, naming the file")
    func missingKubeconfig() throws {
        let result = try KPSwitchBinary.run(["advise", "--kubeconfig", "/nonexistent/kubeconfig"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/nonexistent/kubeconfig"))
    }
}
