import Foundation
import NodeState
import Testing

@testable import kube_proxy_ruleset

/// The built kpswitch against real netfilter in throwaway namespaces: snapshot, wipe, restore,
/// cleanup and tampering, checked with the node's own tools.
@Suite("node snapshot, restore and cleanup in a network namespace", .serialized,
       .enabled(if: TestNamespace.unavailable == nil, "\(TestNamespace.unavailable ?? "")"))
struct NodeScopeNamespaceTests {
    /// Rules of someone other than kube-proxy, which cleanup must leave exactly as they were.
    static let foreignRules = """
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :MY-FIREWALL - [0:0]
        -A INPUT -p tcp -m tcp --dport 22 -j MY-FIREWALL
        -A MY-FIREWALL -s 192.0.2.0/24 -j ACCEPT
        COMMIT

        """

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kpsw-ns-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func bundle(in directory: URL) throws -> URL {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let name = try #require(names.first, "no bundle in \(directory.path)")
        #expect(names.count == 1)
        return directory.appendingPathComponent(name)
    }

    /// Loads generated kube-proxy rules into all four stores, foreign rules, ipsets and an nft table.
    func populate(_ ns: TestNamespace) async throws {
        let v4 = KubeProxyRuleset.generate(services: 40).text
        let v6 = KubeProxyRuleset.generate(services: 25, ipv6: true).text
        try await ns.run(["iptables-nft-restore"], input: v4)
        try await ns.run(["iptables-nft-restore", "--noflush"], input: Self.foreignRules)
        try await ns.run(["ip6tables-nft-restore"], input: v6)
        try await ns.run(["iptables-legacy-restore"], input: try Fixture.text("iptables-save-kube-proxy-nat"))
        try await ns.run(["ip6tables-legacy-restore"], input: Self.foreignRules.replacingOccurrences(of: "192.0.2.0/24", with: "2001:db8::/32"))
        try await ns.run(["ipset", "restore"], input: """
            create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536
            add KUBE-CLUSTER-IP 10.96.0.1,tcp:443
            add KUBE-CLUSTER-IP 10.96.0.10,udp:53
            create KUBE-6-CLUSTER-IP hash:ip,port family inet6 hashsize 1024 maxelem 65536
            add KUBE-6-CLUSTER-IP fd00:10:96::1,tcp:443
            create my-allowlist hash:net family inet hashsize 1024 maxelem 65536
            add my-allowlist 192.0.2.0/24

            """)
        try await ns.run(["nft", "add", "table", "ip", "kube-proxy"])
        try await ns.run(["nft", "add", "chain", "ip", "kube-proxy", "service-ULMVA6XW-ns1/svc1/tcp/p80"])
        try await ns.run(["nft", "add", "table", "inet", "my-table"])
    }

    func state(_ ns: TestNamespace) async throws -> [String: String] {
        var state: [String: String] = [:]
        for variant in IPTablesVariant.all { state[variant.program] = try await ns.iptablesSave(variant) }
        state["ipset"] = try await ns.run(["ipset", "save"])
        state["nft tables"] = try await ns.run(["nft", "list", "tables"])
        return state
    }

    @Test("snapshot, wipe, restore gives back identical iptables-save (both backends, both families) and ipset save")
    func roundTrip() async throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        try await TestNamespace.with { ns in
            try await populate(ns)
            let before = try await state(ns)
            let snapshot = try await ns.kpswitch(["snapshot", "--scope", "node", "--out", out.path])
            #expect(snapshot.succeeded, "\(snapshot.stderrText)")
            let url = try bundle(in: out)
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent("manifest.json"))) as? [String: Any]
            let files = (manifest?["files"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
            #expect(files == [
                "ipset.rules", "iptables-legacy-v4.rules", "iptables-legacy-v6.rules", "iptables-nft-v4.rules",
                "iptables-nft-v6.rules", "nftables.rules", "sysctl.json",
            ])

            // Wipe: every nft table (iptables-nft's included), every legacy table, every set.
            try await ns.run(["nft", "flush", "ruleset"])
            // Legacy tables stay registered (so their order in iptables-save is kept); touching a
            // table that does not exist would create it, so only existing ones are emptied.
            for variant in IPTablesVariant.all where variant.backend == .legacy {
                for table in try IPTablesRuleset(parsing: try await ns.run([variant.saveProgram])).tables {
                    try await ns.run([variant.program, "-t", table.name, "-F"])
                    try await ns.run([variant.program, "-t", table.name, "-X"])
                }
            }
            try await ns.run(["ipset", "destroy"])
            #expect(try await state(ns) != before)

            let dryRun = try await ns.kpswitch(["restore", url.path, "--dry-run"])
            #expect(dryRun.succeeded, "\(dryRun.stderrText)")
            #expect(try await ns.run(["ipset", "list", "-n"]).isEmpty, "--dry-run changed the node")

            let restore = try await ns.kpswitch(["restore", url.path])
            #expect(restore.succeeded, "\(restore.stderrText)")
            var after = try await state(ns)
            // nft tables other than iptables-nft's are captured but not restored (not in the contract).
            after["nft tables"] = before["nft tables"]
            for key in before.keys.sorted() {
                #expect(after[key] == before[key], "\(key) differs after restore")
            }
        }
    }

    @Test("snapshot show counts exactly the generated services and endpoints", arguments: [10, 1_000, 20_000])
    func showCounts(_ services: Int) async throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        let generated = KubeProxyRuleset.generate(services: services)
        try await TestNamespace.with { ns in
            try await ns.run(["iptables-nft-restore"], input: generated.text)
            let snapshot = try await ns.kpswitch(["snapshot", "--scope", "node", "--out", out.path])
            #expect(snapshot.succeeded, "\(snapshot.stderrText)")
        }
        let show = try await CommandRunner().run([KPSwitchBinary.path, "snapshot", "show", try bundle(in: out).path, "-o", "json"])
        #expect(show.succeeded, "\(show.stderrText)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout)) as? [String: Any])
        let programmed = try #require(object["programmed"] as? [[String: Any]])
        let nft = try #require(programmed.first { $0["file"] as? String == "iptables-nft-v4.rules" })
        #expect(nft["servicePorts"] as? Int == services)
        #expect(nft["endpoints"] as? Int == generated.endpoints)
        #expect((object["problems"] as? [Any])?.isEmpty == true)
    }

    @Test("cleanup --mode iptables removes kube-proxy's chains and jumps only; --dry-run lists them and changes nothing")
    func cleanupIPTables() async throws {
        try await TestNamespace.with { ns in
            try await populate(ns)
            let before = try await state(ns)
            let dryRun = try await ns.kpswitch(["cleanup", "--mode", "iptables", "--dry-run", "-o", "json"])
            #expect(dryRun.succeeded, "\(dryRun.stderrText)")
            #expect(try await state(ns) == before, "--dry-run changed the node")
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(dryRun.stdout)) as? [String: Any])
            let chains = (listed["chains"] as? [[String: Any]]) ?? []
            #expect(chains.contains { $0["chain"] as? String == "KUBE-SVC-NPX46M4PTMTKRN6Y" && $0["store"] as? String == "iptables-legacy" })

            let run = try await ns.kpswitch(["cleanup", "--mode", "iptables"])
            #expect(run.succeeded, "\(run.stderrText)")
            let after = try await state(ns)
            for variant in IPTablesVariant.all {
                let text = try #require(after[variant.program])
                let ruleset = try IPTablesRuleset(parsing: text)
                for table in ruleset.tables {
                    #expect(!table.chains.contains { KubeProxyFootprint.iptables.owns(chain: $0, inTable: table.name) },
                            "\(variant) \(table.name) still has kube-proxy chains")
                }
                // Everything that did not mention a kube-proxy chain is still there, unchanged.
                for line in try #require(before[variant.program]).split(separator: "\n")
                where !line.contains("KUBE-") || line.contains("KUBE-KUBELET-CANARY") || line.contains("KUBE-FIREWALL") {
                    #expect(text.split(separator: "\n").contains(line), "\(variant): lost '\(line)'")
                }
            }
            #expect(after["ipset"] == before["ipset"])
            #expect(after["nft tables"] == before["nft tables"])
            let again = try await ns.kpswitch(["cleanup", "--mode", "iptables", "--dry-run"])
            #expect(again.stdoutText == "no iptables leftovers found\n")
        }
    }

    @Test("cleanup --mode ipvs removes its sets, chains and kube-ipvs0; --mode nftables its tables; others stay")
    func cleanupIPVSAndNFTables() async throws {
        try await TestNamespace.with { ns in
            try await populate(ns)
            // This host kernel has no dummy links; a veth pair stands in for kube-ipvs0.
            try await ns.run(["ip", "link", "add", "kube-ipvs0", "type", "veth", "peer", "name", "kpsw-peer"])
            try await ns.run(["iptables-nft-restore", "--noflush"], input: """
                *nat
                :KUBE-NODE-PORT - [0:0]
                :KUBE-LOAD-BALANCER - [0:0]
                -A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT
                -A KUBE-SERVICES -j KUBE-NODE-PORT
                COMMIT

                """)
            let ipvs = try await ns.kpswitch(["cleanup", "--mode", "ipvs"])
            #expect(ipvs.succeeded, "\(ipvs.stderrText)")
            // This host kernel has no ip_vs, so there are no virtual servers, and none is "not checked".
            #expect(!ipvs.stdoutText.contains("IPVS virtual server") && !ipvs.stdoutText.contains("not checked"))
            #expect(try await ns.run(["ipset", "list", "-n"]) == "my-allowlist\n")
            let links = try await ns.run(["ip", "-o", "link", "show"])
            #expect(!links.contains("kube-ipvs0"))
            let nat = try await ns.run(["iptables-nft-save", "-t", "nat"])
            #expect(!nat.contains(":KUBE-NODE-PORT ") && !nat.contains(":KUBE-SERVICES "))
            #expect(nat.contains(":KUBE-SVC-"), "ipvs cleanup removed iptables-mode service chains")

            let nft = try await ns.kpswitch(["cleanup", "--mode", "nftables"])
            #expect(nft.succeeded, "\(nft.stderrText)")
            let tables = try await ns.run(["nft", "list", "tables"])
            #expect(!tables.contains("table ip kube-proxy"))
            #expect(tables.contains("table inet my-table"))
        }
    }

    @Test("a tampered bundle fails verify and restore, naming the file, and the node is not touched")
    func tampered() async throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        try await TestNamespace.with { ns in
            try await populate(ns)
            #expect(try await ns.kpswitch(["snapshot", "--scope", "node", "--out", out.path]).succeeded)
            let url = try bundle(in: out)
            let rules = url.appendingPathComponent("iptables-nft-v4.rules")
            try (String(contentsOf: rules, encoding: .utf8) + "# edited\n").write(to: rules, atomically: false, encoding: .utf8)
            try await ns.run(["iptables-nft", "-t", "nat", "-F"])
            let before = try await state(ns)

            let verify = try await ns.kpswitch(["snapshot", "verify", url.path])
            #expect(verify.status == .exited(1))
            #expect(verify.stderrText.contains("iptables-nft-v4.rules: SHA-256 is"))
            let restore = try await ns.kpswitch(["restore", url.path])
            #expect(restore.status == .exited(1))
            #expect(restore.stderrText.contains("iptables-nft-v4.rules: SHA-256 is"))
            #expect(try await state(ns) == before)
        }
    }

    @Test("a bundle from another host is refused unless --force")
    func otherHost() async throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        try await TestNamespace.with { ns in
            try await ns.run(["iptables-nft-restore"], input: Self.foreignRules)
            #expect(try await ns.kpswitch(["snapshot", "--scope", "node", "--out", out.path]).succeeded)
            let manifestURL = try bundle(in: out).appendingPathComponent("manifest.json")
            var manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as? [String: Any])
            manifest["host"] = "some-other-node"
            try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)

            let refused = try await ns.kpswitch(["restore", try bundle(in: out).path])
            #expect(refused.status == .exited(1))
            #expect(refused.stderrText.contains("was taken on some-other-node"))
            let forced = try await ns.kpswitch(["restore", try bundle(in: out).path, "--force"])
            #expect(forced.succeeded, "\(forced.stderrText)")
        }
    }
}
