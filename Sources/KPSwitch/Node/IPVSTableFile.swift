import Foundation
import IPVS

/// `ipvs.json`: the IPVS table as kpswitch restores it. Settings only: counters and connection counts
/// change every second and are not state to put back. Services are sorted by key, destinations by
/// address and port, so two captures of the same table are byte for byte the same.
struct IPVSTableFile: Codable, Equatable {
    struct Service: Codable, Equatable {
        /// IP protocol number (6 TCP, 17 UDP, 132 SCTP); absent for a firewall-mark service.
        var `protocol`: UInt16?
        var address: String?
        var port: UInt16?
        var firewallMark: UInt32?
        /// `ipv4` or `ipv6`.
        var family: String
        var scheduler: String
        /// `IP_VS_SVC_F_*` bits (persistent 0x1, one-packet 0x4, scheduler flags 0x8/0x10/0x20).
        var flags: UInt32
        var persistenceTimeout: UInt32
        /// IPv4: the mask as an integer; IPv6: the prefix length.
        var netmask: UInt32
        var persistenceEngine: String?
        var destinations: [Destination]

        private enum CodingKeys: String, CodingKey {
            case `protocol`, address, port, firewallMark, family, scheduler, flags, persistenceTimeout, netmask,
                persistenceEngine, destinations
        }
    }

    struct Destination: Codable, Equatable {
        var address: String
        var port: UInt16
        /// `masquerade`, `localNode`, `tunnel`, `directRoute` or `bypass`.
        var forwarding: String
        var weight: Int32
        var upperThreshold: UInt32
        var lowerThreshold: UInt32
        /// Tunnel type (0 ipip, 1 gue, 2 gre), GUE port and `IP_VS_TUNNEL_ENCAP_FLAG_*` bits.
        var tunnelType: UInt8
        var tunnelPort: UInt16
        var tunnelFlags: UInt16

        private enum CodingKeys: String, CodingKey {
            case address, port, forwarding, weight, upperThreshold, lowerThreshold, tunnelType, tunnelPort, tunnelFlags
        }
    }

    var services: [Service]

    private enum CodingKeys: String, CodingKey { case services }

    private static let forwardingNames: [(IPVSForwarding, String)] = [
        (.masquerade, "masquerade"), (.localNode, "localNode"), (.tunnel, "tunnel"), (.directRoute, "directRoute"),
        (.bypass, "bypass"),
    ]

    init(_ table: IPVSTable) {
        services = table.entries.sorted { $0.service.key < $1.service.key }.map { entry in
            let service = entry.service
            var file = Service(
                family: service.key.family == .ipv4 ? "ipv4" : "ipv6", scheduler: service.scheduler,
                flags: service.flags.rawValue, persistenceTimeout: service.persistenceTimeout, netmask: service.netmask,
                persistenceEngine: service.persistenceEngine, destinations: [])
            switch service.key {
            case .endpoint(let proto, let address, let port):
                file.protocol = proto.rawValue
                file.address = address.description
                file.port = port
            case .firewallMark(let mark, _):
                file.firewallMark = mark
            }
            file.destinations = entry.destinations.sorted { ($0.address, $0.port) < ($1.address, $1.port) }.map { d in
                Destination(
                    address: d.address.description, port: d.port,
                    forwarding: Self.forwardingNames.first { $0.0 == d.forwarding }?.1 ?? "masquerade",
                    weight: d.weight, upperThreshold: d.upperThreshold, lowerThreshold: d.lowerThreshold,
                    tunnelType: d.tunnel.kind.rawValue, tunnelPort: d.tunnel.port, tunnelFlags: d.tunnel.flags.rawValue)
            }
            return file
        }
    }

    private init(services: [Service]) {
        self.services = services
    }

    /// Reads `ipvs.json`; anything that does not describe a valid service is an error naming it.
    static func decode(_ data: Data) throws(IPVSTableFileError) -> IPVSTableFile {
        do {
            return try JSONDecoder().decode(IPVSTableFile.self, from: data)
        } catch {
            throw IPVSTableFileError("it is not the JSON kpswitch writes (\(error))")
        }
    }

    func encoded() throws(IPVSTableFileError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            return try encoder.encode(self) + Data("\n".utf8)
        } catch {
            throw IPVSTableFileError("it could not be encoded (\(error))")
        }
    }

    /// The table to put back into the kernel.
    func table() throws(IPVSTableFileError) -> IPVSTable {
        var entries: [IPVSTable.Entry] = []
        for (index, file) in services.enumerated() {
            let name = "service \(index + 1)"
            let family: IPVSAddressFamily
            switch file.family {
            case "ipv4": family = .ipv4
            case "ipv6": family = .ipv6
            default: throw IPVSTableFileError("\(name) has family '\(file.family)', not ipv4 or ipv6")
            }
            let key: IPVSService.Key
            if let mark = file.firewallMark {
                key = .firewallMark(mark, family)
            } else {
                guard let proto = file.protocol, let port = file.port, let text = file.address,
                    let address = IPVSAddress(text), address.family == family
                else {
                    throw IPVSTableFileError("\(name) needs protocol, a numeric \(file.family) address and port, or firewallMark")
                }
                key = .endpoint(IPVSProtocol(rawValue: proto), address, port: port)
            }
            let service = IPVSService(
                key: key, scheduler: file.scheduler, flags: IPVSService.Flags(rawValue: file.flags),
                persistenceTimeout: file.persistenceTimeout, netmask: file.netmask,
                persistenceEngine: file.persistenceEngine)
            var destinations: [IPVSDestination] = []
            for d in file.destinations {
                guard let address = IPVSAddress(d.address) else {
                    throw IPVSTableFileError("\(key) has a destination with address '\(d.address)', not a numeric IP")
                }
                guard let forwarding = Self.forwardingNames.first(where: { $0.1 == d.forwarding })?.0 else {
                    throw IPVSTableFileError("\(key) has a destination with forwarding '\(d.forwarding)'")
                }
                guard let kind = IPVSTunnel.Kind(rawValue: d.tunnelType) else {
                    throw IPVSTableFileError("\(key) has a destination with tunnel type \(d.tunnelType)")
                }
                destinations.append(IPVSDestination(
                    address: address, port: d.port, forwarding: forwarding, weight: d.weight,
                    upperThreshold: d.upperThreshold, lowerThreshold: d.lowerThreshold,
                    tunnel: IPVSTunnel(kind: kind, port: d.tunnelPort, flags: IPVSTunnel.Flags(rawValue: d.tunnelFlags))))
            }
            entries.append(IPVSTable.Entry(service: service, destinations: destinations))
        }
        return IPVSTable(entries: entries)
    }
}

/// `ipvs.json` could not be read or written; the reason names the service.
struct IPVSTableFileError: Error, CustomStringConvertible {
    let reason: String

    init(_ reason: String) {
        self.reason = reason
    }

    var description: String { "\(BundleLayout.ipvsJSON): \(reason)" }
}
