import Foundation
import KubeSim
import Testing

/// `kpswitch snapshot --scope cluster|all` against kube-sim over HTTPS; real kubectl fetches the same
/// objects to judge that the bundle holds them as the API returned them.
@Suite("cluster snapshot against kube-sim")
struct ClusterSnapshotTests {
    static let packageRoot = AdviseTests.packageRoot

    struct Run {
        let result: KPSwitchBinary.Result
        let out: URL
        let kubeconfig: String
        let sim: KubeSimServer

        var bundle: URL? {
            (try? FileManager.default.contentsOfDirectory(atPath: out.path))?.first.map { out.appendingPathComponent($0) }
        }

        func kubectlRaw(_ path: String) throws -> Data {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["kubectl", "--kubeconfig", kubeconfig, "get", "--raw", path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "kubectl get --raw \(path) failed")
            return data
        }
    }

    /// Runs `body` with kube-sim serving `scenario` and a snapshot taken with `arguments`.
    static func withSnapshot(
        _ scenario: String, _ arguments: [String] = ["--scope", "cluster"], _ body: (Run) async throws -> Void
    ) async throws {
        let sim = try await KubeSimServer.start(
            scenario: try Scenario(contentsOf: packageRoot.appendingPathComponent("Scenarios/\(scenario)").path))
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kpsw-cluster-\(UUID())")
        let out = scratch.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let kubeconfig = scratch.appendingPathComponent("kubeconfig").path
        try sim.writeKubeconfig(to: kubeconfig)
        let result = try KPSwitchBinary.run(["snapshot", "--kubeconfig", kubeconfig, "--out", out.path, "-o", "json"] + arguments)
        do {
            try await body(Run(result: result, out: out, kubeconfig: kubeconfig, sim: sim))
        } catch {
            try await sim.shutdown()
            throw error
        }
        try await sim.shutdown()
    }

    static func manifest(_ bundle: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: bundle.appendingPathComponent("manifest.json"))) as? [String: Any])
    }

    static func files(_ manifest: [String: Any]) -> [String] {
        (manifest["files"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    static func mode(of url: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int) ?? -1
    }

    @Test("kubeadm: the kube-proxy ConfigMap and DaemonSet, byte for byte as the API serves them, 0600 in a 0700 cluster/")
    func kubeadm() async throws {
        try await Self.withSnapshot("demo.yaml") { run in
            #expect(run.result.status == 0, "\(run.result.stderr)")
            let bundle = try #require(run.bundle)
            let manifest = try Self.manifest(bundle)
            #expect(manifest["scope"] as? String == "cluster")
            #expect(Self.files(manifest) == ["cluster/configmap-kube-proxy.json", "cluster/daemonset-kube-proxy.json"])
            let configMap = try Data(contentsOf: bundle.appendingPathComponent("cluster/configmap-kube-proxy.json"))
            #expect(configMap == (try run.kubectlRaw("/api/v1/namespaces/kube-system/configmaps/kube-proxy")))
            let daemonSet = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: bundle.appendingPathComponent("cluster/daemonset-kube-proxy.json"))) as? [String: Any])
            let served = try #require(
                try JSONSerialization.jsonObject(with: run.kubectlRaw("/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy")) as? [String: Any])
            #expect(daemonSet["kind"] as? String == "DaemonSet")
            #expect((daemonSet["spec"] as? NSDictionary) == (served["spec"] as? NSDictionary))
            #expect(try Self.mode(of: bundle.appendingPathComponent("cluster")) == 0o700)
            #expect(try Self.mode(of: bundle.appendingPathComponent("cluster/configmap-kube-proxy.json")) == 0o600)

            let verify = try KPSwitchBinary.run(["snapshot", "verify", bundle.path])
            #expect(verify.status == 0, "\(verify.stderr)")
            let show = try KPSwitchBinary.run(["snapshot", "show", bundle.path])
            #expect(show.stdout.contains("cluster/configmap-kube-proxy.json: ConfigMap kube-system/kube-proxy, resourceVersion "))
            #expect(show.stdout.contains("cluster/daemonset-kube-proxy.json: DaemonSet kube-system/kube-proxy, resourceVersion "))
        }
    }

    @Test("EKS: the DaemonSet and both ConfigMaps it mounts (kube-proxy-config and the kubeconfig one)")
    func eks() async throws {
        try await Self.withSnapshot("eks.yaml") { run in
            #expect(run.result.status == 0, "\(run.result.stderr)")
            let bundle = try #require(run.bundle)
            #expect(Self.files(try Self.manifest(bundle)) == [
                "cluster/configmap-kube-proxy-config.json", "cluster/configmap-kube-proxy.json", "cluster/daemonset-kube-proxy.json",
            ])
            let config = try Data(contentsOf: bundle.appendingPathComponent("cluster/configmap-kube-proxy-config.json"))
            #expect(config == (try run.kubectlRaw("/api/v1/namespaces/kube-system/configmaps/kube-proxy-config")))
        }
    }

    @Test("a tampered cluster file fails verify, naming it")
    func tampered() async throws {
        try await Self.withSnapshot("demo.yaml") { run in
            let bundle = try #require(run.bundle)
            let file = bundle.appendingPathComponent("cluster/configmap-kube-proxy.json")
            let text = try String(contentsOf: file, encoding: .utf8)
            try text.replacingOccurrences(of: "mode:", with: "mode: ipvs #").write(to: file, atomically: false, encoding: .utf8)
            let verify = try KPSwitchBinary.run(["snapshot", "verify", bundle.path])
            #expect(verify.status == 1)
            #expect(verify.stderr.contains("cluster/configmap-kube-proxy.json: SHA-256 is"))
            let restore = try KPSwitchBinary.run(["restore", bundle.path, "--dry-run"])
            #expect(restore.status != 0)
        }
    }

    @Test("--scope all with a cluster it cannot reach writes nothing and says which part failed and why")
    func allWithoutCluster() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kpsw-cluster-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let sim = try await KubeSimServer.start(
            scenario: try Scenario(contentsOf: Self.packageRoot.appendingPathComponent("Scenarios/demo.yaml").path))
        let kubeconfig = scratch.appendingPathComponent("kubeconfig").path
        try sim.writeKubeconfig(to: kubeconfig)
        // The kubeconfig now names a server that is gone.
        try await sim.shutdown()
        let result = try KPSwitchBinary.run(["snapshot", "--scope", "all", "--kubeconfig", kubeconfig, "--out", scratch.path])
        #expect(result.status == 1)
        let part = geteuid() == 0 ? "cluster" : "node"
        #expect(result.stderr.contains("--scope all takes the node and the cluster part, and the \(part) part failed"), "\(result.stderr)")
        #expect(result.stderr.contains("kpswitch snapshot --scope \(part == "cluster" ? "node" : "cluster")"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["kubeconfig"])
    }

    @Test("--scope all as root: one bundle with the node files and cluster/", .enabled(if: geteuid() == 0, "the node part needs root"))
    func all() async throws {
        try await Self.withSnapshot("demo.yaml", ["--scope", "all"]) { run in
            #expect(run.result.status == 0, "\(run.result.stderr)")
            let manifest = try Self.manifest(try #require(run.bundle))
            #expect(manifest["scope"] as? String == "all")
            let files = Self.files(manifest)
            #expect(files.contains("cluster/configmap-kube-proxy.json") && files.contains("sysctl.json"))
        }
    }
}
