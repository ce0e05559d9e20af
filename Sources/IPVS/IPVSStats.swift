/// Traffic counters and rate estimates of a service or destination (`IPVS_STATS_ATTR_*`), 64-bit when the
/// kernel sends `STATS64`.
public struct IPVSStats: Hashable, Sendable {
    public var connections: UInt64 = 0
    public var inPackets: UInt64 = 0
    public var outPackets: UInt64 = 0
    public var inBytes: UInt64 = 0
    public var outBytes: UInt64 = 0
    public var connectionsPerSecond: UInt64 = 0
    public var inPacketsPerSecond: UInt64 = 0
    public var outPacketsPerSecond: UInt64 = 0
    public var inBytesPerSecond: UInt64 = 0
    public var outBytesPerSecond: UInt64 = 0

    public init() {}
}

/// The IPVS version and connection hash table size (`IPVS_CMD_GET_INFO`).
public struct IPVSInfo: Hashable, Sendable {
    public var version: UInt32
    public var connectionTableSize: UInt32

    /// The version as ipvsadm prints it: `1.2.1`.
    public var versionString: String {
        "\((version >> 16) & 0xff).\((version >> 8) & 0xff).\(version & 0xff)"
    }

    public init(version: UInt32, connectionTableSize: UInt32) {
        self.version = version
        self.connectionTableSize = connectionTableSize
    }
}

/// Connection timeouts in seconds (`IPVS_CMD_GET_CONFIG`, `ipvsadm --set`).
public struct IPVSTimeouts: Hashable, Sendable {
    public var tcp: UInt32
    public var tcpFin: UInt32
    public var udp: UInt32

    public init(tcp: UInt32, tcpFin: UInt32, udp: UInt32) {
        self.tcp = tcp
        self.tcpFin = tcpFin
        self.udp = udp
    }
}
