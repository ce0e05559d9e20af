import Foundation
import KubeSim
import Testing

/// Cluster preflight checks what the API already tells (kernels, versions, node readiness, the rollout) before
/// anything changes, and `advise` judges by the same checks.
@Suite("cluster preflight from the API's facts")
struct ClusterFactsPreflightTests {
    struct Checked {
        let status: Int32
        let stderr: String
        /// Check name → status.
        let statuses: [String: String]
        /// Check name → its findings as decoded JSON.
        let findings: [String: [[String: Any]]]
        let json: [String: Any]

        /// The checks that did not pass, as `Name=status`.
        var notPassed: [String] { statuses.filter { $0.value != "passed" }.map { "\($0.key)=\($0.value)" }.sorted() }

        func nodes(_ check: String, severity: String) -> [String] {
            (findings[check] ?? []).filter { $0["severity"] as? String == severity }.flatMap { $0["nodes"] as? [String] ?? [] }
        }

        func messages(_ check: String) -> [String] { (findings[check] ?? []).compactMap { $0["message"] as? String } }

        init(_ result: KPSwitchBinary.Result, _ json: [String: Any]) {
            status = result.status
            stderr = result.stderr
            self.json = json
            var statuses: [String: String] = [:]
            var findings: [String: [[String: Any]]] = [:]
            for check in (json["checks"] ?? json["compatibility"]) as? [[String: Any]] ?? [] {
                guard let name = check["name"] as? String else { continue }
                statuses[name] = check["status"] as? String
                findings[name] = check["findings"] as? [[String: Any]] ?? []
            }
            self.statuses = statuses
            self.findings = findings
        }
    }

    static func preflight(_ cluster: MigrateTests.Cluster, to mode: String, _ extra: [String] = []) throws -> Checked {
        let (result, json) = try cluster.kpswitch(["preflight", "--scope", "cluster", "--to", mode] + extra)
        return Checked(result, json)
    }

    /// The kubeadm scenario with kube-proxy's image and the cluster at `version` (`v1.30.6`).
    static func kubeadm(version: String, nodeGroups: [Scenario.NodeGroup]? = nil) throws -> Scenario {
        var scenario = CompatibilityTests.editingStrings(try MigrateTests.kubeadm()) {
            $0.replacingOccurrences(of: "registry.k8s.io/kube-proxy:v1.34.0", with: "registry.k8s.io/kube-proxy:\(version)")
        }
        scenario.kubernetesVersion = version
        if let nodeGroups { scenario.nodeGroups = nodeGroups }
        return scenario
    }

    static func resourceVersions(_ cluster: MigrateTests.Cluster) throws -> [String?] {
        try [("configmap", "kube-proxy-config"), ("configmap", "kube-proxy"), ("daemonset", "kube-proxy")].map { kind, name in
            (try cluster.get(kind, name)?["metadata"] as? [String: Any])?["resourceVersion"] as? String
        }
    }

    @Test("EKS on kernel 5.10: --to nftables is an error naming the three nodes, and migrate stops before the Lease")
    func eksKernels() async throws {
        let cluster = try await MigrateTests.Cluster.start(try MigrateTests.eks())
        let checked = try Self.preflight(cluster, to: "nftables")
        var text = try KPSwitchBinary.run(["preflight", "--scope", "cluster", "--to", "nftables", "--kubeconfig", cluster.kubeconfig])
        let before = try Self.resourceVersions(cluster)
        let migrate = try cluster.kpswitch(["migrate", "--to", "nftables", "--yes"])
        let after = try Self.resourceVersions(cluster)
        let lease = try cluster.get("lease", "kpswitch")
        let state = try cluster.get("configmap", "kpswitch-state")
        try await cluster.stop()

        #expect(checked.status == 3, "\(checked.stderr)")
        #expect(checked.statuses["NodeKernels"] == "error")
        #expect(checked.nodes("NodeKernels", severity: "error") == ["ip-10-0-1-1", "ip-10-0-1-2", "ip-10-0-1-3"])
        #expect(checked.messages("NodeKernels").first?.hasPrefix(
            "3 of 3 nodes run a kernel older than 5.13, which nftables mode requires: ip-10-0-1-1 (5.10.227), ip-10-0-1-2 (5.10.227), ip-10-0-1-3 (5.10.227)") == true)
        #expect(checked.json["cluster"] as? String == "kube-sim" && checked.json["host"] is NSNull)
        #expect(text.status == 3)
        #expect(text.stdout.hasPrefix("[preflight] Running checks for --to nftables on cluster kube-sim\n"), "\(text.stdout)")
        #expect(text.stdout.contains("[ERROR NodeKernels]: 3 of 3 nodes run a kernel older than 5.13"))
        text = migrate.0
        #expect(text.status == 3, "\(text.stderr)")
        #expect(text.stdout.contains("NodeKernels"))
        #expect(before == after && !before.contains(nil))
        #expect(lease == nil && state == nil)
    }

    @Test("mixed kernels: exactly the nodes below 5.13 are named for nftables, and not an error for ipvs")
    func mixedKernels() async throws {
        var scenario = try MigrateTests.kubeadm()
        scenario.nodeGroups += [.init(namePrefix: "old", count: 2, kernelVersion: "5.4.0-200-generic")]
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let nftables = try Self.preflight(cluster, to: "nftables")
        let ipvs = try Self.preflight(cluster, to: "ipvs")
        try await cluster.stop()
        #expect(nftables.status == 3)
        #expect(nftables.notPassed == ["NodeKernels=error"], "\(nftables.json)")
        #expect(nftables.nodes("NodeKernels", severity: "error") == ["old-1", "old-2"])
        #expect(nftables.messages("NodeKernels").first?.hasPrefix("2 of 7 nodes run a kernel older than 5.13") == true)
        #expect(ipvs.statuses["NodeKernels"] == "passed")
        #expect(ipvs.messages("NodeKernels").contains { $0.hasPrefix("IPVS: a kernel version alone says nothing") })
        // The workers' ip_vs is loadable, not loaded: the agents' IPVSKernelSupport warns.
        #expect(ipvs.notPassed == ["IPVSKernelSupport=warning", "KubeProxyVersion=warning"], "\(ipvs.json)")
    }

    @Test("v1.30: nftables without the feature gate is an error, with it a warning about the alpha mode")
    func alphaNFTables() async throws {
        let plain = try await MigrateTests.Cluster.start(try Self.kubeadm(version: "v1.30.6"))
        let withoutGate = try Self.preflight(plain, to: "nftables")
        let ignored = try Self.preflight(plain, to: "nftables", ["--ignore-preflight-errors=KubeProxyVersion"])
        let plan = try plain.kpswitch(["migrate", "--to", "nftables", "--dry-run", "--ignore-preflight-errors=KubeProxyVersion"])
        try await plain.stop()
        #expect(withoutGate.status == 3)
        #expect(withoutGate.notPassed == ["KubeProxyVersion=error"], "\(withoutGate.json)")
        #expect(withoutGate.messages("KubeProxyVersion").first
            == "kube-proxy 1.30 (its image tag): nftables mode is alpha and needs featureGates.NFTablesProxyMode: true, which ConfigMap kube-system/kube-proxy does not set")
        #expect(ignored.status == 0 && ignored.notPassed == ["KubeProxyVersion=warning"])
        // The ignored error is a risk the plan names; a check that found nothing adds none.
        #expect(plan.0.status == 0, "\(plan.0.stderr)")
        let risks = plan.1["risks"] as? [String] ?? []
        #expect(risks.contains { $0.hasPrefix("[WARNING KubeProxyVersion] (ignored error): kube-proxy 1.30") })
        #expect(!risks.contains { $0.contains("NodeKernels") || $0.contains("kernel 5.13") })

        let gated = try Self.kubeadm(version: "v1.30.6")
        let withGate = CompatibilityTests.editingStrings(gated) {
            $0.replacingOccurrences(of: "\nmode: \"\"\n", with: "\nmode: \"\"\nfeatureGates:\n  NFTablesProxyMode: true\n")
        }
        let cluster = try await MigrateTests.Cluster.start(withGate)
        let checked = try Self.preflight(cluster, to: "nftables")
        try await cluster.stop()
        #expect(checked.status == 0, "\(checked.json)")
        #expect(checked.notPassed == ["KubeProxyVersion=warning"])
        #expect(checked.messages("KubeProxyVersion").first?.contains("nftables mode is alpha; ConfigMap kube-system/kube-proxy enables the NFTablesProxyMode feature gate") == true)
    }

    @Test("v1.35 --to ipvs: a deprecation warning citing KEP-5495, and the plan names it as a risk")
    func ipvsDeprecated() async throws {
        let cluster = try await MigrateTests.Cluster.start(try Self.kubeadm(version: "v1.35.0"))
        let checked = try Self.preflight(cluster, to: "ipvs")
        let plan = try cluster.kpswitch(["migrate", "--to", "ipvs", "--dry-run"])
        try await cluster.stop()
        #expect(checked.status == 0)
        #expect(checked.notPassed == ["IPVSKernelSupport=warning", "KubeProxyVersion=warning"], "\(checked.json)")
        #expect(checked.messages("KubeProxyVersion").first?.hasPrefix(
            "kube-proxy 1.35 (its image tag): IPVS mode is deprecated since Kubernetes 1.35 (KEP-5495)") == true)
        #expect((plan.1["risks"] as? [String] ?? []).contains { $0.hasPrefix("[WARNING KubeProxyVersion]: kube-proxy 1.35") })
    }

    @Test("a NotReady and a cordoned node are errors naming them; --ignore-preflight-errors proceeds knowingly")
    func nodeReadiness() async throws {
        var scenario = try MigrateTests.kubeadm()
        scenario.nodeGroups += [
            .init(namePrefix: "gone", count: 1, ready: false),
            .init(namePrefix: "cordoned", count: 1, unschedulable: true),
        ]
        // Not MigrateTests.Cluster.start: it waits for a rollout that gone-1's stopped kubelet never lets finish.
        let sim = try await KubeSimServer.start(scenario: scenario)
        let cluster = MigrateTests.Cluster(sim: sim, kubeconfig: FileManager.default.temporaryDirectory
            .appendingPathComponent("readiness-\(UUID()).kubeconfig").path)
        try sim.writeKubeconfig(to: cluster.kubeconfig)
        for _ in 0..<600 {
            let status = try cluster.get("daemonset", "kube-proxy")?["status"] as? [String: Any]
            if status?["numberAvailable"] as? Int == 6 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let checked = try Self.preflight(cluster, to: "nftables")
        let ignored = try Self.preflight(cluster, to: "nftables", ["--ignore-preflight-errors=NodeReadiness,KubeProxyRollout"])
        try await cluster.stop()
        #expect(checked.status == 3)
        // The stopped kubelet never starts gone-1's kube-proxy, so the DaemonSet cannot be rolled out either.
        #expect(checked.notPassed == ["KubeProxyRollout=error", "NodeReadiness=error"], "\(checked.json)")
        #expect(checked.nodes("NodeReadiness", severity: "error") == ["gone-1", "cordoned-1"])
        #expect(checked.messages("NodeReadiness").first?.hasPrefix("1 of 7 nodes are NotReady: gone-1") == true)
        #expect(checked.messages("KubeProxyRollout").first?.contains("updated 7, available 6 of 7") == true)
        #expect(ignored.status == 0 && ignored.notPassed == ["KubeProxyRollout=warning", "NodeReadiness=warning"])
    }

    @Test("a DaemonSet mid-rollout is the KubeProxyRollout error, as migrate's refusal")
    func midRollout() async throws {
        var scenario = try MigrateTests.kubeadm()
        scenario.podStartDelay = .seconds(3600)
        let sim = try await KubeSimServer.start(scenario: scenario)
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("rollout-\(UUID()).kubeconfig").path
        try sim.writeKubeconfig(to: kubeconfig)
        let preflight = try KPSwitchBinary.run(["preflight", "--scope", "cluster", "--to", "nftables", "--kubeconfig", kubeconfig, "-o", "json"])
        let migrate = try KPSwitchBinary.run(["migrate", "--to", "nftables", "--yes", "--kubeconfig", kubeconfig])
        try? FileManager.default.removeItem(atPath: kubeconfig)
        try await sim.shutdown()
        let checked = Checked(preflight, (try? JSONSerialization.jsonObject(with: Data(preflight.stdout.utf8))) as? [String: Any] ?? [:])
        #expect(checked.status == 3)
        #expect(checked.notPassed == ["KubeProxyRollout=error"], "\(checked.json)")
        #expect(checked.messages("KubeProxyRollout").first?.contains("is not fully rolled out (updated 5, available 0 of 5)") == true)
        #expect(migrate.status == 3 && migrate.stdout.contains("[ERROR KubeProxyRollout]"))
    }

    @Test("a Windows node is left out of every count, and the findings say so")
    func windowsNode() async throws {
        var scenario = try MigrateTests.kubeadm()
        scenario.nodeGroups += [.init(namePrefix: "win", count: 1, kernelVersion: "10.0.20348.2849",
                                      osImage: "Windows Server 2022 Datacenter", os: "windows")]
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let checked = try Self.preflight(cluster, to: "nftables")
        let (_, advice) = try cluster.kpswitch(["advise"])
        try await cluster.stop()
        #expect(checked.status == 0, "\(checked.json)")
        #expect(checked.notPassed.isEmpty, "\(checked.json)")
        #expect(checked.messages("NodeKernels").first?.hasPrefix("all 5 nodes run kernel 5.13 or later") == true)
        let leftOut = "left out of the counts: 1 Windows node (win-1), which run kube-proxy's Windows modes"
        #expect(checked.messages("NodeKernels").contains(leftOut) && checked.messages("NodeReadiness").contains(leftOut))
        let facts = advice["facts"] as? [String: Any] ?? [:]
        #expect((facts["nodes"] as? [[String: Any]])?.count == 5)
        #expect((facts["leftOut"] as? [[String: String]]) == [["name": "win-1", "reason": "windows"]])
    }

    /// Every shipped scenario and the variants above: advise's checks for the mode it recommends are exactly
    /// what preflight reports for that mode, and advise never recommends a mode the nodes or the version rule out.
    @Test("advise and preflight agree", arguments: ["demo.yaml", "eks.yaml", "helm-kube-proxy.yaml", "metallb.yaml", "nodelocaldns.yaml", "v1.30", "mixed"])
    func agreement(_ name: String) async throws {
        let scenario: Scenario
        switch name {
        case "v1.30": scenario = try Self.kubeadm(version: "v1.30.6")
        case "mixed":
            var mixed = try MigrateTests.kubeadm()
            mixed.nodeGroups += [.init(namePrefix: "old", count: 2, kernelVersion: "5.10.0-30-amd64")]
            scenario = mixed
        default: scenario = try CompatibilityTests.scenario(name)
        }
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let (adviseResult, advice) = try cluster.kpswitch(["advise"])
        let recommended = try #require(advice["recommended"] as? String, "\(adviseResult.stderr)")
        let checked = try Self.preflight(cluster, to: recommended)
        try await cluster.stop()
        let adviseChecks = Checked(adviseResult, advice)
        // advise judges what the API tells and runs no agent pod, so preflight's node checks through agents
        // (IPVSKernelSupport for ipvs) are left out of the comparison.
        let clusterStatuses = checked.statuses.filter { ClusterChecksNames.all.contains($0.key) }
        #expect(adviseChecks.statuses == clusterStatuses, "\(name): advise \(adviseChecks.statuses) preflight \(checked.statuses)")
        #expect(adviseChecks.statuses.keys.sorted() == ClusterChecksNames.all.sorted())
        for (check, findings) in checked.findings where ClusterChecksNames.all.contains(check) {
            #expect((adviseChecks.findings[check] ?? []).map { $0["message"] as? String } == findings.map { $0["message"] as? String },
                    "\(name) \(check)")
        }
        // Add-ons and permissions may block any mode; the API's facts about nodes and versions never block the advice.
        #expect(checked.statuses["NodeKernels"] != "error" && checked.statuses["KubeProxyVersion"] != "error",
                "\(name): advise recommends \(recommended), which the nodes or the version rule out: \(checked.notPassed)")
    }
}

/// The cluster checks in the order they run (Sources/KPSwitch/Preflight/ClusterChecks.swift).
enum ClusterChecksNames {
    static let all = ["KubeProxyFlavour", "KubeProxyVersion", "KubeProxyRollout", "NodeKernels", "NodeReadiness", "MetalLB",
                      "NodeLocalDNSCache", "LocalhostNodePorts", "ExternalIPs", "SessionAffinity", "GitOpsOwner", "MigrationRBAC"]
}
