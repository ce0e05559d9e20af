import KubeAPI
import Testing

@testable import KPSwitch

/// How a migrated node's programmed rules are judged against the Services (issue 15's verification).
@Suite("programmed service ports")
struct ProgrammedServicePortsTests {
    /// A complete agent log whose sections hold `contents` (others empty, `ip_vs` skipped unless given).
    static func agent(_ contents: [String: String]) throws -> AgentNode {
        let nonce = "n0nce"
        var log = "kpswitch-agent begin \(NodeAgentScript.version) \(nonce)\n"
        var total = 0
        for name in NodeAgentScript.sections {
            var text = contents[name] ?? ["hostname": "node-1\n", "osrelease": "6.1.0-28-amd64\n"][name] ?? ""
            var status = "ok"
            if name == "ip_vs" && contents[name] == nil || name == "snapshot" {
                status = "skipped"
                text = "not here\n"
            }
            log += "kpswitch-agent section \(name) \(status) 0 \(text.count { $0 == "\n" }) \(text.utf8.count)\n\(text)\n"
            total += text.utf8.count
        }
        log += "kpswitch-agent end \(nonce) \(NodeAgentScript.sections.count) \(total)\n"
        return try AgentNode(log: NodeAgentLog(parsing: log, nonce: nonce))
    }

    /// `count` Services of one TCP port 80 each, at 10.96.1.1 and on.
    static func ports(_ count: Int) -> ClusterIPPorts {
        var ports = ClusterIPPorts()
        for index in 1...count {
            let ip: JSONValue = .string("10.96.1.\(index)")
            ports.add(Service(json: ["spec": ["clusterIP": ip, "clusterIPs": [ip], "ports": [["port": 80, "protocol": "TCP"]]]]))
        }
        return ports
    }

    @Test("iptables counts the backend holding more; a headless Service has no ClusterIP port")
    func iptablesCount() throws {
        let agent = try Self.agent(["service-ports": "iptables-nft-ipv4 36 2\niptables-nft-ipv6 0 0\niptables-legacy-ipv4 1 0\n"])
        #expect(try ProgrammedServicePorts.count(agent, mode: .iptables, expected: Self.ports(40)) == 38)
        var ports = Self.ports(2)
        ports.add(Service(json: ["spec": ["clusterIP": "None", "ports": [["port": 53]]]]))
        #expect(ports.count == 2)
    }

    @Test("up to 5% fewer passes; one more missing fails with the numbers")
    func threshold() throws {
        let expected = Self.ports(40)
        let enough = try Self.agent(["service-ports": "iptables-nft-ipv4 37 1\n"])
        #expect(ProgrammedServicePorts.failure(agent: enough, mode: .iptables, from: .ipvs, expected: expected) == nil)
        let short = try Self.agent(["service-ports": "iptables-nft-ipv4 36 1\n"])
        #expect(ProgrammedServicePorts.failure(agent: short, mode: .iptables, from: .ipvs, expected: expected)
            == "kube-proxy programs 37 of the 40 ClusterIP service ports the API lists in iptables mode (3 missing; at most 2 may be)")
    }

    @Test("IPVS counts only virtual servers at a Service's ClusterIP and port")
    func ipvsCount() throws {
        let table = "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
            + "TCP  0A600101:0050 rr\nTCP  0A600102:0050 rr\nTCP  0A600102:01BB rr\nTCP  C0000201:0050 rr\n"
        let agent = try Self.agent(["ip_vs": table])
        #expect(try ProgrammedServicePorts.count(agent, mode: .ipvs, expected: Self.ports(2)) == 2)
    }

    @Test("to nftables, iptables chains left fail the node; from nftables, the table left does; iptables↔ipvs are not judged")
    func leftovers() throws {
        let expected = Self.ports(1)
        let chains = "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC-ABC - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n"
        let stale = try Self.agent(["iptables-nft-ipv4": chains, "service-ports": "nft-ip 1 0\n"])
        #expect(ProgrammedServicePorts.failure(agent: stale, mode: .nftables, from: .iptables, expected: expected)
            == "kube-proxy in nftables mode cleans up iptables at start, yet the node still holds nft ipv4 nat/KUBE-SVC-ABC")
        let staleForIPVS = try Self.agent(["iptables-nft-ipv4": chains, "service-ports": "iptables-nft-ipv4 1 0\n"])
        #expect(ProgrammedServicePorts.failure(agent: staleForIPVS, mode: .iptables, from: .ipvs, expected: expected) == nil)
        let table = try Self.agent(["nft-tables": "table ip kube-proxy\ntable inet mine\n", "service-ports": "iptables-nft-ipv4 1 0\n"])
        #expect(ProgrammedServicePorts.failure(agent: table, mode: .iptables, from: .nftables, expected: expected)
            == "kube-proxy in iptables mode cleans up nftables at start, yet the node still holds nftables table ip kube-proxy")
    }

    @Test("a service-ports line that is not SOURCE COUNT COUNT refuses the whole log")
    func garbled() {
        #expect(throws: NodeAgentLogError.self) { try Self.agent(["service-ports": "iptables-nft-ipv4 many\n"]) }
    }
}
