import Foundation
import KubeSim
import Testing

/// `preflight --scope cluster --to ipvs` and migrate's preflight check every kube-proxy node's IPVS modules
/// through agent pods that kube-sim runs for real, and migrate refuses before changing anything while a node
/// lacks IPVS or could not be checked.
@Suite("node checks through agent pods", .serialized)
struct NodeAgentPreflightTests {
    typealias Checked = ClusterFactsPreflightTests.Checked

    /// One control plane and two workers with `workers`' IPVS, plus `extra`.
    static func scenario(workers: Scenario.IPVSSupport, _ extra: Scenario.NodeGroup) throws -> Scenario {
        var scenario = try MigrateTests.kubeadm()
        scenario.nodeGroups = [
            .init(namePrefix: "control-plane", count: 1, ipvs: workers, controlPlane: true),
            .init(namePrefix: "worker", count: 2, ipvs: workers),
            extra,
        ]
        return scenario
    }

    /// The agents run on kube-sim's host, so they report its kernel, not the scenario's nodeInfo.
    static let release = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""

    static func findings(_ checked: Checked, _ severity: String) -> [[String: Any]] {
        (checked.findings["IPVSKernelSupport"] ?? []).filter { $0["severity"] as? String == severity }
    }

    /// What migrate must leave untouched when it refuses, and the agent pods nothing may leave behind.
    struct Untouched {
        let resourceVersions: [String?]
        let lease: [String: Any]?
        let state: [String: Any]?
        let agentPods: [String]

        init(_ cluster: MigrateTests.Cluster) throws {
            resourceVersions = try ClusterFactsPreflightTests.resourceVersions(cluster)
            lease = try cluster.get("lease", "kpswitch")
            state = try cluster.get("configmap", "kpswitch-state")
            agentPods = (try cluster.get("pods", nil)?["items"] as? [[String: Any]] ?? []).compactMap { pod in
                let metadata = pod["metadata"] as? [String: Any] ?? [:]
                let labels = metadata["labels"] as? [String: String] ?? [:]
                return labels["app.kubernetes.io/managed-by"] == "kpswitch" ? metadata["name"] as? String : nil
            }
        }
    }

    @Test("2 of 5 nodes without IPVS: preflight names exactly them, and migrate --to ipvs refuses before changing anything")
    func absent() async throws {
        let cluster = try await MigrateTests.Cluster.start(
            try Self.scenario(workers: .loaded, .init(namePrefix: "absent", count: 2, ipvs: .absent)))
        let checked = try ClusterFactsPreflightTests.preflight(cluster, to: "ipvs")
        let text = try KPSwitchBinary.run(["preflight", "--scope", "cluster", "--to", "ipvs", "--kubeconfig", cluster.kubeconfig])
        let before = try Untouched(cluster)
        let migrate = try cluster.kpswitch(["migrate", "--to", "ipvs", "--yes"]).0
        let after = try Untouched(cluster)
        try await cluster.stop()

        #expect(checked.status == 3, "\(checked.stderr)")
        #expect(checked.statuses["IPVSKernelSupport"] == "error", "\(checked.json)")
        let errors = Self.findings(checked, "error")
        #expect(errors.map { $0["subject"] as? String } == ["ip_vs", "ip_vs_rr"])
        #expect(errors.allSatisfy { $0["nodes"] as? [String] == ["absent-1", "absent-2"] }, "\(errors)")
        #expect(errors.first?["message"] as? String
            == "2 of 5 nodes: absent-1, absent-2: ip_vs is not loaded, not built into kernel \(Self.release), and no module file exists for it")
        let notes = Self.findings(checked, "note")
        #expect(notes.allSatisfy { $0["nodes"] as? [String] == ["control-plane", "worker-1", "worker-2"] }, "\(notes)")
        #expect(notes.first?["message"] as? String == "3 of 5 nodes: control-plane, worker-1, worker-2: ip_vs is loaded")
        #expect(text.status == 3)
        #expect(text.stdout.contains("[ERROR IPVSKernelSupport]: 2 of 5 nodes: absent-1, absent-2: ip_vs_rr is not loaded"), "\(text.stdout)")

        #expect(migrate.status == 3, "\(migrate.stderr)")
        #expect(migrate.stdout.contains("IPVSKernelSupport"))
        #expect(before.resourceVersions == after.resourceVersions && after.resourceVersions.compactMap { $0 }.count == 2, "\(after.resourceVersions)")
        #expect(after.lease == nil && after.state == nil)
        #expect(before.agentPods.isEmpty && after.agentPods.isEmpty, "left: \(before.agentPods) \(after.agentPods)")
    }

    @Test("every node's IPVS loadable: a warning naming all 5 nodes, preflight exits 0; migrate --dry-run starts no pod and lists the unchecked nodes as a risk")
    func loadable() async throws {
        let cluster = try await MigrateTests.Cluster.start(
            try Self.scenario(workers: .loadable, .init(namePrefix: "more", count: 2, ipvs: .loadable)))
        let checked = try ClusterFactsPreflightTests.preflight(cluster, to: "ipvs")
        let (plan, planJSON) = try cluster.kpswitch(["migrate", "--to", "ipvs", "--dry-run", "--node-concurrency", "2"])
        let after = try Untouched(cluster)
        try await cluster.stop()

        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.statuses["IPVSKernelSupport"] == "warning")
        let warnings = Self.findings(checked, "warning")
        #expect(warnings.count == 2 && warnings.allSatisfy { ($0["nodes"] as? [String])?.count == 5 }, "\(warnings)")
        #expect(warnings.first?["message"] as? String == "all 5 nodes: ip_vs is not loaded; a module file for kernel \(Self.release) exists, so modprobe can load it")
        #expect(plan.status == 0, "\(plan.stderr)")
        let risks = planJSON["risks"] as? [String] ?? []
        #expect(risks.contains { $0.hasPrefix("[SKIPPED IPVSKernelSupport]") && $0.contains("--dry-run starts no agent pods") }, "\(risks)")
        #expect(!risks.contains { $0.hasPrefix("[WARNING IPVSKernelSupport]") }, "\(risks)")
        #expect(after.agentPods.isEmpty, "\(after.agentPods)")
    }

    @Test("nodes that never start the agent are skipped, never passed, and migrate refuses unless the check is ignored")
    func neverStarted() async throws {
        var never = Scenario.NodeGroup(namePrefix: "never", count: 2, ipvs: .loaded)
        never.startsAgents = false
        let cluster = try await MigrateTests.Cluster.start(try Self.scenario(workers: .loaded, never))
        let timeout = ["--node-timeout", "3s"]
        let checked = try ClusterFactsPreflightTests.preflight(cluster, to: "ipvs", timeout)
        let (migrate, migrateJSON) = try cluster.kpswitch(["migrate", "--to", "ipvs", "--yes"] + timeout)
        let afterMigrate = try Untouched(cluster)
        let (plan, planJSON) = try cluster.kpswitch(
            ["migrate", "--to", "ipvs", "--dry-run", "--ignore-preflight-errors", "IPVSKernelSupport"] + timeout)
        let after = try Untouched(cluster)
        try await cluster.stop()

        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.statuses["IPVSKernelSupport"] == "skipped", "\(checked.json)")
        let skipped = Self.findings(checked, "skipped")
        #expect(skipped.count == 1 && skipped.first?["nodes"] as? [String] == ["never-1", "never-2"], "\(skipped)")
        #expect((skipped.first?["message"] as? String)?.hasPrefix(
            "2 of 5 nodes: never-1, never-2: its agent could not run: the agent pod did not finish within 3s (+15s)") == true, "\(skipped)")
        #expect(Self.findings(checked, "note").first?["nodes"] as? [String] == ["control-plane", "worker-1", "worker-2"])

        #expect(migrate.status == 3, "\(migrate.stderr)")
        let refusal = (migrateJSON["checks"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "IPVSKernelSupport" }
        let error = (refusal?["findings"] as? [[String: Any]] ?? []).first { $0["severity"] as? String == "error" }
        #expect(error?["nodes"] as? [String] == ["never-1", "never-2"], "\(migrateJSON)")
        #expect((error?["message"] as? String)?.hasSuffix("; a migration would switch them unchecked") == true)
        #expect(afterMigrate.lease == nil && afterMigrate.state == nil)

        #expect(plan.status == 0, "\(plan.stderr)")
        // A dry run starts no agent, so every node is unchecked there; MigrateTests' canary-without-IPVS case
        // migrates past an ignored IPVSKernelSupport error for real.
        #expect((planJSON["risks"] as? [String] ?? []).contains {
            $0.hasPrefix("[SKIPPED IPVSKernelSupport]") && $0.contains("--dry-run starts no agent pods")
        }, "\(planJSON)")
        #expect(afterMigrate.agentPods.isEmpty && after.agentPods.isEmpty, "\(afterMigrate.agentPods) \(after.agentPods)")
    }

    @Test("a NotReady node is skipped at once, with no pod made for it, and blocks migrate")
    func notReady() async throws {
        var scenario = try Self.scenario(workers: .loaded, .init(namePrefix: "gone", count: 1, ipvs: .loaded, ready: false))
        scenario.nodeGroups.removeAll { $0.namePrefix == "worker" }
        // Not MigrateTests.Cluster.start: it waits for a rollout that gone-1's stopped kubelet never lets finish.
        let sim = try await KubeSimServer.start(scenario: scenario)
        let cluster = MigrateTests.Cluster(sim: sim, kubeconfig: FileManager.default.temporaryDirectory
            .appendingPathComponent("agents-\(UUID()).kubeconfig").path)
        try sim.writeKubeconfig(to: cluster.kubeconfig)
        for _ in 0..<600 {
            let status = try cluster.get("daemonset", "kube-proxy")?["status"] as? [String: Any]
            if status?["numberAvailable"] as? Int == 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let started = ContinuousClock.now
        let checked = try ClusterFactsPreflightTests.preflight(cluster, to: "ipvs")
        let elapsed = ContinuousClock.now - started
        let (migrate, migrateJSON) = try cluster.kpswitch(
            ["migrate", "--to", "ipvs", "--yes", "--ignore-preflight-errors", "NodeReadiness,KubeProxyRollout"])
        let after = try Untouched(cluster)
        let created = sim.requestCounts["create pods"] ?? 0
        try await cluster.stop()

        let skipped = Self.findings(checked, "skipped")
        #expect(skipped.count == 1 && skipped.first?["nodes"] as? [String] == ["gone-1"], "\(checked.json)")
        #expect(skipped.first?["message"] as? String
            == "1 of 2 nodes: gone-1: its agent could not run: the node is NotReady, so its kubelet would not start an agent pod")
        #expect(Self.findings(checked, "note").first?["nodes"] as? [String] == ["control-plane"])
        #expect(elapsed < .seconds(60), "waited on the NotReady node: \(elapsed)")
        // One agent pod per Ready node and run: preflight's and migrate's.
        #expect(created == 2, "\(sim.requestCounts)")

        #expect(migrate.status == 3, "\(migrate.stderr)")
        let refusal = (migrateJSON["checks"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "IPVSKernelSupport" }
        #expect(refusal?["status"] as? String == "error", "\(migrateJSON)")
        #expect(after.lease == nil && after.state == nil && after.agentPods.isEmpty)
    }

    @Test("admission denies the agent pods: every node is skipped with the API's reason and migrate refuses")
    func denied() async throws {
        var scenario = try Self.scenario(workers: .loaded, .init(namePrefix: "more", count: 2, ipvs: .loaded))
        scenario.faults.errors = [.init(verbs: ["create"], resources: ["pods"], code: 403, rate: 1)]
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let checked = try ClusterFactsPreflightTests.preflight(cluster, to: "ipvs")
        let migrate = try cluster.kpswitch(["migrate", "--to", "ipvs", "--yes"]).0
        let after = try Untouched(cluster)
        try await cluster.stop()

        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.statuses["IPVSKernelSupport"] == "skipped", "\(checked.json)")
        let skipped = Self.findings(checked, "skipped")
        #expect(skipped.count == 1 && (skipped.first?["nodes"] as? [String])?.count == 5, "\(checked.json)")
        #expect(skipped.first?["message"] as? String == "all 5 nodes: its agent could not run: the agent pod could not be created: "
            + "403 Forbidden: pods is forbidden: violates PodSecurity \"baseline:latest\": injected denial", "\(skipped)")
        #expect(migrate.status == 3, "\(migrate.stderr)")
        #expect(after.lease == nil && after.state == nil && after.agentPods.isEmpty)
    }

    @Test("a user who may not create pods: the check is skipped naming the permission, and no pod is tried")
    func noPodCreate() async throws {
        var scenario = try Self.scenario(workers: .loaded, .init(namePrefix: "more", count: 2, ipvs: .loaded))
        scenario.tokenUser = try CompatibilityTests.scenario("demo.yaml").tokenUser
        scenario.tokenUser.rules = scenario.tokenUser.rules.map { rule in
            var rule = rule
            rule.verbs.removeAll { $0 == "create" && rule.resources.contains("pods") }
            return rule
        }
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let checked = try ClusterFactsPreflightTests.preflight(cluster, to: "ipvs", ["--context", "kube-sim-token"])
        let after = try Untouched(cluster)
        try await cluster.stop()

        #expect(checked.statuses["IPVSKernelSupport"] == "skipped", "\(checked.json)")
        let skipped = Self.findings(checked, "skipped")
        #expect(skipped.first?["nodes"] as? [String] == ["control-plane", "more-1", "more-2", "worker-1", "worker-2"])
        #expect((skipped.first?["message"] as? String)?.hasPrefix(
            "all 5 nodes: this user may not create pods in kube-system, which running an agent pod on each node needs") == true, "\(skipped)")
        #expect(checked.messages("MigrationRBAC").first?.contains("create pods in kube-system") == true)
        #expect(after.agentPods.isEmpty)
    }

    @Test("virtual servers through agents are judged against the Services: a ClusterIP's or a NodePort's is kube-proxy's, another is foreign, naming its nodes")
    func foreignVirtualServers() async throws {
        var legacy = Scenario.NodeGroup(namePrefix: "legacy", count: 2, ipvs: .loaded)
        legacy.ipvsServices = ["TCP 10.96.0.1:443", "TCP 10.0.0.11:30080", "TCP 192.168.77.7:8080"]
        var scenario = try Self.scenario(workers: .loaded, legacy)
        scenario.objects.append([
            "apiVersion": "v1", "kind": "Service",
            "metadata": ["name": "web", "namespace": "default"],
            "spec": ["type": "NodePort", "clusterIP": "10.96.40.40", "clusterIPs": ["10.96.40.40"],
                     "ports": [["port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080]]],
        ])
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let checked = try ClusterFactsPreflightTests.preflight(cluster, to: "ipvs")
        let after = try Untouched(cluster)
        try await cluster.stop()

        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.statuses["ForeignIPVSServices"] == "warning", "\(checked.json)")
        let findings = checked.findings["ForeignIPVSServices"] ?? []
        let warning = findings.first { $0["severity"] as? String == "warning" }
        #expect(warning?["nodes"] as? [String] == ["legacy-1", "legacy-2"], "\(findings)")
        #expect(warning?["message"] as? String == "2 of 5 nodes: legacy-1, legacy-2: 1 of 3 IPVS virtual servers are not kube-proxy's "
            + "(TCP 192.168.77.7:8080); kube-proxy --cleanup would flush them", "\(findings)")
        let note = findings.first { $0["severity"] as? String == "note" }
        #expect(note?["nodes"] as? [String] == ["control-plane", "worker-1", "worker-2"], "\(findings)")
        #expect(note?["message"] as? String == "3 of 5 nodes: control-plane, worker-1, worker-2: 0 IPVS virtual servers, all kube-proxy's")
        #expect(after.agentPods.isEmpty)
    }
}
