import Testing

@testable import NodeState
@testable import kube_proxy_ruleset

@Suite("iptables-save parsing, counting and cleanup planning")
struct IPTablesRulesetTests {
    @Test("the kubeadm node's nat table: one service port, one endpoint")
    func fixtureCounts() throws {
        let ruleset = try IPTablesRuleset(parsing: try Fixture.text("iptables-save-kube-proxy-nat"))
        #expect(ruleset.tables.map(\.name) == ["nat"])
        #expect(ruleset.kubeProxyServices == ProgrammedServices(servicePorts: 1, endpoints: 1))
        let rule = try #require(ruleset.table("nat")?.rules.first { $0.chain == "KUBE-SVC-NPX46M4PTMTKRN6Y" && $0.target == "KUBE-SEP-U7HH75UFG3U5VGYY" })
        #expect(rule.comment == "default/kubernetes:https -> 192.168.20.100:6443")
    }

    @Test("iptables-mode cleanup of the fixture: kube-proxy's chains and the jumps into them, kubelet's canary kept")
    func fixtureCleanup() throws {
        let ruleset = try IPTablesRuleset(parsing: try Fixture.text("iptables-save-kube-proxy-nat"))
        let cleanup = IPTablesCleanup(ruleset: ruleset, footprint: .iptables)
        #expect(cleanup.chains.map(\.name) == [
            "KUBE-MARK-MASQ", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-PROXY-CANARY", "KUBE-SEP-U7HH75UFG3U5VGYY",
            "KUBE-SERVICES", "KUBE-SVC-NPX46M4PTMTKRN6Y",
        ])
        #expect(cleanup.jumps.map(\.chain) == ["PREROUTING", "OUTPUT", "POSTROUTING"])
        let script = cleanup.restoreScript
        #expect(script.hasPrefix("*nat\n-D PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"))
        #expect(!script.contains("KUBE-KUBELET-CANARY"))
        #expect(script.hasSuffix("-X KUBE-SVC-NPX46M4PTMTKRN6Y\nCOMMIT\n"))
        // The ipvs footprint shares KUBE-SERVICES and friends but not the per-service chains.
        let ipvs = IPTablesCleanup(ruleset: ruleset, footprint: .ipvs)
        #expect(ipvs.chains.map(\.name) == ["KUBE-MARK-MASQ", "KUBE-POSTROUTING", "KUBE-SERVICES"])
    }

    @Test("the generator names chains exactly as kube-proxy does (checked against the fixture)")
    func generatorHashes() {
        #expect(KubeProxyRuleset.serviceChain("default/kubernetes:https") == "KUBE-SVC-NPX46M4PTMTKRN6Y")
        #expect(KubeProxyRuleset.endpointChain("default/kubernetes:https", "192.168.20.100:6443") == "KUBE-SEP-U7HH75UFG3U5VGYY")
    }

    @Test("generated rulesets count back exactly", arguments: [0, 10, 1_000])
    func generatedCounts(_ services: Int) throws {
        let generated = KubeProxyRuleset.generate(services: services)
        let counts = try IPTablesRuleset(parsing: generated.text).kubeProxyServices
        #expect(counts == ProgrammedServices(servicePorts: generated.servicePorts, endpoints: generated.endpoints))
    }

    @Test("malformed text is refused, naming the line",
          arguments: ["*nat\n-A X -j Y\n", "-A X -j Y\n", "*nat\nbogus\nCOMMIT\n", "*nat\n*filter\nCOMMIT\n"])
    func malformed(_ text: String) {
        #expect { try IPTablesRuleset(parsing: text) } throws: { error in
            (error as? NodeStateError)?.message.contains("line ") == true
        }
    }

    @Test("nft ruleset: kube-proxy's service and endpoint chains are counted, other tables ignored")
    func nftCounts() {
        let text = """
            table inet filter {
            \tchain service-not-kube {
            \t}
            }
            table ip kube-proxy {
            \tchain service-ULMVA6XW-ns1/svc1/tcp/p80 {
            \t}
            \tchain endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 {
            \t}
            \tchain endpoint-5OJB2KTZ-ns1/svc1/tcp/p80__10.180.0.2/80 {
            \t}
            }
            table ip6 kube-proxy {
            \tchain service-AAAAAAAA-ns1/svc1/tcp/p80 {
            \t}
            }
            """
        #expect(NFTTable.kubeProxyServices(inRuleset: text) == ProgrammedServices(servicePorts: 2, endpoints: 2))
    }

    @Test("IPv6 ipset names follow kube-proxy: KUBE-6- prefix, cut to 31 characters")
    func ipv6SetNames() {
        #expect(KubeProxyFootprint.ipvs.ipsets.contains("KUBE-6-CLUSTER-IP"))
        #expect(KubeProxyFootprint.ipvs.ipsets.contains("KUBE-6-LOAD-BALANCER-SOURCE-CID"))
        #expect(KubeProxyFootprint.ipvs.ipsets.allSatisfy { $0.count <= 31 })
    }

    @Test("beside the running mode a footprint keeps what both own: iptables and ipvs share nat KUBE-SERVICES, KUBE-MARK-MASQ, filter KUBE-FORWARD")
    func leavingTheRunningMode() {
        let iptables = KubeProxyFootprint.iptables.leaving(.ipvs)
        for chain in ["KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"] {
            #expect(KubeProxyFootprint.iptables.owns(chain: chain, inTable: "nat"))
            #expect(!iptables.owns(chain: chain, inTable: "nat"), "nat \(chain)")
        }
        #expect(!iptables.owns(chain: "KUBE-FORWARD", inTable: "filter") && !iptables.owns(chain: "KUBE-PROXY-FIREWALL", inTable: "filter"))
        #expect(iptables.owns(chain: "KUBE-SVC-NPX46M4PTMTKRN6Y", inTable: "nat") && iptables.owns(chain: "KUBE-SEP-U7HH75UFG3U5VGYY", inTable: "nat"))
        #expect(iptables.owns(chain: "KUBE-NODEPORTS", inTable: "nat") && iptables.owns(chain: "KUBE-SERVICES", inTable: "filter"))

        let ipvs = KubeProxyFootprint.ipvs.leaving(.iptables)
        #expect(!ipvs.owns(chain: "KUBE-SERVICES", inTable: "nat") && ipvs.owns(chain: "KUBE-NODE-PORT", inTable: "nat"))
        #expect(ipvs.owns(chain: "KUBE-IPVS-FILTER", inTable: "filter") && !ipvs.owns(chain: "KUBE-FORWARD", inTable: "filter"))
        #expect(ipvs.ipsets == KubeProxyFootprint.ipvs.ipsets && ipvs.links == ["kube-ipvs0"])
        #expect(KubeProxyFootprint.ipvs.leaving(.ipvs).links.isEmpty && KubeProxyFootprint.ipvs.leaving(.ipvs).ipsets.isEmpty)

        // A prefix of the footprint never claims a chain the running mode names exactly.
        let running = KubeProxyFootprint(chains: ["nat": ["KUBE-SVC-RUNNING"]], chainPrefixes: [:], ipsets: [], nftTables: [], links: [])
        let left = KubeProxyFootprint.iptables.leaving(running)
        #expect(!left.owns(chain: "KUBE-SVC-RUNNING", inTable: "nat") && left.owns(chain: "KUBE-SVC-OTHER", inTable: "nat"))
        #expect(KubeProxyFootprint.nftables.leaving(.iptables).nftTables == KubeProxyFootprint.nftables.nftTables)
    }
}
