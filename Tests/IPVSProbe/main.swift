// ipvs-probe: drives the IPVS module from inside the real-kernel VM, where IPVSVMTests compare it with
// ipvsadm. Not shipped.
//
//   ipvs-probe [--as-nobody] save [--thresholds]   the table as `ipvsadm -S -n` text
//   ipvs-probe [--as-nobody] info                  version, table size and timeouts, as ipvsadm prints them
//   ipvs-probe details                             every field of every service and destination
//   ipvs-probe apply FILE                          each -A/-E/-D/-a/-e/-d line of FILE, in order
//   ipvs-probe restore FILE                        the saved table in FILE (-A/-a lines)
//   ipvs-probe delete FILE                         the services of FILE's -D lines, tolerating absent ones
//   ipvs-probe lookup FILE                         for each -D line's service: present or absent, and how
//                                                  many destinations a destination dump returns for it
//
// Exit status: 0 done, 1 failed, 2 usage, 3 IPVS unavailable, 4 permission denied.
import IPVS
#if canImport(Glibc)
import Glibc
#endif

func fail(_ error: IPVSError) -> Never {
    ProbeIO.standardError("ipvs-probe: \(error)\n")
    switch error {
    case .unavailable: exit(3)
    case .permissionDenied: exit(4)
    default: exit(1)
    }
}

enum ProbeIO {
    static func standardError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = write(2, &bytes, bytes.count)
    }

    static func read(_ path: String) -> String {
        guard let file = fopen(path, "r") else {
            standardError("ipvs-probe: cannot open \(path)\n")
            exit(2)
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

func details(_ table: IPVSTable) -> String {
    var text = ""
    for entry in table.entries.sorted(by: { $0.service.key < $1.service.key }) {
        let service = entry.service
        text += "service \(service.key) scheduler=\(service.scheduler) flags=\(service.flags.rawValue)"
        text += " timeout=\(service.persistenceTimeout) netmask=\(service.netmask)"
        text += " pe=\(service.persistenceEngine ?? "-") conns=\(service.stats.connections)\n"
        for destination in entry.destinations.sorted(by: { ($0.address, $0.port) < ($1.address, $1.port) }) {
            text += "  dest \(destination.address) port=\(destination.port) forwarding=\(destination.forwarding)"
            text += " weight=\(destination.weight) upper=\(destination.upperThreshold)"
            text += " lower=\(destination.lowerThreshold) active=\(destination.activeConnections)"
            text += " inactive=\(destination.inactiveConnections) persistent=\(destination.persistentConnections)"
            text += " tunnel=\(destination.tunnel.kind):\(destination.tunnel.port):\(destination.tunnel.flags.rawValue)\n"
        }
    }
    return text
}

func serviceKeys(_ path: String) throws(IPVSError) -> [IPVSService.Key] {
    try IPVSSaveFormat.parseRules(ProbeIO.read(path)).compactMap { rule in
        if case .deleteService(let key) = rule { return key } else { return nil }
    }
}

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "--as-nobody" {
    arguments.removeFirst()
    // Dropping to an unprivileged uid also drops CAP_NET_ADMIN.
    guard setgroups(0, nil) == 0, setgid(65534) == 0, setuid(65534) == 0 else {
        ProbeIO.standardError("ipvs-probe: cannot drop privileges\n")
        exit(2)
    }
}
guard let command = arguments.first else {
    ProbeIO.standardError("usage: ipvs-probe [--as-nobody] save|info|details|apply|restore|delete [FILE]\n")
    exit(2)
}

do throws(IPVSError) {
    let handle = try IPVSHandle()
    switch (command, arguments.count) {
    case ("save", _):
        print(IPVSSaveFormat.render(try handle.table(), includeThresholds: arguments.contains("--thresholds")),
              terminator: "")
    case ("info", 1):
        let info = try handle.info()
        let timeouts = try handle.timeouts()
        print("IP Virtual Server version \(info.versionString) (size=\(info.connectionTableSize))")
        print("Timeout (tcp tcpfin udp): \(timeouts.tcp) \(timeouts.tcpFin) \(timeouts.udp)")
    case ("details", 1):
        print(details(try handle.table()), terminator: "")
    case ("apply", 2):
        for rule in try IPVSSaveFormat.parseRules(ProbeIO.read(arguments[1])) {
            try handle.apply(rule)
        }
    case ("restore", 2):
        try handle.restore(try IPVSSaveFormat.parse(ProbeIO.read(arguments[1])))
    case ("delete", 2):
        for key in try handle.deleteServices(try serviceKeys(arguments[1])) { print("absent \(key)") }
    case ("lookup", 2):
        for key in try serviceKeys(arguments[1]) {
            let presence = try handle.contains(key) ? "present" : "absent"
            print("\(presence) \(key) destinations=\(try handle.destinations(of: key).count)")
        }
    default:
        ProbeIO.standardError("ipvs-probe: unknown command or wrong arguments: \(arguments)\n")
        exit(2)
    }
} catch {
    fail(error)
}
