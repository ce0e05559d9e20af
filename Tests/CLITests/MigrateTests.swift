import Foundation
import KubeSim
import Testing

/// `kpswitch migrate`, `rollback` and `status` against kube-sim over HTTPS; real kubectl reads the objects
/// back, so "exactly as before" is judged by the same tool an operator would use.
@Suite("migrate against kube-sim", .serialized)
struct MigrateTests {
    /// A kubeadm v1.34 cluster like Scenarios/demo.yaml (one control plane, four workers), faster pods.
    static func kubeadm(workersIPVS: Scenario.IPVSSupport = .loadable) throws -> Scenario {
        let objects = try ["kubeadm-v1.34-kube-proxy-configmap.yaml", "kubeadm-v1.34-kube-proxy-daemonset.yaml"].flatMap {
            try Scenario.loadObjects(from: AdviseTests.packageRoot.appendingPathComponent("Scenarios/objects/\($0)").path)
        }
        return Scenario(
            kubernetesVersion: "v1.34.0", objects: objects,
            nodeGroups: [
                .init(namePrefix: "control-plane", count: 1, kernelVersion: "6.1.0-28-amd64", ipvs: .loadable, controlPlane: true),
                .init(namePrefix: "worker", count: 4, kernelVersion: "6.1.0-28-amd64", ipvs: workersIPVS),
            ],
            podStartDelay: .milliseconds(150))
    }

    /// Like Scenarios/eks.yaml: kube-proxy v1.31 in ipvs mode, ConfigMap kube-proxy-config key config, kernel 5.10.
    static func eks() throws -> Scenario {
        let objects = try ["eks-kube-proxy-config.yaml", "eks-kube-proxy-kubeconfig.yaml", "eks-kube-proxy-daemonset.yaml"].flatMap {
            try Scenario.loadObjects(from: AdviseTests.packageRoot.appendingPathComponent("Scenarios/objects/\($0)").path)
        }
        return Scenario(
            kubernetesVersion: "v1.31.0", objects: objects,
            nodeGroups: [.init(namePrefix: "ip-10-0-1", count: 3, kernelVersion: "5.10.227-219.884.amzn2.x86_64", ipvs: .loaded)],
            podStartDelay: .milliseconds(150))
    }

    /// A running simulator with a kubeconfig for it.
    struct Cluster {
        let sim: KubeSimServer
        let kubeconfig: String

        /// Starts the simulator and waits until kube-proxy is rolled out (a loaded machine may take a while to
        /// start the pods), then turns the scenario's injected errors on. The nodes are netfilter nodes: their
        /// kube-proxy programs real rules, which a migration's verification counts.
        static func start(_ scenario: Scenario) async throws -> Cluster {
            var quiet = scenario
            quiet.faults.errors = []
            for index in quiet.nodeGroups.indices { quiet.nodeGroups[index].netfilter = true }
            let sim = try await KubeSimServer.startRolledOut(scenario: quiet)
            let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("migrate-\(UUID()).kubeconfig").path
            try sim.writeKubeconfig(to: kubeconfig)
            sim.faults.setErrorRates(scenario.faults.errors)
            return Cluster(sim: sim, kubeconfig: kubeconfig)
        }

        func stop() async throws {
            try? FileManager.default.removeItem(atPath: kubeconfig)
            try await sim.shutdown()
        }

        func kpswitch(_ arguments: [String]) throws -> (KPSwitchBinary.Result, [String: Any]) {
            let result = try KPSwitchBinary.run(arguments + ["--kubeconfig", kubeconfig, "-o", "json"])
            let json = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
            return (result, json)
        }

        /// `kubectl get` as JSON; nil when the object does not exist.
        func get(_ resource: String, _ name: String?) throws -> [String: Any]? {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["kubectl", "--kubeconfig", kubeconfig, "-n", "kube-system", "get", resource] + (name.map { [$0] } ?? [])
                + ["-o", "json", "--ignore-not-found"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard !data.isEmpty else { return nil }
            return try JSONSerialization.jsonObject(with: data) as? [String: Any]
        }

        func pods() throws -> [String: String] {
            let list = try #require(try get("pods", nil))
            var byNode: [String: String] = [:]
            for pod in list["items"] as? [[String: Any]] ?? [] {
                let metadata = pod["metadata"] as? [String: Any] ?? [:]
                guard (metadata["labels"] as? [String: String])?["k8s-app"] == "kube-proxy" else { continue }
                byNode[(pod["spec"] as? [String: Any])?["nodeName"] as? String ?? ""] = metadata["uid"] as? String
            }
            return byNode
        }
    }

    static func same(_ a: Any?, _ b: Any?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return NSDictionary(dictionary: ["v": a]).isEqual(to: ["v": b])
    }

    static func spec(_ daemonSet: [String: Any]?) -> (Any?, Any?) {
        let spec = daemonSet?["spec"] as? [String: Any]
        return (spec?["updateStrategy"], spec?["template"])
    }

    @Test("--dry-run prints the plan (diff, DaemonSet changes, cleanup, batches, the IPVS risk) and changes nothing")
    func dryRun() async throws {
        let cluster = try await Cluster.start(try Self.kubeadm())
        let before = try cluster.get("configmap", "kube-proxy")
        let (result, json) = try cluster.kpswitch(["migrate", "--to", "ipvs", "--dry-run"])
        let after = try cluster.get("configmap", "kube-proxy")
        let state = try cluster.get("configmap", "kpswitch-state")
        let lease = try cluster.get("lease", "kpswitch")
        try await cluster.stop()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(json["kind"] as? String == "MigrationPlan")
        #expect(json["from"] as? String == "iptables" && json["to"] as? String == "ipvs")
        #expect(json["cleanup"] as? String == "init-container")
        #expect(json["batches"] as? [[String]] == [["worker-1"], ["worker-2"], ["worker-3"], ["worker-4", "control-plane"]])
        // Finalize: every pod replaced again by kpswitch (default 25%,100%), so the controller has nothing to roll.
        #expect(json["finalBatches"] as? [[String]] == [["worker-1", "worker-2"], ["worker-3", "worker-4", "control-plane"]])
        #expect((json["configDiff"] as? String)?.contains("+mode: \"ipvs\"") == true)
        #expect((json["risks"] as? [String])?.contains { $0.contains("deprecated since Kubernetes 1.35") } == true)
        #expect((json["daemonSetChanges"] as? [String])?.contains { $0.contains("OnDelete") } == true)
        #expect(Self.same(before?["data"], after?["data"]) && before?["metadata"].map { ($0 as? [String: Any])?["resourceVersion"] as? String } == after?["metadata"].map { ($0 as? [String: Any])?["resourceVersion"] as? String })
        #expect(state == nil && lease == nil)
    }

    @Test("without --yes and without a terminal: refused before anything is read, exit 2")
    func needsYes() throws {
        let result = try KPSwitchBinary.run(["migrate", "--to", "ipvs", "--kubeconfig", "/nonexistent"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--yes"))
    }

    @Test("iptables to ipvs, canary: every node runs ipvs; the ConfigMap differs only in mode; the DaemonSet is as before; nothing staged is left; rollback then restores exactly")
    func canaryMigrates() async throws {
        let cluster = try await Cluster.start(try Self.kubeadm())
        let configBefore = try #require(try cluster.get("configmap", "kube-proxy"))
        let dsBefore = try cluster.get("daemonset", "kube-proxy")
        let (result, json) = try cluster.kpswitch(["migrate", "--to", "ipvs", "--yes"])
        let configAfter = try #require(try cluster.get("configmap", "kube-proxy"))
        let dsAfter = try cluster.get("daemonset", "kube-proxy")
        let staged = try cluster.get("configmap", "kube-proxy-kpswitch-ipvs")
        let lease = try cluster.get("lease", "kpswitch")
        let (statusResult, status) = try cluster.kpswitch(["status"])
        let (rollback, rollbackJSON) = try cluster.kpswitch(["rollback", "--yes"])
        let configBack = try cluster.get("configmap", "kube-proxy")
        let dsBack = try cluster.get("daemonset", "kube-proxy")
        let (_, statusBack) = try cluster.kpswitch(["status"])
        try await cluster.stop()

        // kpswitch rollback after the migration finished: exactly as before, every node back on iptables.
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(rollbackJSON["outcome"] as? String == "rolledBack")
        #expect(Self.same(configBefore["data"], configBack?["data"]))
        #expect(Self.same(Self.spec(dsBefore).0, Self.spec(dsBack).0) && Self.same(Self.spec(dsBefore).1, Self.spec(dsBack).1))
        #expect((statusBack["nodes"] as? [[String: Any]] ?? []).allSatisfy { $0["observedMode"] as? String == "iptables" })

        #expect(result.status == 0, "\(result.stderr)")
        #expect(json["kind"] as? String == "MigrationResult")
        #expect(json["outcome"] as? String == "migrated")
        // Four canary batches and the two final ones (25%,100%).
        #expect(result.stderr.contains("batch 1/6: nodes migrated 1 / verified 1 / total 5"))
        let oldData = try #require(configBefore["data"] as? [String: String])
        let newData = try #require(configAfter["data"] as? [String: String])
        #expect(newData["kubeconfig.conf"] == oldData["kubeconfig.conf"])
        #expect(newData["config.conf"] == oldData["config.conf"]?.replacingOccurrences(of: "mode: \"\"", with: "mode: \"ipvs\""))
        #expect(newData["config.conf"] != oldData["config.conf"])
        #expect(Self.same(Self.spec(dsBefore).0, Self.spec(dsAfter).0))
        #expect(Self.same(Self.spec(dsBefore).1, Self.spec(dsAfter).1))
        #expect(staged == nil && lease == nil)

        #expect(statusResult.status == 0, "\(statusResult.stderr)")
        #expect(status["configuredMode"] as? String == "ipvs")
        let nodes = status["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.count == 5)
        #expect(nodes.allSatisfy { $0["observedMode"] as? String == "ipvs" && $0["ready"] as? Bool == true })
        #expect((status["migration"] as? [String: Any])?["outcome"] as? String == "migrated")
    }

    @Test("workers lack IPVS: the canary fails verification, only the canary node was replaced, rolled back by itself, exit 4, ConfigMap and DaemonSet exactly as before")
    func canaryFails() async throws {
        let cluster = try await Cluster.start(try Self.kubeadm(workersIPVS: .absent))
        let configBefore = try cluster.get("configmap", "kube-proxy")
        let dsBefore = try cluster.get("daemonset", "kube-proxy")
        let podsBefore = try cluster.pods()
        // Preflight's agents find the workers without IPVS (NodeAgentPreflightTests); ignoring that lets the
        // canary meet them, which is what this test is about.
        let (result, json) = try cluster.kpswitch(["migrate", "--to", "ipvs", "--yes", "--ignore-preflight-errors", "IPVSKernelSupport"])
        let configAfter = try cluster.get("configmap", "kube-proxy")
        let dsAfter = try cluster.get("daemonset", "kube-proxy")
        let podsAfter = try cluster.pods()
        let staged = try cluster.get("configmap", "kube-proxy-kpswitch-ipvs")
        let lease = try cluster.get("lease", "kpswitch")
        let (_, status) = try cluster.kpswitch(["status"])
        try await cluster.stop()

        #expect(result.status == 4, "\(result.stdout)\n\(result.stderr)")
        #expect(json["outcome"] as? String == "rolledBack")
        #expect((json["reason"] as? String)?.contains("worker-1") == true)
        #expect((json["reason"] as? String)?.contains("ipvs not supported") == true)
        #expect(Self.same(configBefore?["data"], configAfter?["data"]))
        #expect(Self.same(Self.spec(dsBefore).0, Self.spec(dsAfter).0))
        #expect(Self.same(Self.spec(dsBefore).1, Self.spec(dsAfter).1))
        #expect(staged == nil && lease == nil)
        // Only the canary node's pod was ever replaced.
        #expect(podsAfter.filter { $0.value != podsBefore[$0.key] }.keys.sorted() == ["worker-1"])
        let nodes = status["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.count == 5 && nodes.allSatisfy { $0["observedMode"] as? String == "iptables" })
    }

    @Test("--no-rollback stops at the failed canary (exit 5); rollback from a fresh process restores exactly (exit 0); a second rollback has nothing to do")
    func rollbackAfterStop() async throws {
        let cluster = try await Cluster.start(try Self.kubeadm(workersIPVS: .absent))
        let configBefore = try cluster.get("configmap", "kube-proxy")
        let dsBefore = try cluster.get("daemonset", "kube-proxy")
        let (stopped, stoppedJSON) = try cluster.kpswitch(
            ["migrate", "--to", "ipvs", "--yes", "--no-rollback", "--ignore-preflight-errors", "IPVSKernelSupport"])
        let (again, _) = try cluster.kpswitch(["migrate", "--to", "nftables", "--yes"])
        let (rolledBack, rollbackJSON) = try cluster.kpswitch(["rollback", "--yes"])
        let configAfter = try cluster.get("configmap", "kube-proxy")
        let dsAfter = try cluster.get("daemonset", "kube-proxy")
        let staged = try cluster.get("configmap", "kube-proxy-kpswitch-ipvs")
        let (nothing, nothingJSON) = try cluster.kpswitch(["rollback", "--yes"])
        try await cluster.stop()

        #expect(stopped.status == 5, "\(stopped.stderr)")
        #expect(stoppedJSON["outcome"] as? String == "stopped")
        #expect(again.status == 1)
        #expect(again.stderr.contains("unfinished migration") && again.stderr.contains("--resume") && again.stderr.contains("rollback"))
        #expect(rolledBack.status == 0, "\(rolledBack.stderr)")
        #expect(rollbackJSON["kind"] as? String == "RollbackResult")
        #expect(rollbackJSON["outcome"] as? String == "rolledBack")
        #expect(Self.same(configBefore?["data"], configAfter?["data"]))
        #expect(Self.same(Self.spec(dsBefore).0, Self.spec(dsAfter).0))
        #expect(Self.same(Self.spec(dsBefore).1, Self.spec(dsAfter).1))
        #expect(staged == nil)
        #expect(nothing.status == 0)
        #expect(nothingJSON["outcome"] as? String == "nothingToRollBack")
    }

    @Test("EKS, rolling, ipvs to iptables: the ConfigMap differs only in mode, the template only by kubectl's restart mark")
    func rollingEKS() async throws {
        let cluster = try await Cluster.start(try Self.eks())
        let configBefore = try #require(try cluster.get("configmap", "kube-proxy-config")?["data"] as? [String: String])
        let dsBefore = try cluster.get("daemonset", "kube-proxy")
        // --cleanup none: the nodes' IPVS tables now hold kube-proxy's virtual servers, and kube-sim's IPVS is a
        // read-only /proc/net/ip_vs view (the host kernel has none), so a node cleanup could not remove them here.
        let (result, json) = try cluster.kpswitch(["migrate", "--to", "iptables", "--strategy", "rolling", "--cleanup", "none", "--yes"])
        let configAfter = try #require(try cluster.get("configmap", "kube-proxy-config")?["data"] as? [String: String])
        let dsAfter = try cluster.get("daemonset", "kube-proxy")
        let (_, status) = try cluster.kpswitch(["status"])
        try await cluster.stop()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(json["outcome"] as? String == "migrated")
        #expect(json["strategy"] as? String == "rolling")
        let modeLine = try #require(configBefore["config"]?.split(separator: "\n").first { $0.hasPrefix("mode:") })
        #expect(configAfter["config"] == configBefore["config"]?.replacingOccurrences(of: String(modeLine), with: "mode: \"iptables\""))
        var template = try #require(Self.spec(dsAfter).1 as? [String: Any])
        var metadata = try #require(template["metadata"] as? [String: Any])
        let annotations = try #require(metadata["annotations"] as? [String: String])
        #expect(annotations.keys.sorted() == ["kubectl.kubernetes.io/restartedAt"])
        metadata["annotations"] = nil
        template["metadata"] = metadata
        #expect(Self.same(Self.spec(dsBefore).1, template))
        #expect(Self.same(Self.spec(dsBefore).0, Self.spec(dsAfter).0))
        #expect(status["configuredMode"] as? String == "iptables")
        #expect((status["nodes"] as? [[String: Any]] ?? []).allSatisfy { $0["observedMode"] as? String == "iptables" })
    }

    @Test("EKS, rolling, nftables on kernel 5.10 with NodeKernels ignored: the rollout fails, is rolled back by itself (exit 4), objects exactly as before")
    func rollingFailsEKS() async throws {
        let cluster = try await Cluster.start(try Self.eks())
        let configBefore = try cluster.get("configmap", "kube-proxy-config")
        let dsBefore = try cluster.get("daemonset", "kube-proxy")
        // Preflight names the old kernels (exit 3 otherwise); ignoring that, the nodes themselves refuse nftables.
        let (result, json) = try cluster.kpswitch(["migrate", "--to", "nftables", "--strategy", "rolling", "--yes", "--ignore-preflight-errors=NodeKernels"])
        let configAfter = try cluster.get("configmap", "kube-proxy-config")
        let dsAfter = try cluster.get("daemonset", "kube-proxy")
        let (_, status) = try cluster.kpswitch(["status"])
        try await cluster.stop()
        #expect(result.status == 4, "\(result.stdout)\n\(result.stderr)")
        #expect(json["outcome"] as? String == "rolledBack")
        #expect((json["reason"] as? String)?.contains("5.13") == true)
        #expect(Self.same(configBefore?["data"], configAfter?["data"]))
        #expect(Self.same(Self.spec(dsBefore).0, Self.spec(dsAfter).0))
        #expect(Self.same(Self.spec(dsBefore).1, Self.spec(dsAfter).1))
        #expect((status["nodes"] as? [[String: Any]] ?? []).allSatisfy { $0["observedMode"] as? String == "ipvs" })
    }

    @Test("--timeout runs out while the canary starts: stopped at once, rolled back by itself, exit 4")
    func timeout() async throws {
        var scenario = try Self.kubeadm()
        scenario.podStartDelay = .seconds(3)
        let cluster = try await Cluster.start(scenario)
        let configBefore = try cluster.get("configmap", "kube-proxy")
        let dsBefore = try cluster.get("daemonset", "kube-proxy")
        let (result, json) = try cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--timeout", "1s"])
        let configAfter = try cluster.get("configmap", "kube-proxy")
        let dsAfter = try cluster.get("daemonset", "kube-proxy")
        try await cluster.stop()
        #expect(result.status == 4, "\(result.stdout)\n\(result.stderr)")
        #expect((json["reason"] as? String)?.contains("timed out after 1s") == true, "\(json)")
        #expect(Self.same(configBefore?["data"], configAfter?["data"]))
        #expect(Self.same(Self.spec(dsBefore).0, Self.spec(dsAfter).0) && Self.same(Self.spec(dsBefore).1, Self.spec(dsAfter).1))
    }

    @Test("5% of requests fail with 429 or 500: the migration still completes, and status reads through the same faults")
    func flakyServer() async throws {
        var scenario = try Self.kubeadm()
        scenario.faults = Scenario.Faults(errors: [
            Scenario.ErrorFault(verbs: ["*"], resources: ["*"], code: 429, rate: 0.025),
            Scenario.ErrorFault(verbs: ["*"], resources: ["*"], code: 500, rate: 0.025),
        ])
        let cluster = try await Cluster.start(scenario)
        let (result, json) = try cluster.kpswitch(["migrate", "--to", "nftables", "--yes"])
        let (statusResult, status) = try cluster.kpswitch(["status"])
        try await cluster.stop()
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(json["outcome"] as? String == "migrated")
        #expect(statusResult.status == 0, "\(statusResult.stderr)")
        #expect((status["nodes"] as? [[String: Any]] ?? []).allSatisfy { $0["observedMode"] as? String == "nftables" })
    }

    @Test("a Lease held by a live process elsewhere: refused, naming the holder, exit 1, nothing changed")
    func leaseHeld() async throws {
        let cluster = try await Cluster.start(try Self.kubeadm())
        let lease = """
            {"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"kpswitch","namespace":"kube-system"},
             "spec":{"holderIdentity":"bob@other-host/pid-4242","leaseDurationSeconds":30,"renewTime":"\(Self.microNow())"}}
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lease-\(UUID()).json").path
        try lease.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let create = Process()
        create.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        create.arguments = ["kubectl", "--kubeconfig", cluster.kubeconfig, "create", "-f", file]
        create.standardOutput = FileHandle.nullDevice
        try create.run()
        create.waitUntilExit()
        let (result, _) = try cluster.kpswitch(["migrate", "--to", "nftables", "--yes"])
        let state = try cluster.get("configmap", "kpswitch-state")
        try await cluster.stop()
        #expect(create.terminationStatus == 0)
        #expect(result.status == 1)
        #expect(result.stderr.contains("held by bob@other-host/pid-4242"))
        #expect(state == nil)
    }

    static func microNow() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date()).replacingOccurrences(of: "Z", with: "000Z")
    }
}
