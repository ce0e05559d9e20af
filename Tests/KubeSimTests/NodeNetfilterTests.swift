import Foundation
import KubeSim
import Testing

extension KubeSimSuite {
/// `netfilter: true` nodes keep a network namespace for their lifetime, where the simulated kube-proxy
/// programs its mode's real rules and agent pods run: judged with the real iptables-save, nft and ipset.
@Suite("netfilter nodes hold real kube-proxy rules", .serialized, .enabled(if: geteuid() == 0, "namespaces need root"))
struct NodeNetfilterTests {
    /// Two netfilter workers, three generated Services (plus `kubernetes`) and one Service without endpoints.
    static func scenario(omitting: Int = 0) throws -> Scenario {
        var scenario = try Fixtures.kubeadm(nodes: 0)
        var group = Scenario.NodeGroup(namePrefix: "worker", count: 2)
        group.netfilter = true
        group.kubeProxyOmitsServices = omitting
        scenario.nodeGroups = [group]
        scenario.services = Scenario.Services(count: 3)
        scenario.objects.append([
            "apiVersion": "v1", "kind": "Service",
            "metadata": ["name": "lonely", "namespace": "default"],
            "spec": ["type": "ClusterIP", "clusterIP": "10.96.9.9", "clusterIPs": ["10.96.9.9"],
                     "ports": [["name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53]]],
        ])
        return scenario
    }

    /// Runs `script` in an agent pod on `node` and returns its log.
    func agent(_ kubectl: Kubectl, _ name: String, node: String, _ script: String) async throws -> String {
        let created = try kubectl.run(["apply", "-f", "-"], stdin: try AgentPodTests.pod(name, node: node, script: script))
        #expect(created.status == 0, "\(created.stderr)")
        let done = try await eventually(attempts: 800) {
            try kubectl.run(["get", "pod", name, "-n", "kube-system", "-o", "jsonpath={.status.phase}"]).stdout == "Succeeded"
        }
        let logs = try kubectl.run(["logs", name, "-n", "kube-system"])
        #expect(done, "\(name): \(logs.stdout)\(logs.stderr)")
        return logs.stdout
    }

    static let counts = """
        printf 'cluster-ip %s\\n' "$(iptables-save -t nat | grep -c '^-A KUBE-SERVICES .*cluster IP"')"
        printf 'no-endpoints %s\\n' "$(iptables-save -t filter | grep -c '^-A KUBE-SERVICES .*has no endpoints"')"
        printf 'svc-chains %s\\n' "$(iptables-save -t nat | grep -c '^:KUBE-SVC-')"
        printf 'sep-chains %s\\n' "$(iptables-save -t nat | grep -c '^:KUBE-SEP-')"
        printf 'nft-tables %s\\n' "$(nft list tables | grep -c 'kube-proxy')"
        printf 'nft-services %s\\n' "$(nft list table ip kube-proxy 2> /dev/null | grep -c 'chain service-')"
        printf 'nft-rejects %s\\n' "$(nft list table ip kube-proxy 2> /dev/null | grep -o 'goto reject-chain' | wc -l)"
        printf 'ipsets %s\\n' "$(ipset list -n | grep -c '^KUBE-')"
        if [ -e /proc/net/ip_vs ]; then printf 'ipvs %s\\n' "$(grep -c '^TCP\\|^UDP' /proc/net/ip_vs)"; else echo 'ipvs none'; fi
        [ -e /sys/class/net/kube-ipvs0 ] && echo kube-ipvs0 || echo no-kube-ipvs0
        """

    func switchMode(_ kubectl: Kubectl, to mode: String) throws {
        let patched = try kubectl.run(["patch", "cm", "kube-proxy", "-n", "kube-system", "--type", "json", "-p",
                                       #"[{"op":"replace","path":"/data/config.conf","value":"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: \#(mode)\n"}]"#])
        #expect(patched.status == 0, "\(patched.stderr)")
        #expect(try kubectl.run(["rollout", "restart", "ds/kube-proxy", "-n", "kube-system"]).status == 0)
        let status = try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=60s"])
        #expect(status.status == 0, "\(status.stderr)")
    }

    @Test("a netfilter node starts with the initial mode's rules; an agent's change persists to the next agent")
    func initialRulesAndPersistence() async throws {
        let sim = try await KubeSimServer.start(scenario: try Self.scenario(omitting: 0))
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        #expect(try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=30s"]).status == 0)
        // kubernetes and svc-00001..3 have endpoints (one, two each); lonely has none: REJECT in filter, no nat chain.
        let counts = try await agent(kubectl, "counts", node: "worker-1", Self.counts)
        #expect(counts == """
            cluster-ip 4
            no-endpoints 1
            svc-chains 4
            sep-chains 7
            nft-tables 0
            nft-services 0
            nft-rejects 0
            ipsets 0
            ipvs none
            no-kube-ipvs0

            """)
        _ = try await agent(kubectl, "writes", node: "worker-1", "iptables -t filter -N KPSWITCH-PROBE && ipset create kpswitch-probe hash:ip")
        let seen = try await agent(kubectl, "reads", node: "worker-1",
                                   "iptables-save -t filter | grep -c '^:KPSWITCH-PROBE'; ipset list -n | grep -c kpswitch-probe")
        #expect(seen == "1\n1\n")
        let other = try await agent(kubectl, "other", node: "worker-2", "iptables-save -t filter | grep -c '^:KPSWITCH-PROBE' || true")
        #expect(other == "0\n")
    }

    @Test("iptables to nftables: the new pod removes every iptables chain; nftables back to iptables removes the table")
    func toNFTablesCleansIPTables() async throws {
        let sim = try await KubeSimServer.start(scenario: try Self.scenario())
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        #expect(try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=30s"]).status == 0)
        try switchMode(kubectl, to: "nftables")
        let counts = try await agent(kubectl, "nft", node: "worker-2", Self.counts + "\niptables-save | grep -c '^:KUBE-' || true")
        #expect(counts == """
            cluster-ip 0
            no-endpoints 0
            svc-chains 0
            sep-chains 0
            nft-tables 1
            nft-services 4
            nft-rejects 1
            ipsets 0
            ipvs none
            no-kube-ipvs0
            0

            """)
        try switchMode(kubectl, to: "iptables")
        let back = try await agent(kubectl, "back", node: "worker-2", Self.counts)
        #expect(back.hasPrefix("cluster-ip 4\nno-endpoints 1\nsvc-chains 4\nsep-chains 7\nnft-tables 0\n"), "\(back)")
    }

    @Test("iptables to ipvs leaves the KUBE-SVC- and KUBE-SEP- chains; ipvs programs ipsets, kube-ipvs0 and virtual servers")
    func toIPVSLeavesServiceChains() async throws {
        var scenario = try Self.scenario()
        scenario.nodeGroups[0].ipvs = .loaded
        scenario.nodeGroups[0].ipvsServices = ["TCP 192.0.2.1:80"]
        let sim = try await KubeSimServer.start(scenario: scenario)
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        #expect(try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=30s"]).status == 0)
        try switchMode(kubectl, to: "ipvs")
        let counts = try await agent(kubectl, "ipvs", node: "worker-1", Self.counts + "\niptables-save -t nat | grep -c 'match-set KUBE-CLUSTER-IP'")
        // KUBE-SERVICES is ipvs's now (no cluster IP comments), the per-service chains stay behind;
        // the foreign virtual server stays beside the five ClusterIP ones.
        #expect(counts == """
            cluster-ip 0
            no-endpoints 1
            svc-chains 4
            sep-chains 7
            nft-tables 0
            nft-services 0
            nft-rejects 0
            ipsets 17
            ipvs 6
            kube-ipvs0
            2

            """)
        try switchMode(kubectl, to: "nftables")
        let cleaned = try await agent(kubectl, "cleaned", node: "worker-1", Self.counts)
        #expect(cleaned.hasPrefix("cluster-ip 0\nno-endpoints 0\nsvc-chains 0\nsep-chains 0\nnft-tables 1\nnft-services 4\n"), "\(cleaned)")
        #expect(cleaned.hasSuffix("ipsets 0\nipvs 0\nno-kube-ipvs0\n"), "\(cleaned)")
    }

    @Test("a namespace left by a kube-sim process that ended is deleted when the next server starts; a live one's stays")
    func staleNamespacesSwept() async throws {
        let ended = Process()
        ended.executableURL = URL(fileURLWithPath: "/bin/true")
        try ended.run()
        ended.waitUntilExit()
        let stale = "kube-sim-\(ended.processIdentifier)-crashed-worker-1"
        let live = "kube-sim-\(getpid())-other-worker-1"
        for name in [stale, live] {
            let add = Process()
            add.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            add.arguments = ["netns", "add", name]
            try add.run()
            add.waitUntilExit()
            try #require(add.terminationStatus == 0)
        }
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm(nodes: 1))
        try await sim.shutdown()
        let left = try FileManager.default.contentsOfDirectory(atPath: "/run/netns")
        #expect(!left.contains(stale), "\(left)")
        #expect(left.contains(live), "\(left)")
        let delete = Process()
        delete.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        delete.arguments = ["netns", "delete", live]
        try delete.run()
        delete.waitUntilExit()
    }

    @Test("the scenario file's netfilter and kubeProxyOmitsServices, and their refusals")
    func scenarioFields() throws {
        let scenario = try Scenario(yaml: """
            nodeGroups:
              - {namePrefix: a, count: 1, netfilter: true, kubeProxyOmitsServices: 3}
              - {namePrefix: b, count: 1}
            """, baseDirectory: "/")
        #expect(scenario.nodeGroups.map(\.netfilter) == [true, false])
        #expect(scenario.nodeGroups.map(\.kubeProxyOmitsServices) == [3, 0])
        for (entry, message) in [
            ("{namePrefix: a, count: 1, netfilter: maybe}", "nodeGroups[0].netfilter must be true or false"),
            ("{namePrefix: a, count: 1, kubeProxyOmitsServices: 1}", "nodeGroups[0].kubeProxyOmitsServices needs netfilter: true"),
            ("{namePrefix: a, count: 1, netfilter: true, kubeProxyOmitsServices: -1}", "nodeGroups[0].kubeProxyOmitsServices must be a number ≥ 0"),
        ] {
            #expect {
                try Scenario(yaml: "nodeGroups:\n  - \(entry)\n", baseDirectory: "/")
            } throws: { error in
                "\(error)".contains(message)
            }
        }
    }

    @Test("kubeProxyOmitsServices leaves the last service ports out; the namespaces go when the server stops")
    func omissionsAndTeardown() async throws {
        let sim = try await KubeSimServer.start(scenario: try Self.scenario(omitting: 2))
        let kubectl = try Kubectl(sim)
        #expect(try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=30s"]).status == 0)
        let counts = try await agent(kubectl, "few", node: "worker-1", Self.counts)
        // By name: default/kubernetes, default/lonely, default/svc-00001..3; the last two are left out.
        #expect(counts.hasPrefix("cluster-ip 2\nno-endpoints 1\n"), "\(counts)")
        let before = try FileManager.default.contentsOfDirectory(atPath: "/run/netns").filter { $0.hasPrefix("kube-sim-\(getpid())-") }
        try await sim.shutdown()
        let after = try FileManager.default.contentsOfDirectory(atPath: "/run/netns").filter { $0.hasPrefix("kube-sim-\(getpid())-") }
        #expect(after.count == before.count - 2, "\(before) -> \(after)")
    }
}
}
