/// Pure encoders and decoders between IPVS values and generic-netlink attribute payloads (everything after
/// the genl header). The handle moves the bytes; these functions give them meaning.
enum IPVSCodec {
    typealias Service = IPVSKernel.ServiceAttribute
    typealias Dest = IPVSKernel.DestAttribute

    // MARK: Encoding

    /// `IPVS_CMD_ATTR_SERVICE` holding only what identifies the service (GET_DEST, DEL_SERVICE).
    static func serviceKeyPayload(_ key: IPVSService.Key) -> [UInt8] {
        var writer = NetlinkAttributeWriter()
        writer.nest(IPVSKernel.CommandAttribute.service) { putKey(key, into: &$0) }
        return writer.bytes
    }

    /// `IPVS_CMD_ATTR_SERVICE` with every settable field (NEW_SERVICE, SET_SERVICE), in libipvs's order.
    static func servicePayload(_ service: IPVSService) -> [UInt8] {
        var writer = NetlinkAttributeWriter()
        writer.nest(IPVSKernel.CommandAttribute.service) { attributes in
            putKey(service.key, into: &attributes)
            attributes.putString(Service.schedName, service.scheduler)
            if let engine = service.persistenceEngine {
                attributes.putString(Service.peName, engine)
            }
            // struct ip_vs_flags { flags; mask }: a full mask replaces every flag. HASHED is the kernel's own
            // bookkeeping; sending it makes ip_vs_svc_hash() refuse to hash the new service.
            let flags = service.flags.subtracting(.hashed).rawValue
            var pair: [UInt8] = []
            withUnsafeBytes(of: flags) { pair.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32.max) { pair.append(contentsOf: $0) }
            attributes.put(Service.flags, pair)
            attributes.putU32(Service.timeout, service.persistenceTimeout)
            attributes.putU32(Service.netmask, netmaskWire(service.netmask, family: service.key.family))
        }
        return writer.bytes
    }

    /// The service key plus `IPVS_CMD_ATTR_DEST`; `full` adds the settable fields (NEW_DEST, SET_DEST).
    static func destinationPayload(_ destination: IPVSDestination, of key: IPVSService.Key, full: Bool) -> [UInt8] {
        var writer = NetlinkAttributeWriter()
        writer.nest(IPVSKernel.CommandAttribute.service) { putKey(key, into: &$0) }
        writer.nest(IPVSKernel.CommandAttribute.dest) { attributes in
            attributes.putU16(Dest.addrFamily, destination.address.family.rawValue)
            attributes.put(Dest.addr, destination.address.wireBytes)
            attributes.putBE16(Dest.port, destination.port)
            guard full else { return }
            attributes.putU32(Dest.fwdMethod, destination.forwarding.rawValue)
            attributes.putU32(Dest.weight, UInt32(bitPattern: destination.weight))
            attributes.putU8(Dest.tunType, destination.tunnel.kind.rawValue)
            attributes.putBE16(Dest.tunPort, destination.tunnel.port)
            attributes.putU16(Dest.tunFlags, destination.tunnel.flags.rawValue)
            attributes.putU32(Dest.upperThreshold, destination.upperThreshold)
            attributes.putU32(Dest.lowerThreshold, destination.lowerThreshold)
        }
        return writer.bytes
    }

    private static func putKey(_ key: IPVSService.Key, into attributes: inout NetlinkAttributeWriter) {
        attributes.putU16(Service.af, key.family.rawValue)
        switch key {
        case .endpoint(let proto, let address, let port):
            attributes.putU16(Service.protocol, proto.rawValue)
            attributes.put(Service.addr, address.wireBytes)
            attributes.putBE16(Service.port, port)
        case .firewallMark(let mark, _):
            attributes.putU32(Service.fwmark, mark)
        }
    }

    // The IPv4 mask travels as its 4 network-order bytes, which read as a host u32 on the wire.
    private static func netmaskWire(_ netmask: UInt32, family: IPVSAddressFamily) -> UInt32 {
        family == .ipv4 ? netmask.bigEndian : netmask
    }

    // MARK: Decoding

    /// A service message of a GET_SERVICE dump (cmd NEW_SERVICE).
    static func decodeService(_ payload: [UInt8]) throws(MalformedAttributes) -> IPVSService {
        let top = try NetlinkAttributes(bytes: payload, maxType: IPVSKernel.CommandAttribute.max)
        guard let attributes = try top.nested(IPVSKernel.CommandAttribute.service, maxType: Service.max) else {
            throw MalformedAttributes("no IPVS_CMD_ATTR_SERVICE in a service message")
        }
        let family = try decodeFamily(attributes.u16(Service.af), what: "service")
        let key: IPVSService.Key
        if let mark = try attributes.u32(Service.fwmark), mark != 0 {
            key = .firewallMark(mark, family)
        } else {
            guard let proto = try attributes.u16(Service.protocol), let address = attributes.raw(Service.addr),
                let port = try attributes.be16(Service.port)
            else {
                throw MalformedAttributes("service has neither a firewall mark nor protocol, address and port")
            }
            key = .endpoint(IPVSProtocol(rawValue: proto), try decodeAddress(address, family: family), port: port)
        }
        guard let scheduler = try attributes.string(Service.schedName, maxLength: IPVSKernel.nameMaxLength) else {
            throw MalformedAttributes("service \(key) has no scheduler name")
        }
        guard let flagPair = attributes.raw(Service.flags), flagPair.count == 8 else {
            throw MalformedAttributes("service \(key) has no 8-byte flags attribute")
        }
        let flags = readU32(flagPair, at: 0) & readU32(flagPair, at: 4)
        guard let timeout = try attributes.u32(Service.timeout), let rawMask = try attributes.u32(Service.netmask) else {
            throw MalformedAttributes("service \(key) lacks its persistence timeout or netmask")
        }
        let engine = try attributes.string(Service.peName, maxLength: IPVSKernel.nameMaxLength)
        return IPVSService(
            key: key, scheduler: scheduler,
            flags: IPVSService.Flags(rawValue: flags).subtracting(.hashed),
            persistenceTimeout: timeout,
            netmask: family == .ipv4 ? UInt32(bigEndian: rawMask) : rawMask,
            persistenceEngine: engine?.isEmpty == false ? engine : nil,
            stats: try decodeStats(attributes, stats: Service.stats, stats64: Service.stats64))
    }

    /// A destination message of a GET_DEST dump (cmd NEW_DEST). Kernels before 3.18 send no address family:
    /// the service's applies.
    static func decodeDestination(
        _ payload: [UInt8], serviceFamily: IPVSAddressFamily
    ) throws(MalformedAttributes) -> IPVSDestination {
        let top = try NetlinkAttributes(bytes: payload, maxType: IPVSKernel.CommandAttribute.max)
        guard let attributes = try top.nested(IPVSKernel.CommandAttribute.dest, maxType: Dest.max) else {
            throw MalformedAttributes("no IPVS_CMD_ATTR_DEST in a destination message")
        }
        let family = try attributes.u16(Dest.addrFamily).map { raw throws(MalformedAttributes) in
            try decodeFamily(raw, what: "destination")
        } ?? serviceFamily
        guard let address = attributes.raw(Dest.addr), let port = try attributes.be16(Dest.port),
            let method = try attributes.u32(Dest.fwdMethod), let weight = try attributes.u32(Dest.weight)
        else {
            throw MalformedAttributes("destination lacks its address, port, forwarding method or weight")
        }
        guard let forwarding = IPVSForwarding(rawValue: method & IPVSKernel.connectionForwardMask) else {
            throw MalformedAttributes("destination has unknown forwarding method \(method & IPVSKernel.connectionForwardMask)")
        }
        var tunnel = IPVSTunnel()
        if let kind = try attributes.u8(Dest.tunType) {
            guard let known = IPVSTunnel.Kind(rawValue: kind) else {
                throw MalformedAttributes("destination has unknown tunnel type \(kind)")
            }
            tunnel.kind = known
        }
        tunnel.port = try attributes.be16(Dest.tunPort) ?? 0
        tunnel.flags = IPVSTunnel.Flags(rawValue: try attributes.u16(Dest.tunFlags) ?? 0)
        return IPVSDestination(
            address: try decodeAddress(address, family: family), port: port, forwarding: forwarding,
            weight: Int32(bitPattern: weight),
            upperThreshold: try attributes.u32(Dest.upperThreshold) ?? 0,
            lowerThreshold: try attributes.u32(Dest.lowerThreshold) ?? 0,
            tunnel: tunnel,
            activeConnections: try attributes.u32(Dest.activeConns) ?? 0,
            inactiveConnections: try attributes.u32(Dest.inactiveConns) ?? 0,
            persistentConnections: try attributes.u32(Dest.persistConns) ?? 0,
            stats: try decodeStats(attributes, stats: Dest.stats, stats64: Dest.stats64))
    }

    /// The GET_INFO reply (cmd SET_INFO).
    static func decodeInfo(_ payload: [UInt8]) throws(MalformedAttributes) -> IPVSInfo {
        let attributes = try NetlinkAttributes(bytes: payload, maxType: IPVSKernel.InfoAttribute.max)
        guard let version = try attributes.u32(IPVSKernel.InfoAttribute.version),
            let size = try attributes.u32(IPVSKernel.InfoAttribute.connectionTableSize)
        else { throw MalformedAttributes("info reply lacks the version or the connection table size") }
        return IPVSInfo(version: version, connectionTableSize: size)
    }

    /// The GET_CONFIG reply (cmd SET_CONFIG).
    static func decodeTimeouts(_ payload: [UInt8]) throws(MalformedAttributes) -> IPVSTimeouts {
        let attributes = try NetlinkAttributes(bytes: payload, maxType: IPVSKernel.CommandAttribute.max)
        guard let tcp = try attributes.u32(IPVSKernel.CommandAttribute.timeoutTCP),
            let fin = try attributes.u32(IPVSKernel.CommandAttribute.timeoutTCPFin),
            let udp = try attributes.u32(IPVSKernel.CommandAttribute.timeoutUDP)
        else { throw MalformedAttributes("config reply lacks a TCP, TCP FIN or UDP timeout") }
        return IPVSTimeouts(tcp: tcp, tcpFin: fin, udp: udp)
    }

    private static func decodeFamily(_ raw: UInt16?, what: String) throws(MalformedAttributes) -> IPVSAddressFamily {
        guard let raw else { throw MalformedAttributes("\(what) has no address family") }
        guard let family = IPVSAddressFamily(rawValue: raw) else {
            throw MalformedAttributes("\(what) has unknown address family \(raw)")
        }
        return family
    }

    private static func decodeAddress(
        _ bytes: ArraySlice<UInt8>, family: IPVSAddressFamily
    ) throws(MalformedAttributes) -> IPVSAddress {
        let needed = family == .ipv4 ? 4 : IPVSKernel.addressLength
        guard bytes.count >= needed, bytes.count <= IPVSKernel.addressLength else {
            throw MalformedAttributes("address attribute has \(bytes.count) bytes for \(family)")
        }
        return IPVSAddress(family: family, wireBytes: bytes)
    }

    // STATS64 carries every counter as u64; the older STATS has u32 counters and u64 byte counts.
    private static func decodeStats(
        _ attributes: NetlinkAttributes, stats: UInt16, stats64: UInt16
    ) throws(MalformedAttributes) -> IPVSStats {
        typealias S = IPVSKernel.StatsAttribute
        var result = IPVSStats()
        if let wide = try attributes.nested(stats64, maxType: S.max) {
            func get(_ type: UInt16) throws(MalformedAttributes) -> UInt64 { try wide.u64(type) ?? 0 }
            result.connections = try get(S.conns)
            result.inPackets = try get(S.inPackets)
            result.outPackets = try get(S.outPackets)
            result.inBytes = try get(S.inBytes)
            result.outBytes = try get(S.outBytes)
            result.connectionsPerSecond = try get(S.cps)
            result.inPacketsPerSecond = try get(S.inPPS)
            result.outPacketsPerSecond = try get(S.outPPS)
            result.inBytesPerSecond = try get(S.inBPS)
            result.outBytesPerSecond = try get(S.outBPS)
        } else if let narrow = try attributes.nested(stats, maxType: S.max) {
            func get(_ type: UInt16) throws(MalformedAttributes) -> UInt64 { UInt64(try narrow.u32(type) ?? 0) }
            result.connections = try get(S.conns)
            result.inPackets = try get(S.inPackets)
            result.outPackets = try get(S.outPackets)
            result.inBytes = try narrow.u64(S.inBytes) ?? 0
            result.outBytes = try narrow.u64(S.outBytes) ?? 0
            result.connectionsPerSecond = try get(S.cps)
            result.inPacketsPerSecond = try get(S.inPPS)
            result.outPacketsPerSecond = try get(S.outPPS)
            result.inBytesPerSecond = try get(S.inBPS)
            result.outBytesPerSecond = try get(S.outBPS)
        }
        return result
    }

    private static func readU32(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        withUnsafeMutableBytes(of: &value) { destination in
            for index in 0..<4 { destination[index] = bytes[bytes.startIndex + offset + index] }
        }
        return value
    }
}
