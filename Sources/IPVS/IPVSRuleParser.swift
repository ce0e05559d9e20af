/// Reads one tokenised ipvsadm command line with the options `ipvsadm -S` writes and `ipvsadm -R` accepts
/// (numeric addresses and ports only, as in `-n` output).
struct IPVSRuleParser {
    struct SyntaxError: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    private enum Command { case addService, editService, deleteService, addServer, editServer, deleteServer }

    private var tokens: ArraySlice<String>

    init(tokens: [String]) {
        self.tokens = tokens[...]
    }

    // ipvsadm's defaults: scheduler wlc, persistence 300 s when -p has no value, weight 1, direct routing.
    private static let defaultScheduler = "wlc"
    private static let defaultPersistence: UInt32 = 300

    mutating func parse() throws(SyntaxError) -> IPVSRule {
        var command: Command?
        var serviceText: (IPVSProtocol, String)?
        var mark: UInt32?
        var markIPv6 = false
        var scheduler: String?
        var persistence: UInt32?
        var netmaskText: String?
        var engine: String?
        var schedulerFlags: IPVSService.Flags = []
        var onePacket = false
        var serverText: String?
        var forwarding: IPVSForwarding?
        var weight: Int32?
        var upper: UInt32?
        var lower: UInt32?
        var tunnelKind: IPVSTunnel.Kind?
        var tunnelPort: UInt16?
        var tunnelFlags: IPVSTunnel.Flags?

        func setCommand(_ new: Command, _ option: String) throws(SyntaxError) {
            guard command == nil else { throw SyntaxError("\(option): only one command per line") }
            command = new
        }

        while let token = tokens.popFirst() {
            var option = token
            var inlineValue: String?
            if token.hasPrefix("--"), let equals = token.firstIndex(of: "=") {
                option = String(token[..<equals])
                inlineValue = String(token[token.index(after: equals)...])
            }
            func value() throws(SyntaxError) -> String {
                if let inlineValue { return inlineValue }
                guard let next = tokens.popFirst() else { throw SyntaxError("\(option) needs a value") }
                return next
            }
            switch option {
            case "-A", "--add-service": try setCommand(.addService, option)
            case "-E", "--edit-service": try setCommand(.editService, option)
            case "-D", "--delete-service": try setCommand(.deleteService, option)
            case "-a", "--add-server": try setCommand(.addServer, option)
            case "-e", "--edit-server": try setCommand(.editServer, option)
            case "-d", "--delete-server": try setCommand(.deleteServer, option)
            case "-C", "--clear":
                throw SyntaxError("-C (clear every virtual service) is refused: delete the services you mean one by one")
            case "-t", "--tcp-service": serviceText = (.tcp, try value())
            case "-u", "--udp-service": serviceText = (.udp, try value())
            case "--sctp-service": serviceText = (.sctp, try value())
            case "-f", "--fwmark-service":
                let text = try value()
                guard let parsed = UInt32(text), parsed > 0 else {
                    throw SyntaxError("firewall mark \"\(text)\" is not an integer above zero")
                }
                mark = parsed
            case "-6", "--ipv6": markIPv6 = true
            case "-s", "--scheduler": scheduler = try value()
            case "-p", "--persistent":
                // The timeout is optional: take the next token only when it is not another option.
                if let inlineValue {
                    persistence = try Self.number(inlineValue, option)
                } else if let next = tokens.first, !next.hasPrefix("-") {
                    tokens.removeFirst()
                    persistence = try Self.number(next, option)
                } else {
                    persistence = Self.defaultPersistence
                }
            case "-M", "--netmask": netmaskText = try value()
            case "--pe": engine = try value()
            case "-b", "--sched-flags": schedulerFlags = try Self.schedulerFlags(try value())
            case "-o", "--ops": onePacket = true
            case "-r", "--real-server": serverText = try value()
            case "-g", "--gatewaying": forwarding = .directRoute
            case "-i", "--ipip": forwarding = .tunnel
            case "-m", "--masquerading": forwarding = .masquerade
            case "-w", "--weight":
                let parsed: UInt32 = try Self.number(try value(), option)
                guard parsed <= 65535 else { throw SyntaxError("weight \(parsed) is above 65535") }
                weight = Int32(parsed)
            case "-x", "--u-threshold": upper = try Self.number(try value(), option)
            case "-y", "--l-threshold": lower = try Self.number(try value(), option)
            case "--tun-type":
                let text = try value()
                guard let kind = ["ipip": IPVSTunnel.Kind.ipip, "gue": .gue, "gre": .gre][text] else {
                    throw SyntaxError("tunnel type \"\(text)\" is not ipip, gue or gre")
                }
                tunnelKind = kind
            case "--tun-port": tunnelPort = try Self.number(try value(), option)
            case "--tun-nocsum": tunnelFlags = []
            case "--tun-csum": tunnelFlags = .checksum
            case "--tun-remcsum": tunnelFlags = .remoteChecksum
            default:
                throw SyntaxError("unknown or unsupported option \"\(token)\"")
            }
        }

        guard let command else { throw SyntaxError("no command (-A, -E, -D, -a, -e or -d)") }
        let key: IPVSService.Key
        var servicePort: UInt16 = 0
        switch (serviceText, mark) {
        case (let (proto, text)?, nil):
            let (address, port) = try Self.hostPort(text, defaultPort: 0)
            key = .endpoint(proto, address, port: port)
            servicePort = port
        case (nil, let mark?):
            key = .firewallMark(mark, markIPv6 ? .ipv6 : .ipv4)
        case (nil, nil):
            throw SyntaxError("no virtual service (-t, -u, --sctp-service or -f)")
        case (.some, .some):
            throw SyntaxError("a virtual service is either an address (-t, -u, --sctp-service) or a mark (-f), not both")
        }

        switch command {
        case .addService, .editService:
            var flags = schedulerFlags
            if persistence != nil { flags.insert(.persistent) }
            if onePacket { flags.insert(.onePacket) }
            let service = IPVSService(
                key: key, scheduler: scheduler ?? Self.defaultScheduler, flags: flags,
                persistenceTimeout: persistence ?? 0,
                netmask: try netmaskText.map { text throws(SyntaxError) in try Self.netmask(text, family: key.family) },
                persistenceEngine: engine)
            return command == .addService ? .addService(service) : .editService(service)
        case .deleteService:
            return .deleteService(key)
        case .addServer, .editServer, .deleteServer:
            guard let serverText else { throw SyntaxError("a real server (-r) is required") }
            let (address, port) = try Self.hostPort(serverText, defaultPort: servicePort)
            var tunnel = IPVSTunnel(kind: tunnelKind ?? .ipip, port: tunnelPort ?? 0, flags: tunnelFlags ?? [])
            if tunnel.kind == .gue && tunnelPort == nil && command != .deleteServer {
                throw SyntaxError("--tun-type gue needs --tun-port")
            }
            if tunnel.kind != .gue { tunnel.port = 0 }
            let destination = IPVSDestination(
                address: address, port: port, forwarding: forwarding ?? .directRoute, weight: weight ?? 1,
                upperThreshold: upper ?? 0, lowerThreshold: lower ?? 0, tunnel: tunnel)
            switch command {
            case .addServer: return .addDestination(destination, service: key)
            case .editServer: return .editDestination(destination, service: key)
            default: return .deleteDestination(destination, service: key)
            }
        }
    }

    /// `1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]`, `[2001:db8::1]:80`, or a bare IPv6 address.
    static func hostPort(_ text: String, defaultPort: UInt16) throws(SyntaxError) -> (IPVSAddress, UInt16) {
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw SyntaxError("\"\(text)\" lacks its closing ]") }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw SyntaxError("unexpected \"\(rest)\" after ] in \"\(text)\"") }
                portText = rest.dropFirst()
            }
        } else if let colon = host.firstIndex(of: ":"), host.lastIndex(of: ":") == colon {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard let address = IPVSAddress(String(host)) else {
            throw SyntaxError("\"\(host)\" is not a numeric IPv4 or IPv6 address (host names are not resolved)")
        }
        guard let portText else { return (address, defaultPort) }
        guard let port = UInt16(portText) else { throw SyntaxError("port \"\(portText)\" is not a number up to 65535") }
        return (address, port)
    }

    static func netmask(_ text: String, family: IPVSAddressFamily) throws(SyntaxError) -> UInt32 {
        if family == .ipv6 {
            guard let length = UInt32(text), (1...128).contains(length) else {
                throw SyntaxError("IPv6 netmask \"\(text)\" is not a prefix length from 1 to 128")
            }
            return length
        }
        if let length = UInt32(text), length <= 32 {
            return length == 0 ? 0 : UInt32.max << (32 - length)
        }
        guard let mask = IPVSAddress(text), mask.family == .ipv4 else {
            throw SyntaxError("IPv4 netmask \"\(text)\" is neither dotted (255.255.255.0) nor a prefix length")
        }
        return mask.wireBytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func schedulerFlags(_ text: String) throws(SyntaxError) -> IPVSService.Flags {
        var flags: IPVSService.Flags = []
        for name in text.split(separator: ",") {
            switch name {
            case "flag-1", "sh-fallback", "mh-fallback": flags.insert(.scheduler1)
            case "flag-2", "sh-port", "mh-port": flags.insert(.scheduler2)
            case "flag-3": flags.insert(.scheduler3)
            default: throw SyntaxError("unknown scheduler flag \"\(name)\"")
            }
        }
        return flags
    }

    private static func number<T: FixedWidthInteger>(_ text: String, _ option: String) throws(SyntaxError) -> T {
        guard let value = T(text) else { throw SyntaxError("\(option) value \"\(text)\" is not a number in range") }
        return value
    }
}
