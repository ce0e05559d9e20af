import Testing
@testable import IPVS

@Suite struct IPVSCodecTests {
    typealias K = KernelBytes

    @Test("a dumped IPv4 TCP service decodes with its scheduler, flags without HASHED, and 64-bit stats")
    func tcpService() throws {
        let payload = K.endpointService(
            address: [10, 96, 0, 1], port: 443, flags: 0x2 | 0x1, timeout: 10800, netmask: [255, 255, 255, 0])
        let service = try IPVSCodec.decodeService(payload)
        #expect(service.key == .endpoint(.tcp, try #require(IPVSAddress("10.96.0.1")), port: 443))
        #expect(service.scheduler == "rr")
        #expect(service.flags == .persistent)
        #expect(service.persistenceTimeout == 10800)
        #expect(service.netmask == 0xffff_ff00)
        #expect(service.persistenceEngine == nil)
        #expect(service.stats.connections == 3)
        #expect(service.stats.inBytes == 1000)
        #expect(service.stats.outBytes == 900)
    }

    @Test("an IPv6 UDP service with a persistence engine; the IPv6 netmask is a host-order prefix length")
    func ipv6Service() throws {
        let address: [UInt8] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a]
        let payload = K.endpointService(
            family: 10, protocol: 17, address: address, port: 53, flags: 0x3, timeout: 300,
            netmask: K.u32(64), peName: "sip")
        let service = try IPVSCodec.decodeService(payload)
        #expect(service.key == .endpoint(.udp, try #require(IPVSAddress("fd00::a")), port: 53))
        #expect(service.netmask == 64)
        #expect(service.persistenceEngine == "sip")
    }

    @Test("a firewall-mark service has no protocol, address or port")
    func markService() throws {
        let service = try IPVSCodec.decodeService(K.markService(mark: 100, family: 10, netmask: K.u32(128)))
        #expect(service.key == .firewallMark(100, .ipv6))
        #expect(service.scheduler == "wlc")
        #expect(service.flags == .persistent)
        #expect(service.netmask == 128)
    }

    @Test("32-bit STATS are used when STATS64 is absent (kernels before 4.x)")
    func statsFallback() throws {
        let payload = K.nested(1, [
            K.attribute(1, K.u16(2)), K.attribute(5, K.u32(7)), K.attribute(6, K.string("rr")),
            K.attribute(7, K.u32(0x2) + K.u32(0xffff_ffff)), K.attribute(8, K.u32(0)),
            K.attribute(9, [255, 255, 255, 255]), K.stats32(10, connections: 42, inBytes: 1 << 33),
        ])
        let service = try IPVSCodec.decodeService(payload)
        #expect(service.stats.connections == 42)
        #expect(service.stats.inBytes == 1 << 33)
    }

    @Test("a destination decodes its forwarding, weight, thresholds, counters, stats and tunnel fields")
    func destination() throws {
        let payload = K.destination(
            address: [192, 168, 0, 1], port: 6443, forwarding: 2, weight: 5, tunnel: (1, 6080, 0x1))
        let destination = try IPVSCodec.decodeDestination(payload, serviceFamily: .ipv4)
        #expect(destination.address == IPVSAddress("192.168.0.1"))
        #expect(destination.port == 6443)
        #expect(destination.forwarding == .tunnel)
        #expect(destination.weight == 5)
        #expect(destination.upperThreshold == 100)
        #expect(destination.lowerThreshold == 10)
        #expect(destination.activeConnections == 4)
        #expect(destination.inactiveConnections == 2)
        #expect(destination.persistentConnections == 1)
        #expect(destination.stats.connections == 9)
        #expect(destination.tunnel == IPVSTunnel(kind: .gue, port: 6080, flags: .checksum))
    }

    @Test("without ADDR_FAMILY (kernels before 3.18) the service's family applies; a full 32-bit weight survives")
    func destinationWithoutFamily() throws {
        let address: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2]
        let payload = K.destination(family: nil, address: address, port: 80, weight: 70000, tunnel: nil)
        let destination = try IPVSCodec.decodeDestination(payload, serviceFamily: .ipv6)
        #expect(destination.address == IPVSAddress("2001:db8::2"))
        #expect(destination.weight == 70000)
        #expect(destination.tunnel == IPVSTunnel())
    }

    @Test("unknown attributes inside a service or destination are ignored")
    func unknownAttributes() throws {
        let service = try IPVSCodec.decodeService(
            K.endpointService(address: [10, 0, 0, 1], port: 80, extra: [K.attribute(13, K.u32(1)), K.attribute(99, [])]))
        #expect(service.scheduler == "rr")
        let destination = try IPVSCodec.decodeDestination(
            K.destination(address: [10, 0, 0, 2], port: 80, extra: [K.attribute(16, K.u32(1))]), serviceFamily: .ipv4)
        #expect(destination.port == 80)
    }

    @Test("semantic errors name the problem", arguments: [
        (K.nested(1, [K.attribute(1, K.u16(2)), K.attribute(6, K.string("rr"))]),
         "service has neither a firewall mark nor protocol, address and port"),
        (K.nested(1, [K.attribute(1, K.u16(7)), K.attribute(5, K.u32(1))]), "service has unknown address family 7"),
        (K.attribute(2, []), "no IPVS_CMD_ATTR_SERVICE in a service message"),
        (K.endpointService(address: [10, 0, 0, 1], port: 80, extra: [K.attribute(3, [1, 2])]),
         "address attribute has 2 bytes for ipv4"),
    ])
    func serviceErrors(payload: [UInt8], reason: String) {
        #expect(throws: MalformedAttributes(reason)) { try IPVSCodec.decodeService(payload) }
    }

    @Test("an unknown forwarding method or tunnel type is an error, not a guess")
    func destinationErrors() {
        #expect(throws: MalformedAttributes("destination has unknown forwarding method 6")) {
            try IPVSCodec.decodeDestination(K.destination(address: [1, 2, 3, 4], port: 1, forwarding: 6), serviceFamily: .ipv4)
        }
        #expect(throws: MalformedAttributes("destination has unknown tunnel type 9")) {
            try IPVSCodec.decodeDestination(
                K.destination(address: [1, 2, 3, 4], port: 1, tunnel: (9, 0, 0)), serviceFamily: .ipv4)
        }
    }

    @Test("no truncation or corruption of real messages traps: each decodes or throws")
    func truncatedAndCorrupted() {
        let samples = [
            K.endpointService(address: [10, 0, 0, 1], port: 80, peName: "sip"),
            K.markService(mark: 1, family: 2, netmask: [255, 255, 0, 0]),
            K.destination(address: [10, 0, 0, 2], port: 8080, tunnel: (2, 0, 3)),
        ]
        var generator = SplitMix64(seed: 0x1_2345)
        for sample in samples {
            for length in 0..<sample.count {
                _ = try? IPVSCodec.decodeService(Array(sample.prefix(length)))
                _ = try? IPVSCodec.decodeDestination(Array(sample.prefix(length)), serviceFamily: .ipv6)
            }
            for _ in 0..<2000 {
                var corrupted = sample
                for _ in 0...(generator.next() % 4) {
                    corrupted[Int(generator.next() % UInt64(corrupted.count))] = UInt8(truncatingIfNeeded: generator.next())
                }
                _ = try? IPVSCodec.decodeService(corrupted)
                _ = try? IPVSCodec.decodeDestination(corrupted, serviceFamily: .ipv4)
            }
        }
    }

    @Test("a service encodes as libipvs sends it: key, scheduler, PE, flags with a full mask, timeout, netmask")
    func encodeService() throws {
        let service = IPVSService(
            key: .endpoint(.tcp, try #require(IPVSAddress("10.0.0.1")), port: 80), scheduler: "sh",
            flags: [.persistent, .scheduler1, .hashed], persistenceTimeout: 60, netmask: 0xffff_ff00,
            persistenceEngine: "sip")
        let expected = K.nested(1, [
            K.attribute(1, K.u16(2)), K.attribute(2, K.u16(6)), K.attribute(3, K.inetAddress([10, 0, 0, 1])),
            K.attribute(4, K.be16(80)), K.attribute(6, K.string("sh")), K.attribute(11, K.string("sip")),
            K.attribute(7, K.u32(0x9) + K.u32(0xffff_ffff)), K.attribute(8, K.u32(60)),
            K.attribute(9, [255, 255, 255, 0]),
        ])
        #expect(IPVSCodec.servicePayload(service) == expected)
    }

    @Test("a destination encodes with the service key first; deletion sends only its address and port")
    func encodeDestination() throws {
        let key = IPVSService.Key.firewallMark(100, .ipv4)
        let destination = IPVSDestination(
            address: try #require(IPVSAddress("10.0.0.2")), port: 0, forwarding: .tunnel, weight: 3,
            upperThreshold: 50, lowerThreshold: 5, tunnel: IPVSTunnel(kind: .gue, port: 5555, flags: .remoteChecksum))
        let serviceKey = K.nested(1, [K.attribute(1, K.u16(2)), K.attribute(5, K.u32(100))])
        let identity = [K.attribute(11, K.u16(2)), K.attribute(1, K.inetAddress([10, 0, 0, 2])), K.attribute(2, K.be16(0))]
        #expect(IPVSCodec.destinationPayload(destination, of: key, full: true) == serviceKey + K.nested(2, identity + [
            K.attribute(3, K.u32(2)), K.attribute(4, K.u32(3)), K.attribute(13, K.u8(1)), K.attribute(14, K.be16(5555)),
            K.attribute(15, K.u16(2)), K.attribute(5, K.u32(50)), K.attribute(6, K.u32(5)),
        ]))
        #expect(IPVSCodec.destinationPayload(destination, of: key, full: false) == serviceKey + K.nested(2, identity))
    }

    @Test("what we encode for a service decodes back to it (plus the kernel's stats)")
    func roundTrip() throws {
        let service = IPVSService(
            key: .endpoint(.sctp, try #require(IPVSAddress("2001:db8::5")), port: 3868), scheduler: "mh",
            flags: [.persistent, .onePacket, .scheduler2], persistenceTimeout: 30, netmask: 96)
        // The kernel answers with the same attributes and appends stats; the codec reads them back equal.
        var payload = IPVSCodec.servicePayload(service)
        payload = K.nested(1, [Array(payload.dropFirst(4)), K.stats64(12, connections: 0, inBytes: 0)])
        #expect(try IPVSCodec.decodeService(payload) == service)
    }

    @Test("info and timeout replies decode")
    func infoAndTimeouts() throws {
        let info = try IPVSCodec.decodeInfo(K.attribute(1, K.u32(0x010201)) + K.attribute(2, K.u32(4096)))
        #expect(info == IPVSInfo(version: 0x010201, connectionTableSize: 4096))
        #expect(info.versionString == "1.2.1")
        let timeouts = try IPVSCodec.decodeTimeouts(K.attribute(4, K.u32(900)) + K.attribute(5, K.u32(120)) + K.attribute(6, K.u32(300)))
        #expect(timeouts == IPVSTimeouts(tcp: 900, tcpFin: 120, udp: 300))
        #expect(throws: MalformedAttributes.self) { try IPVSCodec.decodeInfo(K.attribute(1, K.u32(1))) }
    }
}

/// A small deterministic generator, so that a failing corruption case reproduces.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
