// Builds byte buffers the way the kernel lays them out (x86-64, little-endian host), written independently of
// NetlinkAttributeWriter so that each checks the other.
enum KernelBytes {
    static func attribute(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        let length = 4 + payload.count
        var bytes = [UInt8(length & 0xff), UInt8(length >> 8), UInt8(type & 0xff), UInt8(type >> 8)] + payload
        while bytes.count % 4 != 0 { bytes.append(0) }
        return bytes
    }

    static func nested(_ type: UInt16, _ attributes: [[UInt8]]) -> [UInt8] {
        attribute(type, attributes.flatMap { $0 })
    }

    static func u8(_ value: UInt8) -> [UInt8] { [value] }
    static func u16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
    static func u32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xff) } }
    static func u64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8((value >> (8 * UInt64($0))) & 0xff) } }
    static func string(_ value: String) -> [UInt8] { Array(value.utf8) + [0] }

    /// `union nf_inet_addr`: 16 bytes, IPv4 in the first four.
    static func inetAddress(_ bytes: [UInt8]) -> [UInt8] { bytes + [UInt8](repeating: 0, count: 16 - bytes.count) }

    // The payloads below mirror ip_vs_genl_fill_service() and ip_vs_genl_fill_dest() of Linux 6.1.

    static func stats64(_ type: UInt16, connections: UInt64, inBytes: UInt64) -> [UInt8] {
        // nla_put_u64_64bit emits a PAD (11) attribute whenever the u64 would be misaligned.
        nested(type, [
            attribute(1, u64(connections)), attribute(11, []), attribute(2, u64(7)), attribute(3, u64(5)),
            attribute(4, u64(inBytes)), attribute(5, u64(900)), attribute(6, u64(0)), attribute(7, u64(0)),
            attribute(8, u64(0)), attribute(9, u64(0)), attribute(10, u64(0)),
        ])
    }

    static func stats32(_ type: UInt16, connections: UInt32, inBytes: UInt64) -> [UInt8] {
        nested(type, [
            attribute(1, u32(connections)), attribute(2, u32(7)), attribute(3, u32(5)), attribute(4, u64(inBytes)),
            attribute(5, u64(900)), attribute(6, u32(0)), attribute(7, u32(0)), attribute(8, u32(0)),
            attribute(9, u32(0)), attribute(10, u32(0)),
        ])
    }

    /// A dumped TCP/UDP/SCTP service message payload (after the genl header).
    static func endpointService(
        family: UInt16 = 2, protocol proto: UInt16 = 6, address: [UInt8], port: UInt16, scheduler: String = "rr",
        flags: UInt32 = 0x2, timeout: UInt32 = 0, netmask: [UInt8] = [0xff, 0xff, 0xff, 0xff], peName: String? = nil,
        extra: [[UInt8]] = []
    ) -> [UInt8] {
        var attributes = [
            attribute(1, u16(family)), attribute(2, u16(proto)), attribute(3, inetAddress(address)),
            attribute(4, be16(port)), attribute(6, string(scheduler)),
        ]
        if let peName { attributes.append(attribute(11, string(peName))) }
        attributes += [
            attribute(7, u32(flags) + u32(0xffff_ffff)), attribute(8, u32(timeout)), attribute(9, netmask),
            stats32(10, connections: 3, inBytes: 1000), stats64(12, connections: 3, inBytes: 1000),
        ]
        return nested(1, attributes + extra)
    }

    static func markService(mark: UInt32, family: UInt16, scheduler: String = "wlc", netmask: [UInt8]) -> [UInt8] {
        nested(1, [
            attribute(1, u16(family)), attribute(5, u32(mark)), attribute(6, string(scheduler)),
            attribute(7, u32(0x3) + u32(0xffff_ffff)), attribute(8, u32(600)), attribute(9, netmask),
            stats64(12, connections: 0, inBytes: 0),
        ])
    }

    /// A dumped destination message payload.
    static func destination(
        family: UInt16? = 2, address: [UInt8], port: UInt16, forwarding: UInt32 = 0, weight: UInt32 = 1,
        tunnel: (type: UInt8, port: UInt16, flags: UInt16)? = (0, 0, 0), extra: [[UInt8]] = []
    ) -> [UInt8] {
        var attributes = [
            attribute(1, inetAddress(address)), attribute(2, be16(port)), attribute(3, u32(forwarding)),
            attribute(4, u32(weight)), attribute(5, u32(100)), attribute(6, u32(10)), attribute(7, u32(4)),
            attribute(8, u32(2)), attribute(9, u32(1)), stats32(10, connections: 9, inBytes: 64),
        ]
        if let family { attributes.append(attribute(11, u16(family))) }
        attributes.append(stats64(12, connections: 9, inBytes: 64))
        if let tunnel {
            attributes += [attribute(13, u8(tunnel.type)), attribute(14, be16(tunnel.port)), attribute(15, u16(tunnel.flags))]
        }
        return nested(2, attributes + extra)
    }
}
