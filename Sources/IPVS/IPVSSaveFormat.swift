/// The text of `ipvsadm -S -n` (ipvsadm.c `print_service_entry` with FMT_RULE | FMT_NUMERIC), both ways:
/// a table renders to text that `ipvsadm -R` restores, and such text (ours or a user's) parses back.
public enum IPVSSaveFormat {
    /// Renders `table` as `ipvsadm -S -n` would, sorted by a total order (ipvsadm's own sort is not one,
    /// reference §10, so compare with ipvsadm's output as sets of lines).
    /// - Parameter includeThresholds: also write `-x`/`-y` for destinations with thresholds, which
    ///   `ipvsadm -R` accepts but `ipvsadm -S` never writes.
    public static func render(_ table: IPVSTable, includeThresholds: Bool = false) -> String {
        var text = ""
        for entry in table.entries.sorted(by: { $0.service.key < $1.service.key }) {
            let service = entry.service
            let name = serviceOption(service.key)
            text += "-A \(name) -s \(service.scheduler)"
            if service.flags.contains(.persistent) {
                text += " -p \(service.persistenceTimeout)"
                if service.netmask != IPVSService.fullNetmask(service.key.family) {
                    text += " -M \(netmaskText(service.netmask, family: service.key.family))"
                }
            }
            if let engine = service.persistenceEngine { text += " --pe \(engine)" }
            if service.flags.contains(.onePacket) { text += " -o" }
            let schedulerFlags = schedulerFlagNames(service)
            if !schedulerFlags.isEmpty { text += " -b \(schedulerFlags.joined(separator: ","))" }
            text += "\n"
            let destinations = entry.destinations.sorted { ($0.address, $0.port) < ($1.address, $1.port) }
            for destination in destinations {
                text += "-a \(name) -r \(IPVSService.hostPort(destination.address, destination.port))"
                text += " \(forwardingSwitch(destination.forwarding)) -w \(destination.weight)"
                if destination.forwarding == .tunnel { text += tunnelOptions(destination.tunnel) }
                if includeThresholds && (destination.upperThreshold != 0 || destination.lowerThreshold != 0) {
                    text += " -x \(destination.upperThreshold) -y \(destination.lowerThreshold)"
                }
                text += "\n"
            }
        }
        return text
    }

    /// Parses save text (only `-A` and `-a` lines, as `ipvsadm -S` writes) into a table.
    public static func parse(_ text: String) throws(IPVSError) -> IPVSTable {
        var entries: [IPVSTable.Entry] = []
        var index: [IPVSService.Key: Int] = [:]
        for (line, rule) in try parseNumberedRules(text) {
            switch rule {
            case .addService(let service):
                guard index[service.key] == nil else {
                    throw .invalidRule(line: line, reason: "service \(service.key) is added twice")
                }
                index[service.key] = entries.count
                entries.append(IPVSTable.Entry(service: service, destinations: []))
            case .addDestination(let destination, let key):
                guard let position = index[key] else {
                    throw .invalidRule(line: line, reason: "destination for \(key), which no earlier -A line adds")
                }
                entries[position].destinations.append(destination)
            default:
                throw .invalidRule(line: line, reason: "only -A and -a lines belong in saved rules")
            }
        }
        return IPVSTable(entries: entries)
    }

    /// Parses restore text into rules, in order, as `ipvsadm -R` reads it (a leading `ipvsadm` token is
    /// skipped); blank lines and `#` comments are skipped, as the `ipvsadm-restore` script does.
    public static func parseRules(_ text: String) throws(IPVSError) -> [IPVSRule] {
        try parseNumberedRules(text).map(\.1)
    }

    private static func parseNumberedRules(_ text: String) throws(IPVSError) -> [(Int, IPVSRule)] {
        var rules: [(Int, IPVSRule)] = []
        for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if tokens.first == "ipvsadm" { tokens.removeFirst() }
            guard let first = tokens.first, !first.hasPrefix("#") else { continue }
            var parser = IPVSRuleParser(tokens: tokens)
            do throws(IPVSRuleParser.SyntaxError) {
                rules.append((offset + 1, try parser.parse()))
            } catch {
                throw .invalidRule(line: offset + 1, reason: error.reason)
            }
        }
        return rules
    }

    // MARK: Rendering pieces

    static func serviceOption(_ key: IPVSService.Key) -> String {
        switch key {
        case .firewallMark(let mark, let family):
            return family == .ipv6 ? "-f \(mark) -6" : "-f \(mark)"
        case .endpoint(let proto, let address, let port):
            let option = switch proto {
            case .tcp: "-t"
            case .udp: "-u"
            case .sctp: "--sctp-service"
            default: "--xxx-service"
            }
            return "\(option) \(IPVSService.hostPort(address, port))"
        }
    }

    static func netmaskText(_ netmask: UInt32, family: IPVSAddressFamily) -> String {
        guard family == .ipv4 else { return "\(netmask)" }
        return (0..<4).map { "\((netmask >> (24 - 8 * UInt32($0))) & 0xff)" }.joined(separator: ".")
    }

    static func schedulerFlagNames(_ service: IPVSService) -> [String] {
        let labels = switch service.scheduler {
        case "sh": ["sh-fallback", "sh-port", nil]
        case "mh": ["mh-fallback", "mh-port", nil]
        default: ["flag-1", "flag-2", "flag-3"]
        }
        let bits: [IPVSService.Flags] = [.scheduler1, .scheduler2, .scheduler3]
        return zip(bits, labels).compactMap { bit, label in service.flags.contains(bit) ? label : nil }
    }

    // ipvsadm has no switch for LOCALNODE (it prints -g) nor BYPASS (it prints "(null)"); -g is the closest.
    static func forwardingSwitch(_ forwarding: IPVSForwarding) -> String {
        switch forwarding {
        case .masquerade: "-m"
        case .tunnel: "-i"
        case .directRoute, .localNode, .bypass: "-g"
        }
    }

    // ipvsadm indexes its option table by the raw flags; both bits set is out of its range, remcsum wins here.
    static func tunnelOptions(_ tunnel: IPVSTunnel) -> String {
        let checksum = tunnel.flags.contains(.remoteChecksum) ? "--tun-remcsum"
            : tunnel.flags.contains(.checksum) ? "--tun-csum" : "--tun-nocsum"
        switch tunnel.kind {
        case .ipip: return " --tun-type ipip"
        case .gue: return " --tun-type gue --tun-port \(tunnel.port) \(checksum)"
        case .gre: return " --tun-type gre \(checksum)"
        }
    }
}
