import Foundation
import Testing

/// Node preflight on this host's real kernel, inside throwaway network namespaces: the checks read the
/// netfilter state that the test itself put there.
@Suite("node preflight on the host", .enabled(if: NetworkNamespace.available, "needs root and iproute2"))
struct NodePreflightHostTests {
    struct Check {
        let status: String
        let findings: [[String: Any]]
        var messages: [String] { findings.compactMap { $0["message"] as? String } }
        var severities: [String] { findings.compactMap { $0["severity"] as? String } }
    }

    static func preflight(_ namespace: NetworkNamespace, _ arguments: [String]) throws -> (status: Int32, checks: [String: Check], json: [String: Any]) {
        let result = try namespace.kpswitch(["preflight", "--scope", "node", "-o", "json"] + arguments)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                                "stdout was not JSON: \(result.stdout) \(result.stderr)")
        var checks: [String: Check] = [:]
        for item in json["checks"] as? [[String: Any]] ?? [] {
            if let name = item["name"] as? String {
                checks[name] = Check(status: item["status"] as? String ?? "", findings: item["findings"] as? [[String: Any]] ?? [])
            }
        }
        return (result.status, checks, json)
    }

    /// The project's machines run a kernel without IPVS and without module loading.
    static var hostLacksIPVS: Bool {
        !FileManager.default.fileExists(atPath: "/proc/net/ip_vs") && !FileManager.default.fileExists(atPath: "/proc/modules")
    }

    @Test("a kernel without IPVS: IPVSKernelSupport is an ERROR naming ip_vs, and preflight exits 3",
          .enabled(if: hostLacksIPVS, "this host's kernel has IPVS or can load modules"))
    func ipvsAbsent() throws {
        let namespace = try NetworkNamespace()
        defer { namespace.remove() }
        let run = try Self.preflight(namespace, ["--to", "ipvs"])
        #expect(run.status == 3)
        let check = try #require(run.checks["IPVSKernelSupport"])
        #expect(check.status == "error")
        #expect(check.messages.contains { $0.hasPrefix("ip_vs is not built into kernel") })
        #expect(check.messages.contains { $0.hasPrefix("ip_vs_rr is not built into kernel") })
        #expect(run.json["blocking"] as? Bool == true)
        #expect(run.checks["NFTablesKernel"] == nil, "nftables checks ran for --to ipvs")
    }

    @Test("ignoring IPVSKernelSupport demotes its errors and preflight exits 0",
          .enabled(if: hostLacksIPVS, "this host's kernel has IPVS or can load modules"))
    func ignored() throws {
        let namespace = try NetworkNamespace()
        defer { namespace.remove() }
        let run = try Self.preflight(namespace, ["--to", "ipvs", "--ignore-preflight-errors=ipvskernelsupport"])
        #expect(run.status == 0)
        let check = try #require(run.checks["IPVSKernelSupport"])
        #expect(check.status == "warning")
        #expect(check.findings.allSatisfy { $0["severity"] as? String != "error" })
        #expect(check.findings.contains { $0["ignored"] as? Bool == true })
    }

    @Test("an unknown check name to ignore is a usage error listing the valid names")
    func unknownIgnored() throws {
        let namespace = try NetworkNamespace()
        defer { namespace.remove() }
        let result = try namespace.kpswitch(["preflight", "--scope", "node", "--to", "nftables", "--ignore-preflight-errors=NoSuchCheck"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("nosuchcheck") && result.stderr.contains("NFTablesUsable"))
    }

    @Test("nftables checks pass on this kernel, and the nf_tables probe leaves no table behind")
    func nftablesPass() throws {
        let namespace = try NetworkNamespace()
        defer { namespace.remove() }
        let run = try Self.preflight(namespace, ["--to", "nftables"])
        for name in ["NFTablesKernel", "NFTablesVersion", "NFTablesUsable"] {
            #expect(run.checks[name]?.status == "passed", "\(name): \(run.checks[name]?.messages ?? [])")
        }
        let nftVersion = try namespace.exec(["nft", "--version"])
        #expect(run.checks["NFTablesVersion"]?.messages.first.map { nftVersion.contains($0.replacingOccurrences(of: "nft ", with: "v")) } == true)
        #expect(!(try namespace.exec(["nft", "list", "tables"])).contains("kpswitch"))
        #expect(run.status == 0)
    }

    @Test("the iptables backend holding kube-proxy's chains is detected, and both backends warn")
    func iptablesBackend() throws {
        let namespace = try NetworkNamespace()
        defer { namespace.remove() }
        try namespace.exec(["iptables-nft-restore"], input: Self.kubeProxyRules)

        var run = try Self.preflight(namespace, ["--to", "nftables"])
        var check = try #require(run.checks["IPTablesBackend"])
        #expect(check.status == "passed")
        #expect(check.messages.contains("the nft backend holds tables (ipv4) with 5 kube-proxy chain(s)"))
        #expect(!check.messages.contains { $0.contains("legacy backend") })

        try namespace.exec(["iptables-legacy", "-t", "nat", "-N", "KUBE-SERVICES"])
        run = try Self.preflight(namespace, ["--to", "nftables"])
        check = try #require(run.checks["IPTablesBackend"])
        #expect(check.status == "warning")
        #expect(check.messages.contains("the legacy backend holds tables (ipv4) with 1 kube-proxy chain(s)"))
        #expect(check.messages.contains { $0.hasPrefix("KUBE-* chains exist in both") })
    }

    @Test("leftovers: iptables state stays when switching to IPVS, kube-proxy removes it for nftables")
    func leftovers() throws {
        let namespace = try NetworkNamespace()
        defer { namespace.remove() }
        try namespace.exec(["iptables-nft-restore"], input: Self.kubeProxyRules)
        try namespace.exec(["nft", "add", "table", "ip", "kube-proxy"])

        let toIPVS = try #require(try Self.preflight(namespace, ["--to", "ipvs"]).checks["ModeLeftovers"])
        #expect(toIPVS.status == "warning")
        #expect(toIPVS.messages.contains("iptables mode state (3 KUBE-SVC/KUBE-SEP chains) stays after switching to ipvs; kube-proxy does not clean it"))
        #expect(toIPVS.messages.contains("nftables mode state (nft tables ip kube-proxy) is removed by kube-proxy itself when it starts in ipvs mode"))

        let toNFT = try #require(try Self.preflight(namespace, ["--to", "nftables"]).checks["ModeLeftovers"])
        #expect(toNFT.status == "passed")
        #expect(toNFT.messages.contains("iptables mode state (3 KUBE-SVC/KUBE-SEP chains) is removed by kube-proxy itself when it starts in nftables mode"))
    }

    @Test("IPVS leftovers: kube-ipvs0 and KUBE-* ipsets stay when switching back to iptables")
    func ipvsLeftovers() throws {
        let namespace = try NetworkNamespace()
        defer { namespace.remove() }
        // kube-proxy makes kube-ipvs0 a dummy link; this host's kernel has no dummy driver, and the check
        // looks only at the name, so a bridge stands in.
        try namespace.exec(["ip", "link", "add", "kube-ipvs0", "type", "bridge"])
        try namespace.exec(["ipset", "create", "KUBE-CLUSTER-IP", "hash:ip,port"])
        defer { _ = try? namespace.exec(["ipset", "destroy", "KUBE-CLUSTER-IP"]) }
        let check = try #require(try Self.preflight(namespace, ["--to", "iptables"]).checks["ModeLeftovers"])
        #expect(check.status == "warning")
        #expect(check.messages.contains("ipvs mode state (interface kube-ipvs0) stays after switching to iptables; kube-proxy does not clean it"))
        #expect(check.messages.contains("ipvs mode state (1 KUBE-* ipsets) stays after switching to iptables; kube-proxy does not clean it"))
    }

    @Test("ProxySysctls records the namespace's own values, such as the ARP pair strictARP sets")
    func sysctls() throws {
        let namespace = try NetworkNamespace()
        defer { namespace.remove() }
        try namespace.exec(["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"])
        let check = try #require(try Self.preflight(namespace, ["--to", "iptables"]).checks["ProxySysctls"])
        #expect(check.status == "passed")
        let values = try #require(check.messages.first)
        #expect(values.contains("net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2"))
    }

    /// A minimal kube-proxy iptables-mode nat table: one service with two endpoints.
    static let kubeProxyRules = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :KUBE-SERVICES - [0:0]
        :KUBE-MARK-MASQ - [0:0]
        :KUBE-SVC-NPX46M4PTMTKRN6Y - [0:0]
        :KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]
        :KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]
        :KUBE-KUBELET-CANARY - [0:0]
        -A PREROUTING -j KUBE-SERVICES
        -A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y
        -A KUBE-SVC-NPX46M4PTMTKRN6Y -m statistic --mode random --probability 0.5 -j KUBE-SEP-AAAAAAAAAAAAAAAA
        -A KUBE-SVC-NPX46M4PTMTKRN6Y -j KUBE-SEP-BBBBBBBBBBBBBBBB
        -A KUBE-SEP-AAAAAAAAAAAAAAAA -p tcp -m tcp -j DNAT --to-destination 192.0.2.10:6443
        -A KUBE-SEP-BBBBBBBBBBBBBBBB -p tcp -m tcp -j DNAT --to-destination 192.0.2.11:6443
        COMMIT

        """
}

@Suite("node preflight without root", .enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser"), "needs root to drop to nobody"))
struct NodePreflightUnprivilegedTests {
    @Test("checks that need root are skipped with the reason, never passed")
    func skippedNotPassed() throws {
        // The build folder may sit in a directory only root can enter (a mktemp clone): nobody gets a copy.
        let directory = URL(fileURLWithPath: "/tmp/kpswitch-nobody-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(at: directory) }
        let binary = directory.appendingPathComponent("kpswitch")
        try FileManager.default.copyItem(at: KPSwitchBinary.url, to: binary)
        let result = try KPSwitchBinary.run(
            ["preflight", "--scope", "node", "--to", "nftables", "-o", "json"],
            wrapper: ["/usr/sbin/runuser", "-u", "nobody", "--"], binary: binary)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
        let checks = json["checks"] as? [[String: Any]] ?? []
        for name in ["NFTablesUsable", "IPTablesBackend", "ModeLeftovers"] {
            let check = try #require(checks.first { $0["name"] as? String == name })
            #expect(check["status"] as? String == "skipped", "\(name)")
            let message = (check["findings"] as? [[String: Any]])?.first?["message"] as? String
            #expect(message == "needs root (CAP_NET_ADMIN) on the node; run it with sudo")
        }
        #expect(checks.first { $0["name"] as? String == "NFTablesKernel" }?["status"] as? String == "passed")
    }
}
