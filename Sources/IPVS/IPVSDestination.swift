/// A real server behind a virtual service.
public struct IPVSDestination: Hashable, Sendable {
    public var address: IPVSAddress
    public var port: UInt16
    public var forwarding: IPVSForwarding
    public var weight: Int32
    /// Connection thresholds (`ipvsadm -x` / `-y`); 0 means none.
    public var upperThreshold: UInt32
    public var lowerThreshold: UInt32
    /// Encapsulation used when `forwarding` is `.tunnel`; the kernel reports it for every destination.
    public var tunnel: IPVSTunnel
    /// Connection counts and traffic counters, zero for a destination that was not read from the kernel.
    public var activeConnections: UInt32
    public var inactiveConnections: UInt32
    public var persistentConnections: UInt32
    public var stats: IPVSStats

    public init(
        address: IPVSAddress, port: UInt16, forwarding: IPVSForwarding = .masquerade, weight: Int32 = 1,
        upperThreshold: UInt32 = 0, lowerThreshold: UInt32 = 0, tunnel: IPVSTunnel = IPVSTunnel(),
        activeConnections: UInt32 = 0, inactiveConnections: UInt32 = 0, persistentConnections: UInt32 = 0,
        stats: IPVSStats = IPVSStats()
    ) {
        self.address = address
        self.port = port
        self.forwarding = forwarding
        self.weight = weight
        self.upperThreshold = upperThreshold
        self.lowerThreshold = lowerThreshold
        self.tunnel = tunnel
        self.activeConnections = activeConnections
        self.inactiveConnections = inactiveConnections
        self.persistentConnections = persistentConnections
        self.stats = stats
    }
}

/// How packets reach a destination (`IP_VS_CONN_F_*` & `IP_VS_CONN_F_FWD_MASK`).
public enum IPVSForwarding: UInt32, Hashable, Sendable {
    case masquerade = 0
    case localNode = 1
    case tunnel = 2
    case directRoute = 3
    case bypass = 4
}

/// Tunnel encapsulation of a destination (`IPVS_DEST_ATTR_TUN_*`).
public struct IPVSTunnel: Hashable, Sendable {
    public enum Kind: UInt8, Hashable, Sendable {
        case ipip = 0
        case gue = 1
        case gre = 2
    }

    /// `IP_VS_TUNNEL_ENCAP_FLAG_*`.
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let checksum = Flags(rawValue: 0x1)
        public static let remoteChecksum = Flags(rawValue: 0x2)
    }

    public var kind: Kind
    /// The GUE destination port.
    public var port: UInt16
    public var flags: Flags

    public init(kind: Kind = .ipip, port: UInt16 = 0, flags: Flags = []) {
        self.kind = kind
        self.port = port
        self.flags = flags
    }
}
