import Foundation
import KubeSim
import Testing

/// The compatibility checks through the built binary against kube-sim scenarios: `advise` reports them for the
/// mode it recommends, `preflight --scope cluster` for `--to`.
@Suite("compatibility checks against kube-sim")
struct CompatibilityTests {
    struct Run {
        let result: KPSwitchBinary.Result
        let json: [String: Any]
        /// Check name → (status, finding messages).
        let checks: [String: (status: String, messages: [String])]

        func status(_ name: String) -> String? { checks[name]?.status }
        func messages(_ name: String) -> [String] { checks[name]?.messages ?? [] }
        /// Checks with a status other than passed, as `Name=status`.
        var notPassed: [String] { checks.filter { $0.value.status != "passed" }.map { "\($0.key)=\($0.value.status)" }.sorted() }
    }

    static func run(_ scenario: Scenario, _ arguments: [String]) async throws -> Run {
        let sim = try await KubeSimServer.startRolledOut(scenario: scenario)
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("compat-\(UUID()).kubeconfig").path
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        try sim.writeKubeconfig(to: kubeconfig)
        let result = try KPSwitchBinary.run(arguments + ["--kubeconfig", kubeconfig, "-o", "json"])
        try await sim.shutdown()
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        var checks: [String: (String, [String])] = [:]
        for check in (json["compatibility"] ?? json["checks"]) as? [[String: Any]] ?? [] {
            guard let name = check["name"] as? String else { continue }
            let messages = (check["findings"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
            checks[name] = (check["status"] as? String ?? "", messages)
        }
        return Run(result: result, json: json, checks: checks)
    }

    static func scenario(_ name: String) throws -> Scenario {
        try Scenario(contentsOf: AdviseTests.packageRoot.appendingPathComponent("Scenarios/\(name)").path)
    }

    /// Rewrites every string value inside the scenario's objects, as an operator's edit of a config would.
    static func editingStrings(_ scenario: Scenario, _ transform: @escaping (String) -> String) -> Scenario {
        func edit(_ value: JSONValue) -> JSONValue {
            switch value {
            case .string(let text): .string(transform(text))
            case .array(let items): .array(items.map(edit))
            case .object(let fields): .object(fields.mapValues(edit))
            default: value
            }
        }
        var edited = scenario
        edited.objects = scenario.objects.map(edit)
        return edited
    }

    /// Adds `key: value` to the labels or annotations of the kube-proxy DaemonSet and ConfigMap.
    static func marking(_ scenario: Scenario, _ field: String, _ key: String, _ value: String) -> Scenario {
        var edited = scenario
        edited.objects = scenario.objects.map { object in
            guard case .object(var fields) = object, case .object(var metadata)? = fields["metadata"],
                  metadata["name"] == .string("kube-proxy"), case .object(var marks)? = metadata[field] else { return object }
            marks[key] = .string(value)
            metadata[field] = .object(marks)
            fields["metadata"] = .object(metadata)
            return .object(fields)
        }
        return edited
    }

    /// In the order they run.
    static let clusterChecks = ClusterChecksNames.all

    @Test("small (the demo): stay on iptables, every cluster check passes, and the token user may migrate")
    func small() async throws {
        let run = try await Self.run(try Self.scenario("demo.yaml"), ["advise"])
        #expect(run.result.status == 0, "\(run.result.stderr)")
        #expect(run.json["recommended"] as? String == "iptables")
        #expect(run.checks.keys.sorted() == Self.clusterChecks.sorted())
        #expect(run.notPassed == [])
        #expect(run.messages("MigrationRBAC") == ["this user may do all 22 things a migration does in kube-system (SelfSubjectAccessReview)"])

        let token = try await Self.run(try Self.scenario("demo.yaml"), ["preflight", "--scope", "cluster", "--context", "kube-sim-token", "--to", "nftables"])
        #expect(token.status("MigrationRBAC") == "passed", "\(token.messages("MigrationRBAC"))")
        // The demo's operator may not list Services cluster-wide: those checks say so instead of passing.
        #expect(token.status("SessionAffinity") == "skipped")
        #expect(token.messages("SessionAffinity").first?.contains("forbidden") == true || token.messages("SessionAffinity").first?.contains("Forbidden") == true)
    }

    @Test("600 services: nftables, and plain ClusterIP Services raise nothing")
    func sixHundred() async throws {
        let run = try await Self.run(try AdviseTests.kubeadm(services: 600, kernels: ["6.1.0-28-amd64"]), ["advise"])
        #expect(run.json["recommended"] as? String == "nftables")
        #expect(run.notPassed == [])
        #expect(run.messages("SessionAffinity") == ["no Service uses sessionAffinity: ClientIP"])
    }

    @Test("10,000 services and 100,000 endpoints: nftables, with the counts read page by page")
    func tenThousand() async throws {
        let run = try await Self.run(try Self.scenario("scale-10k.yaml"), ["advise"])
        #expect(run.result.status == 0, "\(run.result.stderr)")
        #expect(run.json["recommended"] as? String == "nftables")
        let facts = try #require(run.json["facts"] as? [String: Any])
        #expect(facts["services"] as? Int == 10_001)
        #expect(facts["endpoints"] as? Int == 100_001)
        #expect(facts["maxEndpointsPerService"] as? Int == 10)
        #expect(facts["p99EndpointsPerService"] as? Int == 10)
        #expect((run.json["reasons"] as? [String])?.first?.hasPrefix("10001 services (10001 ports) and 100001 endpoints: at or above ~500") == true)
        #expect(run.notPassed == [])
    }

    @Test("mixed kernels: IPVS as a bridge, with strictARP and external IPs checked for it")
    func mixedKernels() async throws {
        let run = try await Self.run(try AdviseTests.kubeadm(services: 600, kernels: ["6.1.0-28-amd64", "5.10.0-30-amd64"]), ["advise"])
        #expect(run.json["recommended"] as? String == "ipvs")
        // Recommending IPVS still says it is deprecated.
        #expect(run.notPassed == ["KubeProxyVersion=warning"])
        #expect(run.messages("MetalLB").first?.hasPrefix("MetalLB is not installed") == true)
    }

    @Test("MetalLB on IPVS without strictARP: advise keeps IPVS and reports the error, naming what it found")
    func metalLB() async throws {
        let run = try await Self.run(try Self.scenario("metallb.yaml"), ["advise"])
        #expect(run.result.status == 0, "\(run.result.stderr)")
        #expect(run.json["current"] as? String == "ipvs")
        #expect(run.json["recommended"] as? String == "ipvs")
        #expect(run.notPassed == ["KubeProxyVersion=warning", "MetalLB=error"])
        let message = try #require(run.messages("MetalLB").first)
        #expect(message.hasPrefix("MetalLB is installed (CRDs ipaddresspools.metallb.io, l2advertisements.metallb.io, bgppeers.metallb.io; Deployment metallb-system/controller; DaemonSet metallb-system/speaker) and ipvs.strictARP is not true in ConfigMap kube-system/kube-proxy"))

        let text = try await Self.textAdvise(try Self.scenario("metallb.yaml"))
        #expect(text.contains("[ERROR MetalLB]: MetalLB is installed"))
        #expect(text.contains("See Runbooks/preflight.md#metallb."))
    }

    @Test("MetalLB: strictARP true passes for IPVS; nftables needs nothing; preflight --to ipvs without it exits 3")
    func metalLBPreflight() async throws {
        let strict = Self.editingStrings(try Self.scenario("metallb.yaml")) { $0.replacingOccurrences(of: "strictARP: false", with: "strictARP: true") }
        let ok = try await Self.run(strict, ["preflight", "--scope", "cluster", "--to", "ipvs"])
        #expect(ok.result.status == 0, "\(ok.result.stderr)")
        #expect(ok.messages("MetalLB").first?.hasSuffix("ipvs.strictARP is true in ConfigMap kube-system/kube-proxy, as MetalLB's L2 mode needs under IPVS") == true)

        let blocked = try await Self.run(try Self.scenario("metallb.yaml"), ["preflight", "--scope", "cluster", "--to", "ipvs"])
        #expect(blocked.result.status == 3)
        #expect(blocked.status("MetalLB") == "error")
        let nftables = try await Self.run(try Self.scenario("metallb.yaml"), ["preflight", "--scope", "cluster", "--to", "nftables"])
        #expect(nftables.status("MetalLB") == "passed")
        let every = try await Self.run(try Self.scenario("metallb.yaml"), ["preflight", "--scope", "cluster"])
        // Every mode includes IPVS, which this cluster runs now: the missing strictARP is still an error.
        #expect(every.status("MetalLB") == "error")
    }

    @Test("NodeLocal DNSCache set up for iptables: IPVS is recommended and the DNS setup, the node's external IP, localhost NodePorts and affinity are reported")
    func nodeLocalDNS() async throws {
        let run = try await Self.run(try Self.scenario("nodelocaldns.yaml"), ["advise"])
        #expect(run.result.status == 0, "\(run.result.stderr)")
        #expect(run.json["recommended"] as? String == "ipvs")
        #expect(run.notPassed == ["ExternalIPs=error", "KubeProxyVersion=warning", "LocalhostNodePorts=warning", "NodeLocalDNSCache=error", "SessionAffinity=warning"])
        #expect(run.messages("NodeLocalDNSCache").first?.hasPrefix(
            "DaemonSet kube-system/node-local-dns listens on 169.254.20.10, 10.96.0.10 (-localip): the iptables-mode setup") == true)
        #expect(run.messages("ExternalIPs").first?.hasPrefix(
            "Services with a node's own address in externalIPs (1): default/legacy-gateway (10.0.0.11); under IPVS") == true)
        #expect(run.messages("ExternalIPs").last?.hasPrefix("Services with externalIPs (1): default/legacy-gateway (10.0.0.11, 192.168.10.50)") == true)
        #expect(run.messages("LocalhostNodePorts") == [
            "iptables mode also serves every NodePort on 127.0.0.1 (iptables.localhostNodePorts, route_localnet) and ipvs mode does not, so a client on a node that uses 127.0.0.1:<nodePort> stops working; Services with NodePorts (1): kube-system/registry:30500",
        ])
        #expect(run.messages("SessionAffinity").first?.hasPrefix(
            "Services with sessionAffinity: ClientIP (1): default/sticky-web (3600 s); the affinity lives in iptables mode's own state") == true)

        let nftables = try await Self.run(try Self.scenario("nodelocaldns.yaml"), ["preflight", "--scope", "cluster", "--to", "nftables"])
        // Kernel 5.10: nftables is ruled out by the nodes, and that alone blocks it.
        #expect(nftables.result.status == 3, "\(nftables.result.stderr)")
        #expect(nftables.notPassed.filter { $0.hasSuffix("=error") } == ["NodeKernels=error"])
        #expect(nftables.status("NodeLocalDNSCache") == "passed")
        #expect(nftables.status("ExternalIPs") == "passed")
        // nftables: no localhost NodePorts, and NodePorts only on primary addresses while nodePortAddresses is unset.
        #expect(nftables.messages("LocalhostNodePorts").count == 2)
        #expect(nftables.messages("LocalhostNodePorts").last?.hasPrefix("nodePortAddresses is unset: nftables mode then accepts NodePorts only on each node's primary IPs") == true)
    }

    @Test("Helm-owned kube-proxy: nftables recommended, and the Helm release is a warning naming it")
    func helm() async throws {
        let run = try await Self.run(try Self.scenario("helm-kube-proxy.yaml"), ["advise"])
        #expect(run.result.status == 0, "\(run.result.stderr)")
        #expect(run.json["recommended"] as? String == "nftables")
        #expect(run.notPassed == ["GitOpsOwner=warning", "LocalhostNodePorts=warning", "SessionAffinity=warning"])
        #expect(run.messages("GitOpsOwner") == [
            "DaemonSet kube-system/kube-proxy is managed by Helm (release kube-system/kube-proxy, annotation meta.helm.sh/release-name): the next helm upgrade restores the old mode",
            "ConfigMap kube-system/kube-proxy is managed by Helm (release kube-system/kube-proxy, annotation meta.helm.sh/release-name): the next helm upgrade restores the old mode",
        ])
        #expect(run.status("ExternalIPs") == "passed")
    }

    @Test("Argo CD or Flux owning kube-proxy blocks preflight until ignored", arguments: [
        ("annotations", "argocd.argoproj.io/tracking-id", "kube-proxy:apps/DaemonSet:kube-system/kube-proxy", "Argo CD"),
        ("labels", "kustomize.toolkit.fluxcd.io/name", "infrastructure", "Flux"),
    ])
    func reconciler(field: String, key: String, value: String, tool: String) async throws {
        let marked = Self.marking(try Self.scenario("helm-kube-proxy.yaml"), field, key, value)
        let run = try await Self.run(marked, ["preflight", "--scope", "cluster", "--to", "nftables"])
        #expect(run.result.status == 3, "\(run.result.stderr)")
        #expect(run.status("GitOpsOwner") == "error")
        #expect(run.messages("GitOpsOwner").first?.hasPrefix("DaemonSet kube-system/kube-proxy is managed by \(tool) (\(tool): \(field.dropLast()) \(key)=\(value); Helm: release kube-system/kube-proxy") == true,
                "\(run.messages("GitOpsOwner"))")
        let ignored = try await Self.run(marked, ["preflight", "--scope", "cluster", "--to", "nftables", "--ignore-preflight-errors=GitOpsOwner"])
        #expect(ignored.result.status == 0)
        #expect(ignored.status("GitOpsOwner") == "warning")
    }

    @Test("self-managed EKS (label eks.amazonaws.com/component): a small IPVS cluster is advised back to iptables, flavour named")
    func eks() async throws {
        let run = try await Self.run(try Self.scenario("eks.yaml"), ["advise"])
        #expect(run.result.status == 0, "\(run.result.stderr)")
        #expect(run.json["current"] as? String == "ipvs")
        #expect(run.json["recommended"] as? String == "iptables")
        #expect(run.messages("KubeProxyFlavour") == ["eks: kube-proxy runs in ipvs mode, set in ConfigMap kube-proxy-config, key config"])
        #expect(run.notPassed == [])
    }

    @Test("a user missing permissions gets one error naming each verb and resource")
    func rbac() async throws {
        var scenario = try Self.scenario("demo.yaml")
        scenario.tokenUser.rules.removeAll { $0.apiGroups == ["coordination.k8s.io"] }
        scenario.tokenUser.rules = scenario.tokenUser.rules.map { rule in
            var rule = rule
            rule.resources.removeAll { $0 == "pods/log" }
            return rule
        }
        let run = try await Self.run(scenario, ["preflight", "--scope", "cluster", "--context", "kube-sim-token"])
        #expect(run.result.status == 3)
        #expect(run.messages("MigrationRBAC") == [
            "this user lacks 5 of the 22 permissions a migration needs: get leases.coordination.k8s.io in kube-system, create leases.coordination.k8s.io in kube-system, update leases.coordination.k8s.io in kube-system, delete leases.coordination.k8s.io in kube-system, get pods/log in kube-system",
        ])
    }

    @Test("every runbook link the cluster checks print resolves to a heading")
    func runbookLinks() async throws {
        let run = try await Self.run(try Self.scenario("nodelocaldns.yaml"), ["preflight", "--scope", "cluster", "--to", "ipvs"])
        let checks = try #require(run.json["checks"] as? [[String: Any]])
        // --to ipvs adds IPVSKernelSupport and ForeignIPVSServices, run through agents on every node, after the
        // cluster checks.
        #expect(checks.compactMap { $0["name"] as? String } == Self.clusterChecks + ["IPVSKernelSupport", "ForeignIPVSServices"])
        #expect(checks.suffix(2).allSatisfy { $0["scope"] as? String == "nodes" })

        // Without a kubeconfig, `--scope all` lists the same cluster checks as not run, so that
        // --ignore-preflight-errors accepts their names either way.
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("compat-home-\(UUID())").path
        let offline = try KPSwitchBinary.run(["preflight", "-o", "json", "--ignore-preflight-errors=MetalLB"],
                                             environment: ["HOME": home, "KUBECONFIG": ""])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(offline.stdout.utf8)) as? [String: Any], "\(offline.stderr)")
        let cluster = (report["checks"] as? [[String: Any]] ?? []).filter { $0["scope"] as? String == "cluster" }
        #expect(cluster.compactMap { $0["name"] as? String } == Self.clusterChecks)
        #expect(cluster.allSatisfy { $0["status"] as? String == "skipped" })
        let text = try String(contentsOf: AdviseTests.packageRoot.appendingPathComponent("Runbooks/preflight.md"), encoding: .utf8)
        let headings = Set(text.split(separator: "\n").filter { $0.hasPrefix("## ") }.map { "Runbooks/preflight.md#" + $0.dropFirst(3).lowercased() })
        for link in checks.compactMap({ $0["runbook"] as? String }) {
            #expect(headings.contains(link), "\(link): no such heading")
        }
    }

    static func textAdvise(_ scenario: Scenario) async throws -> String {
        let sim = try await KubeSimServer.startRolledOut(scenario: scenario)
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("compat-\(UUID()).kubeconfig").path
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        try sim.writeKubeconfig(to: kubeconfig)
        let result = try KPSwitchBinary.run(["advise", "--kubeconfig", kubeconfig], environment: ["NO_COLOR": "1"])
        try await sim.shutdown()
        return result.stdout
    }
}
