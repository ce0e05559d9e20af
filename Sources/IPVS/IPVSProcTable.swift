/// The virtual servers of `/proc/net/ip_vs`, as `ip_vs_info_seq_show` (net/netfilter/ipvs/ip_vs_ctl.c)
/// prints them: where there is no netlink client (kube-proxy's image has no ipvsadm), this is how IPVS is read.
///
/// ```
/// IP Virtual Server version 1.2.1 (size=4096)
/// Prot LocalAddress:Port Scheduler Flags
///   -> RemoteAddress:Port Forward Weight ActiveConn InActConn
/// TCP  0A600001:01BB rr
///   -> 0AF40005:1F90      Masq    1      0          0
/// TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:0050 rr
/// FWM  00000007 rr
/// ```
public struct IPVSProcTable: Sendable, Equatable {
    /// `1.2.1`, from the first line.
    public let version: String
    public let serviceKeys: [IPVSService.Key]

    /// Throws `malformedReply` naming the line: a misread table must not pass for a shorter one.
    public init(parsing text: String) throws(IPVSError) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let prefix = "IP Virtual Server version "
        guard let first = lines.first, first.hasPrefix(prefix),
              let version = first.dropFirst(prefix.count).split(separator: " ").first else {
            throw Self.bad(1, "the first line is not 'IP Virtual Server version ...'")
        }
        var keys: [IPVSService.Key] = []
        for (index, line) in lines.enumerated().dropFirst() {
            if line.hasPrefix("Prot ") || line.hasPrefix("  -> ") { continue }
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { throw Self.bad(index + 1, "too few fields in '\(line)'") }
            if fields[0] == "FWM" {
                // The text does not say the family of a firewall-mark service; kube-proxy never makes one.
                guard let mark = UInt32(fields[1], radix: 16) else { throw Self.bad(index + 1, "bad mark '\(fields[1])'") }
                keys.append(.firewallMark(mark, .ipv4))
                continue
            }
            guard let proto = Self.protocols[String(fields[0])] else {
                throw Self.bad(index + 1, "unknown protocol '\(fields[0])'")
            }
            guard let (address, port) = Self.endpoint(fields[1]) else {
                throw Self.bad(index + 1, "bad address '\(fields[1])'")
            }
            keys.append(.endpoint(proto, address, port: port))
        }
        self.version = String(version)
        serviceKeys = keys
    }

    static let protocols: [String: IPVSProtocol] = ["TCP": .tcp, "UDP": .udp, "SCTP": .sctp]

    /// `0A600001:01BB` (IPv4, hex, network order) or `[2001:0db8:...:0001]:0050`.
    static func endpoint(_ text: Substring) -> (IPVSAddress, UInt16)? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...], radix: 16) else {
            return nil
        }
        let host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") {
            return IPVSAddress(String(host.dropFirst().dropLast())).map { ($0, port) }
        }
        guard host.count == 8, let value = UInt32(host, radix: 16) else { return nil }
        let bytes = (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * (3 - $0))) }
        return (IPVSAddress(family: .ipv4, wireBytes: bytes), port)
    }

    static func bad(_ line: Int, _ reason: String) -> IPVSError {
        .malformedReply(operation: "reading /proc/net/ip_vs line \(line)", reason: reason)
    }
}
