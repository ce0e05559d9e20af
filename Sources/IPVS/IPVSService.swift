/// A virtual service: what clients connect to (protocol, address and port, or a firewall mark) and how
/// IPVS schedules connections to its destinations.
public struct IPVSService: Hashable, Sendable {
    /// What identifies a virtual service in the kernel.
    public enum Key: Hashable, Sendable, Comparable, CustomStringConvertible {
        case endpoint(IPVSProtocol, IPVSAddress, port: UInt16)
        case firewallMark(UInt32, IPVSAddressFamily)

        public var family: IPVSAddressFamily {
            switch self {
            case .endpoint(_, let address, _): address.family
            case .firewallMark(_, let family): family
            }
        }

        /// As `ipvsadm -L -n` names it: `TCP 10.0.0.1:80`, `FWM 100`, `FWM 100 IPv6`.
        public var description: String {
            switch self {
            case .endpoint(let proto, let address, let port):
                "\(proto) \(IPVSService.hostPort(address, port))"
            case .firewallMark(let mark, let family):
                family == .ipv6 ? "FWM \(mark) IPv6" : "FWM \(mark)"
            }
        }

        // A total order (fwmark services last, then family, protocol, address, port), unlike ipvsadm's
        // wrapping comparator (reference §10), so rendered tables are stable.
        public static func < (lhs: Self, rhs: Self) -> Bool {
            switch (lhs, rhs) {
            case (.endpoint(let p1, let a1, let port1), .endpoint(let p2, let a2, let port2)):
                (a1.family, p1.rawValue, a1, port1) < (a2.family, p2.rawValue, a2, port2)
            case (.firewallMark(let m1, let f1), .firewallMark(let m2, let f2)):
                (m1, f1) < (m2, f2)
            case (.endpoint, .firewallMark): true
            case (.firewallMark, .endpoint): false
            }
        }
    }

    /// Service flags (`IP_VS_SVC_F_*`). The kernel-internal HASHED flag is never kept or sent.
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public static let persistent = Flags(rawValue: 0x1)
        public static let onePacket = Flags(rawValue: 0x4)
        public static let scheduler1 = Flags(rawValue: 0x8)   // sh-fallback, mh-fallback
        public static let scheduler2 = Flags(rawValue: 0x10)  // sh-port, mh-port
        public static let scheduler3 = Flags(rawValue: 0x20)
        static let hashed = Flags(rawValue: 0x2)
    }

    public var key: Key
    /// Scheduler name (`rr`, `wlc`, `sh`, ...).
    public var scheduler: String
    public var flags: Flags
    /// Persistence timeout in seconds; meaningful when `flags` contains `.persistent`.
    public var persistenceTimeout: UInt32
    /// IPv4: the persistence mask as an integer (`0xffffff00` is 255.255.255.0). IPv6: the prefix length.
    public var netmask: UInt32
    /// Persistence engine (`sip`), if any.
    public var persistenceEngine: String?
    /// Counters, zero for a service that was not read from the kernel.
    public var stats: IPVSStats

    public init(
        key: Key, scheduler: String, flags: Flags = [], persistenceTimeout: UInt32 = 0,
        netmask: UInt32? = nil, persistenceEngine: String? = nil, stats: IPVSStats = IPVSStats()
    ) {
        self.key = key
        self.scheduler = scheduler
        self.flags = flags
        self.persistenceTimeout = persistenceTimeout
        self.netmask = netmask ?? Self.fullNetmask(key.family)
        self.persistenceEngine = persistenceEngine
        self.stats = stats
    }

    /// The netmask meaning "each client address on its own": 255.255.255.255 or /128.
    public static func fullNetmask(_ family: IPVSAddressFamily) -> UInt32 {
        family == .ipv4 ? 0xffff_ffff : 128
    }

    static func hostPort(_ address: IPVSAddress, _ port: UInt16) -> String {
        address.family == .ipv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}

/// A transport protocol number of a virtual service.
public struct IPVSProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let tcp = IPVSProtocol(rawValue: 6)
    public static let udp = IPVSProtocol(rawValue: 17)
    public static let sctp = IPVSProtocol(rawValue: 132)

    public var description: String {
        switch self {
        case .tcp: "TCP"
        case .udp: "UDP"
        case .sctp: "SCTP"
        default: "protocol-\(rawValue)"
        }
    }
}
