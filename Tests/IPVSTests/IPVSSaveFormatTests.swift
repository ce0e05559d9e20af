import Foundation
import Testing
@testable import IPVS

@Suite struct IPVSSaveFormatTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/ipvsadm-save-sample.txt")

    func address(_ text: String) throws -> IPVSAddress { try #require(IPVSAddress(text)) }

    @Test("the captured ipvsadm -S -n sample parses and renders back byte for byte")
    func capturedSample() throws {
        let text = try String(contentsOf: Self.fixture, encoding: .utf8)
        let table = try IPVSSaveFormat.parse(text)
        #expect(table.entries.count == 1)
        let entry = try #require(table.entries.first)
        #expect(entry.service.key == .endpoint(.tcp, try address("9.111.255.240"), port: 80))
        #expect(entry.service.scheduler == "rr")
        #expect(entry.destinations.map(\.forwarding) == [.masquerade, .masquerade])
        #expect(entry.destinations.map(\.weight) == [1, 1])
        #expect(IPVSSaveFormat.render(table) == text)
    }

    @Test("the shapes derived from ipvsadm's source (reference §8) round-trip", arguments: [
        "-A -t 10.96.0.1:443 -s rr -p 10800\n",
        "-A -f 100 -s rr\n-a -f 100 -r 10.0.0.2:0 -g -w 1\n",
        "-A -u [fd00::a]:53 -s rr\n",
        "-A -f 7 -6 -s wlc -p 600 -M 64\n-a -f 7 -6 -r [2001:db8::7]:0 -i -w 2 --tun-type ipip\n",
        "-A --sctp-service 10.0.0.3:3868 -s sh -b sh-fallback,sh-port\n",
        "-A -t 10.0.0.4:80 -s mh -b mh-port\n",
        "-A -t 10.0.0.5:80 -s wrr -o -b flag-1,flag-3\n",
        "-A -u 10.0.0.6:5060 -s rr -p 300 -M 255.255.255.0 --pe sip\n",
        "-A -t 10.0.0.7:80 -s lc\n-a -t 10.0.0.7:80 -r 10.1.0.1:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum\n"
            + "-a -t 10.0.0.7:80 -r 10.1.0.2:80 -i -w 1 --tun-type gre --tun-remcsum\n"
            + "-a -t 10.0.0.7:80 -r 10.1.0.3:8080 -m -w 0\n",
    ])
    func sourceShapes(text: String) throws {
        #expect(IPVSSaveFormat.render(try IPVSSaveFormat.parse(text)) == text)
    }

    @Test("rendering sorts services and destinations by a total order, fwmark services last")
    func renderOrder() throws {
        let web = IPVSService.Key.endpoint(.tcp, try address("192.168.0.1"), port: 80)
        let dns = IPVSService.Key.endpoint(.udp, try address("10.0.0.1"), port: 53)
        let table = IPVSTable(entries: [
            .init(service: IPVSService(key: .firewallMark(5, .ipv4), scheduler: "rr"), destinations: []),
            .init(service: IPVSService(key: web, scheduler: "rr"), destinations: [
                IPVSDestination(address: try address("10.0.0.9"), port: 80),
                IPVSDestination(address: try address("10.0.0.10"), port: 80, forwarding: .directRoute, weight: 3),
            ]),
            .init(service: IPVSService(key: dns, scheduler: "rr"), destinations: []),
        ])
        #expect(IPVSSaveFormat.render(table) == """
            -A -t 192.168.0.1:80 -s rr
            -a -t 192.168.0.1:80 -r 10.0.0.9:80 -m -w 1
            -a -t 192.168.0.1:80 -r 10.0.0.10:80 -g -w 3
            -A -u 10.0.0.1:53 -s rr
            -A -f 5 -s rr

            """)
    }

    @Test("thresholds are written only on request, in a form ipvsadm -R accepts, and read back")
    func thresholds() throws {
        let text = "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1 -x 100 -y 10\n"
        let table = try IPVSSaveFormat.parse(text)
        #expect(table.entries[0].destinations[0].upperThreshold == 100)
        #expect(IPVSSaveFormat.render(table, includeThresholds: true) == text)
        #expect(IPVSSaveFormat.render(table) == "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1\n")
    }

    @Test("restore text: ipvsadm's defaults, long options, a leading ipvsadm token, comments and blank lines")
    func restoreDefaults() throws {
        let rules = try IPVSSaveFormat.parseRules("""
            # saved by hand
            ipvsadm -A -t 10.0.0.1:80
            --add-server --tcp-service=10.0.0.1:80 --real-server 10.0.0.2

            -E -t 10.0.0.1:80 -s sh -p
            -e -t 10.0.0.1:80 -r 10.0.0.2 -m -w 4
            -d -t 10.0.0.1:80 -r 10.0.0.2:80
            -D -t 10.0.0.1:80
            """)
        let key = IPVSService.Key.endpoint(.tcp, try address("10.0.0.1"), port: 80)
        let server = try address("10.0.0.2")
        #expect(rules == [
            .addService(IPVSService(key: key, scheduler: "wlc")),
            .addDestination(IPVSDestination(address: server, port: 80, forwarding: .directRoute), service: key),
            .editService(IPVSService(key: key, scheduler: "sh", flags: .persistent, persistenceTimeout: 300)),
            .editDestination(IPVSDestination(address: server, port: 80, forwarding: .masquerade, weight: 4), service: key),
            .deleteDestination(IPVSDestination(address: server, port: 80, forwarding: .directRoute), service: key),
            .deleteService(key),
        ])
    }

    @Test("an IPv4 netmask may be a prefix length; an IPv6 one must be 1 to 128")
    func netmasks() throws {
        let rules = try IPVSSaveFormat.parseRules("-A -t 10.0.0.1:80 -s rr -p 60 -M 16\n")
        guard case .addService(let service) = rules.first else { Issue.record("not a service"); return }
        #expect(service.netmask == 0xffff_0000)
        #expect(throws: IPVSError.invalidRule(line: 1, reason: "IPv6 netmask \"129\" is not a prefix length from 1 to 128")) {
            try IPVSSaveFormat.parseRules("-A -u [fd00::1]:53 -s rr -p 60 -M 129")
        }
    }

    @Test("bad lines are errors naming the line and the problem", arguments: [
        ("-A -t 10.0.0.1:80 -s rr\n-C\n", 2, "-C (clear every virtual service) is refused: delete the services you mean one by one"),
        ("-A -t web.example:80 -s rr", 1, "\"web.example\" is not a numeric IPv4 or IPv6 address (host names are not resolved)"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1", 1, "destination for TCP 10.0.0.1:80, which no earlier -A line adds"),
        ("-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.1:80 -s wlc", 2, "service TCP 10.0.0.1:80 is added twice"),
        ("-A -t 10.0.0.1:http -s rr", 1, "port \"http\" is not a number up to 65535"),
        ("-A -f 0 -s rr", 1, "firewall mark \"0\" is not an integer above zero"),
        ("-A -t 10.0.0.1:80 -s rr --bogus", 1, "unknown or unsupported option \"--bogus\""),
        ("-A -t 10.0.0.1:80 -s", 1, "-s needs a value"),
        ("-s rr", 1, "no command (-A, -E, -D, -a, -e or -d)"),
        ("-A -s rr", 1, "no virtual service (-t, -u, --sctp-service or -f)"),
        ("-A -t [fd00::1:80 -s rr", 1, "\"[fd00::1:80\" lacks its closing ]"),
        ("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2 -w 70000", 2, "weight 70000 is above 65535"),
        ("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gue", 2, "--tun-type gue needs --tun-port"),
        ("-D -t 10.0.0.1:80", 1, "only -A and -a lines belong in saved rules"),
    ])
    func badLines(text: String, line: Int, reason: String) {
        #expect(throws: IPVSError.invalidRule(line: line, reason: reason)) { try IPVSSaveFormat.parse(text) }
    }
}

@Suite struct IPVSAddressTests {
    @Test("addresses print as inet_ntop does and order numerically", arguments: [
        ("10.0.0.1", "10.0.0.1"), ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("fd00:0:0:0:1:0:0:0", "fd00::1:0:0:0"),
    ])
    func printing(input: String, printed: String) throws {
        #expect(try #require(IPVSAddress(input)).description == printed)
    }

    @Test("names, CIDRs and garbage are not addresses", arguments: ["web.example", "10.0.0.1/32", "", "1.2.3", "::g"])
    func rejects(input: String) {
        #expect(IPVSAddress(input) == nil)
    }

    @Test("IPv4 orders by value, not by the wrapping subtraction ipvsadm sorts with")
    func ordering() throws {
        let low = try #require(IPVSAddress("10.0.0.1"))
        let high = try #require(IPVSAddress("192.168.0.1"))
        #expect(low < high)
        let serviceRange = try #require(IPVSAddress("10.96.0.1"))
        let privateRange = try #require(IPVSAddress("172.16.0.1"))
        #expect(serviceRange < privateRange)
    }
}
