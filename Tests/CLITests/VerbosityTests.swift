import Foundation
import KubeSim
import Testing

/// `-v` at kubectl's levels against kube-sim over HTTPS: kube-sim's own counter judges the request log, and
/// the scenario's credentials must never reach it.
@Suite("verbosity: kubectl's request log", .serialized)
struct VerbosityTests {
    static let token = "verbosity-test-token-3f9a1c"

    static func scenario() throws -> Scenario {
        var scenario = try MigrateTests.kubeadm()
        scenario.tokenUser = .init(name: "kpswitch-operator", token: token, rules: [
            PolicyRule(apiGroups: ["*"], resources: ["*"], verbs: ["*"]),
            PolicyRule(verbs: ["get"], nonResourceURLs: ["*"]),
        ])
        return scenario
    }

    /// The lines `-v=6` prints for requests: `GET https://… 200 OK in 12ms`.
    static func requestLines(_ stderr: String, _ baseURL: String) -> [Substring] {
        stderr.split(separator: "\n").filter {
            $0.contains(" \(baseURL)/") && $0.range(of: #" [A-Z]+ https://\S+ \d{3} [A-Za-z ]+ in \d+ms$"#, options: .regularExpression) != nil
        }
    }

    @Test("-v=6 prints one line per request kube-sim served, as kubectl does", arguments: [["status"], ["advise"], ["preflight", "--scope", "cluster", "--to", "nftables"]])
    func requestLog(_ command: [String]) async throws {
        let cluster = try await MigrateTests.Cluster.start(try Self.scenario())
        let before = cluster.sim.requestCounts["total"] ?? 0
        let result = try KPSwitchBinary.run(command + ["--kubeconfig", cluster.kubeconfig, "-v=6"])
        let served = (cluster.sim.requestCounts["total"] ?? 0) - before
        let lines = Self.requestLines(result.stderr, cluster.sim.baseURL)
        try await cluster.stop()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(served > 0)
        #expect(lines.count == served, "\(lines.count) lines for \(served) requests:\n\(lines.joined(separator: "\n"))")
        #expect(lines.contains { $0.contains("GET \(cluster.sim.baseURL)/apis/apps/v1/namespaces/kube-system/daemonsets") })
        // The HTTP library's own log is for -v=9 only.
        #expect(!result.stderr.contains("Request was scheduled"), "\(result.stderr)")
    }

    @Test("below 6 no request lines; -v=9 adds AsyncHTTPClient's own log")
    func levels() async throws {
        let cluster = try await MigrateTests.Cluster.start(try Self.scenario())
        let quiet = try KPSwitchBinary.run(["status", "--kubeconfig", cluster.kubeconfig, "-v=4"])
        let loud = try KPSwitchBinary.run(["status", "--kubeconfig", cluster.kubeconfig, "-v=9"])
        try await cluster.stop()
        #expect(quiet.status == 0 && loud.status == 0)
        #expect(Self.requestLines(quiet.stderr, cluster.sim.baseURL).isEmpty, "\(quiet.stderr)")
        #expect(loud.stderr.contains("Response Body:"))
        #expect(loud.stderr.split(separator: "\n").contains { $0.contains(" trace ") }, "no AsyncHTTPClient trace at -v=9")
    }

    @Test("-v=8 shows headers and bodies but never the bearer token, the client key or a private key")
    func redaction() async throws {
        let cluster = try await MigrateTests.Cluster.start(try Self.scenario())
        let keyBase64 = Data(cluster.sim.adminKeyPEM.utf8).base64EncodedString()
        let keyBody = cluster.sim.adminKeyPEM.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        // kube-proxy's ConfigMap, which every command reads, now carries the credentials as a careless
        // kubeconfig would: inline token, client key data, and the PEM key itself.
        let leak = "users:\n- name: x\n  user:\n    token: \(Self.token)\n    client-key-data: \(keyBase64)\nkey.pem: |\n\(cluster.sim.adminKeyPEM)"
        let patch = try JSONSerialization.data(withJSONObject: ["data": ["leaked.conf": leak]])
        let kubectl = try InstallTests.run("/usr/bin/env", [
            "kubectl", "--kubeconfig", cluster.kubeconfig, "-n", "kube-system", "patch", "configmap", "kube-proxy",
            "--type", "merge", "-p", String(decoding: patch, as: UTF8.self),
        ])
        #expect(kubectl.status == 0, "\(kubectl.output)")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("verbosity-\(UUID())")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }
        var outputs: [String] = []
        for context in ["kube-sim", "kube-sim-token"] {
            // A bundle is named by host and second, so each context writes into a folder of its own.
            let bundles = out.appendingPathComponent(context).path
            for command in [["status"], ["advise"], ["snapshot", "--scope", "cluster", "--out", bundles]] {
                let result = try KPSwitchBinary.run(command + ["--kubeconfig", cluster.kubeconfig, "--context", context, "-v=8"])
                #expect(result.status == 0, "\(context) \(command): \(result.stderr)")
                outputs.append(result.stdout + result.stderr)
            }
        }
        try await cluster.stop()
        let all = outputs.joined()
        #expect(all.contains("Response Body:") && all.contains("leaked.conf"), "the body with the credentials was not logged at all")
        #expect(all.contains("Authorization: Bearer <masked>"))
        for secret in [Self.token, keyBase64, String(keyBase64.prefix(40)), keyBody] {
            #expect(!secret.isEmpty && !all.contains(secret), "a credential reached the log: \(secret.prefix(12))…")
        }
    }
}
