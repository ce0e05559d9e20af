// Numbers from include/uapi/linux/ip_vs.h (linux-libc-dev 6.1), named after the header so that a reader can
// grep one against the other.
//
// One IPVS generic-netlink message, as sent and received:
//
//   +----------------------+---------------------+-------------------------------------------+
//   | nlmsghdr (16 bytes)  | genlmsghdr (4)      | attributes (each: u16 len, u16 type, data, |
//   | len type flags seq   | cmd version 0 0     |             padded to 4 bytes)            |
//   | pid                  |                     |                                           |
//   +----------------------+---------------------+-------------------------------------------+
//
//   IPVS_CMD_ATTR_SERVICE (nested) -> IPVS_SVC_ATTR_* ; IPVS_SVC_ATTR_STATS64 (nested) -> IPVS_STATS_ATTR_*
//   IPVS_CMD_ATTR_DEST    (nested) -> IPVS_DEST_ATTR_*
//
// Integers are host order except ports (big-endian) and the service netmask (a raw 4-byte copy).
enum IPVSKernel {
    static let familyName = "IPVS"
    static let familyVersion: UInt8 = 1

    enum Command {
        static let newService: UInt8 = 1
        static let setService: UInt8 = 2
        static let delService: UInt8 = 3
        static let getService: UInt8 = 4
        static let newDest: UInt8 = 5
        static let setDest: UInt8 = 6
        static let delDest: UInt8 = 7
        static let getDest: UInt8 = 8
        static let setConfig: UInt8 = 12
        static let getConfig: UInt8 = 13
        static let setInfo: UInt8 = 14
        static let getInfo: UInt8 = 15
    }

    enum CommandAttribute {
        static let service: UInt16 = 1
        static let dest: UInt16 = 2
        static let timeoutTCP: UInt16 = 4
        static let timeoutTCPFin: UInt16 = 5
        static let timeoutUDP: UInt16 = 6
        static let max: UInt16 = 6
    }

    enum ServiceAttribute {
        static let af: UInt16 = 1
        static let `protocol`: UInt16 = 2
        static let addr: UInt16 = 3
        static let port: UInt16 = 4
        static let fwmark: UInt16 = 5
        static let schedName: UInt16 = 6
        static let flags: UInt16 = 7
        static let timeout: UInt16 = 8
        static let netmask: UInt16 = 9
        static let stats: UInt16 = 10
        static let peName: UInt16 = 11
        static let stats64: UInt16 = 12
        static let max: UInt16 = 12
    }

    enum DestAttribute {
        static let addr: UInt16 = 1
        static let port: UInt16 = 2
        static let fwdMethod: UInt16 = 3
        static let weight: UInt16 = 4
        static let upperThreshold: UInt16 = 5
        static let lowerThreshold: UInt16 = 6
        static let activeConns: UInt16 = 7
        static let inactiveConns: UInt16 = 8
        static let persistConns: UInt16 = 9
        static let stats: UInt16 = 10
        static let addrFamily: UInt16 = 11
        static let stats64: UInt16 = 12
        static let tunType: UInt16 = 13
        static let tunPort: UInt16 = 14
        static let tunFlags: UInt16 = 15
        static let max: UInt16 = 15
    }

    enum StatsAttribute {
        static let conns: UInt16 = 1
        static let inPackets: UInt16 = 2
        static let outPackets: UInt16 = 3
        static let inBytes: UInt16 = 4
        static let outBytes: UInt16 = 5
        static let cps: UInt16 = 6
        static let inPPS: UInt16 = 7
        static let outPPS: UInt16 = 8
        static let inBPS: UInt16 = 9
        static let outBPS: UInt16 = 10
        static let max: UInt16 = 11  // 11 is PAD, emitted before u64 values and skipped.
    }

    enum InfoAttribute {
        static let version: UInt16 = 1
        static let connectionTableSize: UInt16 = 2
        static let max: UInt16 = 2
    }

    static let connectionForwardMask: UInt32 = 0x7
    static let addressLength = 16  // sizeof(union nf_inet_addr): the kernel always sends 16 bytes.
    static let nameMaxLength = 16  // IP_VS_SCHEDNAME_MAXLEN, IP_VS_PENAME_MAXLEN, including the NUL.
}

/// Netlink header numbers from include/uapi/linux/netlink.h, kept here because the composite macros do
/// not import into Swift.
enum NetlinkHeader {
    static let requestFlag: Int32 = 0x1   // NLM_F_REQUEST
    static let multiFlag: UInt16 = 0x2    // NLM_F_MULTI
    static let ackFlag: Int32 = 0x4       // NLM_F_ACK
    static let dumpFlags: Int32 = 0x300   // NLM_F_ROOT | NLM_F_MATCH
    static let messageHeaderLength = 16   // NLMSG_HDRLEN
    static let genericHeaderLength = 4    // GENL_HDRLEN
    static let attributeHeaderLength = 4  // NLA_HDRLEN
    static let attributeTypeMask: UInt16 = 0x3fff  // NLA_TYPE_MASK: drops NLA_F_NESTED and NLA_F_NET_BYTEORDER
}
