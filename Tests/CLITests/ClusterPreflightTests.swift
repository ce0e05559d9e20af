import Foundation
import KubeSim
import Testing

/// `kpswitch preflight --scope cluster` against kube-sim over HTTPS.
@Suite("cluster preflight against kube-sim")
struct ClusterPreflightTests {
    static func preflight(_ scenario: Scenario, _ extra: [String] = []) async throws -> (KPSwitchBinary.Result, [String: [String: Any]]) {
        let sim = try await KubeSimServer.startRolledOut(scenario: scenario)
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("preflight-\(UUID()).kubeconfig").path
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        try sim.writeKubeconfig(to: kubeconfig)
        let result = try KPSwitchBinary.run(["preflight", "--scope", "cluster", "--kubeconfig", kubeconfig, "-o", "json"] + extra)
        try await sim.shutdown()
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        var checks: [String: [String: Any]] = [:]
        for check in json["checks"] as? [[String: Any]] ?? [] {
            if let name = check["name"] as? String { checks[name] = check }
        }
        return (result, checks)
    }

    static func messages(_ check: [String: Any]?) -> [String] {
        (check?["findings"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
    }

    static func scenario(osImage: String = "Debian GNU/Linux 12 (bookworm)") throws -> Scenario {
        let objects = try ["kubeadm-v1.34-kube-proxy-configmap.yaml", "kubeadm-v1.34-kube-proxy-daemonset.yaml"].flatMap {
            try Scenario.loadObjects(from: AdviseTests.packageRoot.appendingPathComponent("Scenarios/objects/\($0)").path)
        }
        return Scenario(objects: objects, nodeGroups: [.init(namePrefix: "node-", count: 2, osImage: osImage)])
    }

    @Test("a kubeadm cluster: flavour, where the mode is set and the mode, and no node checks")
    func kubeadm() async throws {
        let (result, checks) = try await Self.preflight(try Self.scenario(), ["--to", "nftables"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(checks["KubeProxyFlavour"]?["status"] as? String == "passed")
        #expect(Self.messages(checks["KubeProxyFlavour"]) == ["kubeadm: kube-proxy runs in iptables mode, set in ConfigMap kube-proxy, key config.conf"])
        #expect(checks["MigrationRBAC"]?["status"] as? String == "passed")
        #expect(checks["NFTablesKernel"] == nil)
    }

    @Test("a Talos cluster is refused with exit 3, naming the flavour and its procedure")
    func talos() async throws {
        let (result, checks) = try await Self.preflight(try Self.scenario(osImage: "Talos (v1.8.3)"), ["--to", "nftables"])
        #expect(result.status == 3)
        let check = try #require(checks["KubeProxyFlavour"])
        #expect(check["status"] as? String == "error")
        let finding = try #require((check["findings"] as? [[String: Any]])?.first)
        #expect((finding["message"] as? String)?.hasPrefix("talos: ") == true)
        #expect((finding["remediation"] as? String)?.contains("Runbooks/migrate.md#talos") == true)
    }

    @Test("ignoring KubeProxyFlavour demotes the refusal: exit 0, marked ignored")
    func talosIgnored() async throws {
        let (result, checks) = try await Self.preflight(try Self.scenario(osImage: "Talos (v1.8.3)"), ["--ignore-preflight-errors=KubeProxyFlavour"])
        #expect(result.status == 0)
        #expect(checks["KubeProxyFlavour"]?["status"] as? String == "warning")
    }
}
