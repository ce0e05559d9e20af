import Foundation
import KubeSim
import Testing

/// `status --all-contexts` and `advise --all-contexts` over a kubeconfig naming several kube-sim clusters.
@Suite("fleet view: every kubeconfig context", .serialized)
struct FleetTests {
    /// One kubeconfig with a context per simulator, plus `down`: a loopback port nothing listens on.
    static func kubeconfig(_ sims: [KubeSimServer], names: [String]) throws -> String {
        func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
        var clusters = "", users = "", contexts = ""
        // `down` borrows the first simulator's credentials: it fails on the connection, before any are used.
        let entries = zip(names, sims).map { ($0, $1.baseURL, $1) } + [("down", "https://127.0.0.1:1", sims[0])]
        for (name, server, sim) in entries {
            clusters += "- name: \(name)\n  cluster:\n    server: \(server)\n    certificate-authority-data: \(b64(sim.caPEM))\n"
            users += "- name: \(name)\n  user:\n    client-certificate-data: \(b64(sim.adminCertificatePEM))\n    client-key-data: \(b64(sim.adminKeyPEM))\n"
            contexts += "- name: \(name)\n  context:\n    cluster: \(name)\n    user: \(name)\n"
        }
        let text = "apiVersion: v1\nkind: Config\nclusters:\n\(clusters)users:\n\(users)contexts:\n\(contexts)current-context: \(names[0])\n"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-\(UUID()).kubeconfig").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func scenarios() throws -> [Scenario] {
        [try MigrateTests.kubeadm(), try MigrateTests.eks(), try MigrateTests.kubeadm(workersIPVS: .absent)]
    }

    @Test("three clusters and an unreachable one: four rows within the timeout, the unreachable one saying why, exit 0", arguments: ["status", "advise"])
    func fourRows(_ command: String) async throws {
        var sims: [KubeSimServer] = []
        for scenario in try Self.scenarios() { sims.append(try await KubeSimServer.start(scenario: scenario)) }
        let names = ["prod", "eks", "staging"]
        let kubeconfig = try Self.kubeconfig(sims, names: names)
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        let started = ContinuousClock.now
        let json = try KPSwitchBinary.run([command, "--all-contexts", "--context-timeout", "30s", "--kubeconfig", kubeconfig, "-o", "json"])
        let elapsed = ContinuousClock.now - started
        let text = try KPSwitchBinary.run([command, "--kubeconfig", kubeconfig, "--all-contexts", "--context-timeout", "30s"])
        for sim in sims { try await sim.shutdown() }

        #expect(json.status == 0, "\(json.stderr)")
        #expect(elapsed < .seconds(30))
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(document["kind"] as? String == "FleetStatus")
        let rows = try #require(document["rows"] as? [[String: Any]])
        #expect(rows.map { $0["context"] as? String } == ["down", "eks", "prod", "staging"])
        let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0["context"] as? String ?? "", $0) })
        #expect(byName["prod"]?["configuredMode"] as? String == "iptables")
        #expect(byName["prod"]?["observedModes"] as? [String: Int] == ["iptables": 5])
        #expect(byName["prod"]?["kubernetesVersion"] as? String == "1.34")
        #expect(byName["eks"]?["configuredMode"] as? String == "ipvs")
        #expect(byName["eks"]?["observedModes"] as? [String: Int] == ["ipvs": 3])
        #expect(byName["eks"]?["recommendedMode"] as? String == "iptables")
        #expect(byName["eks"]?["kubernetesVersion"] as? String == "1.31")
        for name in names { #expect(byName[name]?["error"] is NSNull, "\(name): \(byName[name]?["error"] ?? "")") }
        let down = try #require(byName["down"])
        #expect((down["error"] as? String)?.contains("cannot reach https://127.0.0.1:1") == true, "\(down)")
        #expect(down["configuredMode"] is NSNull)

        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.count == 5, "\(text.stdout)")
        #expect(lines.first?.hasPrefix("CONTEXT") == true)
        #expect(lines.contains { $0.hasPrefix("down ") && $0.contains("cannot reach") }, "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("eks ") && $0.contains("ipvs=3") }, "\(text.stdout)")
    }

    @Test("a cluster slower than --context-timeout is a row saying so, and the others are not held up")
    func slowCluster() async throws {
        var slow = try MigrateTests.kubeadm()
        slow.faults.latency = .seconds(5)
        let sims = [try await KubeSimServer.start(scenario: try MigrateTests.kubeadm()), try await KubeSimServer.start(scenario: slow)]
        let kubeconfig = try Self.kubeconfig(sims, names: ["fast", "slow"])
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        let started = ContinuousClock.now
        let result = try KPSwitchBinary.run(["status", "--all-contexts", "--context-timeout", "8s", "--kubeconfig", kubeconfig, "-o", "json"])
        let elapsed = ContinuousClock.now - started
        for sim in sims { try await sim.shutdown() }
        #expect(result.status == 0, "\(result.stderr)")
        #expect(elapsed < .seconds(20), "\(elapsed)")
        let rows = try #require((try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["rows"] as? [[String: Any]])
        let slowRow = try #require(rows.first { $0["context"] as? String == "slow" })
        #expect((slowRow["error"] as? String)?.contains("no answer within 8s") == true, "\(slowRow)")
        #expect(rows.first { $0["context"] as? String == "fast" }?["error"] is NSNull)
    }

    @Test("--all-contexts with --context is a usage error")
    func withContext() throws {
        let result = try KPSwitchBinary.run(["status", "--all-contexts", "--context", "prod"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--all-contexts") && result.stderr.contains("--context"))
    }
}
