import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Crypto

/// The persistent network namespaces of `netfilter: true` nodes and what a simulated kube-proxy programs
/// into them, so that what one agent pod changes the next one sees and a migration's rules can be counted.
/// Namespaces are `ip netns` names `kube-sim-<pid>-<token>-<node>`: deleted when the server stops, and
/// those of a kube-sim process that no longer runs (a crashed test) deleted when the next server starts.
final class NodeNetworks: Sendable {
    static let prefix = "kube-sim-"
    private let token = String(UUID().uuidString.prefix(6)).lowercased()

    init() {
        Self.sweep()
    }

    deinit {
        removeAll()
    }

    /// `node`'s namespace name (not created yet).
    func name(node: String) -> String { "\(Self.prefix)\(getpid())-\(token)-\(node)" }

    /// The file `nsenter --net=` takes.
    static func path(_ namespace: String) -> String { "/run/netns/\(namespace)" }

    func create(node: String) throws -> String {
        let namespace = name(node: node)
        let (status, output) = Self.run(["/usr/sbin/ip", "netns", "add", namespace])
        guard status == 0 else { throw KubeSimError.scenario("cannot create network namespace \(namespace) for node \(node) (netfilter: true needs root and iproute2's ip): \(output.trimmingCharacters(in: .whitespacesAndNewlines))") }
        _ = Self.run(["/usr/sbin/ip", "-n", namespace, "link", "set", "lo", "up"])
        return namespace
    }

    /// Deletes this server's namespaces.
    func removeAll() {
        let mine = "\(Self.prefix)\(getpid())-\(token)-"
        for entry in Self.namespaces() where entry.hasPrefix(mine) {
            _ = Self.run(["/usr/sbin/ip", "netns", "delete", entry])
        }
    }

    /// Deletes the namespaces whose kube-sim process has ended.
    static func sweep() {
        for entry in namespaces() {
            let pid = entry.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let number = Int32(pid), kill(number, 0) != 0, errno == ESRCH else { continue }
            _ = run(["/usr/sbin/ip", "netns", "delete", entry])
        }
    }

    static func namespaces() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []).filter { $0.hasPrefix(prefix) }
    }

    /// Runs `argv` (in `namespace` when given) with `input` on stdin; the status and the merged output.
    @discardableResult
    static func run(_ argv: [String], in namespace: String? = nil, input: String? = nil) -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: namespace == nil ? argv[0] : "/usr/bin/nsenter")
        process.arguments = namespace.map { ["--net=\(path($0))"] + argv } ?? Array(argv.dropFirst())
        process.environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        do {
            try process.run()
        } catch {
            return (127, "\(error)")
        }
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// One Service port as kube-proxy programs it: its ClusterIP (IPv4) and the ready endpoints.
struct ServicePort: Sendable {
    var namespace: String
    var name: String
    var portName: String
    /// `tcp`, `udp` or `sctp`.
    var proto: String
    var clusterIP: String
    var port: Int
    var endpoints: [(ip: String, port: Int)]

    /// `ns/name:port`, kube-proxy's ServicePortName.
    var servicePortName: String { "\(namespace)/\(name):\(portName)" }

    /// The Service ports of `services` with an IPv4 ClusterIP, endpoints from `slices`, sorted by name.
    static func all(services: [JSONValue], slices: [JSONValue]) -> [ServicePort] {
        var bySlice: [String: [JSONValue]] = [:]
        for slice in slices {
            guard let service = slice[path: ["metadata", "labels", "kubernetes.io/service-name"]]?.stringValue else { continue }
            bySlice["\(slice[path: ["metadata", "namespace"]]?.stringValue ?? "")/\(service)", default: []].append(slice)
        }
        var ports: [ServicePort] = []
        for service in services {
            let namespace = service[path: ["metadata", "namespace"]]?.stringValue ?? "default"
            let name = service[path: ["metadata", "name"]]?.stringValue ?? ""
            guard let ip = service[path: ["spec", "clusterIP"]]?.stringValue, ip.split(separator: ".").count == 4 else { continue }
            let serviceSlices = bySlice["\(namespace)/\(name)"] ?? []
            for port in service[path: ["spec", "ports"]]?.arrayValue ?? [] {
                let portName = port["name"]?.stringValue ?? ""
                let proto = (port["protocol"]?.stringValue ?? "TCP").lowercased()
                var endpoints: [(ip: String, port: Int)] = []
                for slice in serviceSlices {
                    guard let sliced = (slice["ports"]?.arrayValue ?? []).first(where: { ($0["name"]?.stringValue ?? "") == portName }),
                        let number = sliced["port"]?.intValue
                    else { continue }
                    for endpoint in slice["endpoints"]?.arrayValue ?? []
                    where endpoint[path: ["conditions", "ready"]]?.boolValue != false {
                        for address in endpoint["addresses"]?.arrayValue ?? [] {
                            if let address = address.stringValue { endpoints.append((address, Int(number))) }
                        }
                    }
                }
                ports.append(ServicePort(
                    namespace: namespace, name: name, portName: portName, proto: proto, clusterIP: ip,
                    port: Int(port["port"]?.intValue ?? 0), endpoints: endpoints))
            }
        }
        return ports.sorted { $0.servicePortName < $1.servicePortName }
    }
}

/// What kube-proxy writes into a node's network namespace when it starts in a mode: first
/// `platformCleanup` (k/k cmd/kube-proxy/app/server_linux.go; reference/kube-proxy.md §5) — nftables
/// removes the iptables and ipvs state, iptables and ipvs remove the nftables tables, and iptables and ipvs
/// leave each other's alone — then a full sync of every Service port, the way each proxier's `syncProxyRules`
/// lays it out (chain and rule shapes from the captures in shared/fixtures and k/k's proxier tests).
enum SimulatedProxier {
    /// kube-proxy's chains of both iptables-based modes; KUBE-FIREWALL and KUBE-KUBELET-CANARY are kubelet's.
    static func ownedByKubeProxy(_ chain: String) -> Bool {
        chain.hasPrefix("KUBE-") && chain != "KUBE-FIREWALL" && chain != "KUBE-KUBELET-CANARY"
    }

    static let perServicePrefixes = ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"]

    /// The result of one start: the virtual servers kube-proxy's IPVS table now holds, when it changed.
    struct Programmed {
        /// The node's IPVS table after the start: nil keeps it as it was.
        var ipvsTable: [String]?
        /// What failed, for kube-sim's own log (kube-proxy's errors are best-effort too).
        var errors: [String]
    }

    static func program(mode: String, namespace: String, ports: [ServicePort], podCIDR: String, ipvsTable: [String]) -> Programmed {
        var errors: [String] = []
        func check(_ result: (Int32, String), _ what: String) {
            if result.0 != 0 { errors.append("\(what): \(result.1.trimmingCharacters(in: .whitespacesAndNewlines))") }
        }
        switch mode {
        case "nftables":
            check(removeIPTablesState(namespace: namespace), "iptables cleanup")
            removeIPVSState(namespace: namespace)
            check(NodeNetworks.run(["nft", "-f", "-"], in: namespace, input: nftables(ports: ports, podCIDR: podCIDR)), "nft -f")
            // ipvs.CleanupLeftovers flushes every virtual server, not only kube-proxy's.
            return Programmed(ipvsTable: [], errors: errors)
        case "ipvs":
            removeNFTables(namespace: namespace)
            check(NodeNetworks.run(["ipset", "restore", "-exist"], in: namespace, input: ipsets(ports: ports)), "ipset restore")
            check(restore(namespace: namespace, tables: ipvsRules(podCIDR: podCIDR), pruning: false), "iptables-restore")
            programLink(namespace: namespace, ports: ports, errors: &errors)
            let services = ports.map { "\($0.proto.uppercased()) \($0.clusterIP):\($0.port)" }
            // Virtual servers of other owners stay; kube-proxy's are replaced by this sync.
            let foreign = ipvsTable.filter { !services.contains($0) }
            return Programmed(ipvsTable: foreign + services, errors: errors)
        default:
            removeNFTables(namespace: namespace)
            check(restore(namespace: namespace, tables: iptablesRules(ports: ports, podCIDR: podCIDR), pruning: true), "iptables-restore")
            return Programmed(ipvsTable: nil, errors: errors)
        }
    }

    static func removeNFTables(namespace: String) {
        for family in ["ip", "ip6"] { NodeNetworks.run(["nft", "delete", "table", family, "kube-proxy"], in: namespace) }
    }

    /// Every kube-proxy chain of both iptables-based modes with the builtin chains' jumps to them.
    static func removeIPTablesState(namespace: String) -> (Int32, String) {
        let (status, saved) = NodeNetworks.run(["iptables-save"], in: namespace)
        guard status == 0 else { return (status, saved) }
        var text = ""
        for (table, lines) in tables(saved) {
            let chains = lines.compactMap(declaredChain).filter(ownedByKubeProxy)
            guard !chains.isEmpty else { continue }
            text += "*\(table)\n"
            for line in lines where line.hasPrefix("-A ") {
                let words = line.split(separator: " ")
                if words.count > 1, !ownedByKubeProxy(String(words[1])), let target = jumpTarget(line), ownedByKubeProxy(target) {
                    text += "-D" + line.dropFirst(2) + "\n"
                }
            }
            text += chains.map { ":\($0) - [0:0]\n" }.joined() + chains.map { "-X \($0)\n" }.joined() + "COMMIT\n"
        }
        return text.isEmpty ? (0, "") : NodeNetworks.run(["iptables-restore", "--noflush"], in: namespace, input: text)
    }

    static func removeIPVSState(namespace: String) {
        let (_, sets) = NodeNetworks.run(["ipset", "list", "-n"], in: namespace)
        for set in sets.split(separator: "\n") where set.hasPrefix("KUBE-") {
            NodeNetworks.run(["ipset", "destroy", String(set)], in: namespace)
        }
        NodeNetworks.run(["ip", "link", "delete", "kube-ipvs0"], in: namespace)
    }

    /// `tables` written with `iptables-restore --noflush`: each chain declared (which flushes it), its rules,
    /// the builtin chains' jumps to them replaced, and with `pruning` (iptables mode's full sync) the
    /// per-service chains of an earlier sync that this one no longer has deleted. Chains this mode does not
    /// declare are neither flushed nor deleted: the other iptables-based mode's stay.
    static func restore(
        namespace: String, tables wanted: [(table: String, chains: [String], rules: [String])], pruning: Bool
    ) -> (Int32, String) {
        let (status, saved) = NodeNetworks.run(["iptables-save"], in: namespace)
        guard status == 0 else { return (status, saved) }
        let existing = Dictionary(tables(saved), uniquingKeysWith: { a, _ in a })
        var text = ""
        for (table, chains, rules) in wanted {
            let lines = existing[table] ?? []
            let declared = Set(chains)
            text += "*\(table)\n" + chains.map { ":\($0) - [0:0]\n" }.joined()
            let stale = !pruning ? [] : lines.compactMap(declaredChain).filter { chain in
                !declared.contains(chain) && perServicePrefixes.contains { chain.hasPrefix($0) }
            }
            for line in lines where line.hasPrefix("-A ") {
                let words = line.split(separator: " ")
                guard words.count > 1, !ownedByKubeProxy(String(words[1])), let target = jumpTarget(line), declared.contains(target)
                else { continue }
                text += "-D" + line.dropFirst(2) + "\n"
            }
            text += rules.map { $0 + "\n" }.joined()
            text += stale.map { ":\($0) - [0:0]\n" }.joined() + stale.map { "-X \($0)\n" }.joined()
            text += "COMMIT\n"
        }
        return NodeNetworks.run(["iptables-restore", "--noflush"], in: namespace, input: text)
    }

    /// iptables-save's text by table, in order.
    static func tables(_ saved: String) -> [(String, [String])] {
        var result: [(String, [String])] = []
        for line in saved.split(separator: "\n").map(String.init) {
            if line.hasPrefix("*") {
                result.append((String(line.dropFirst()), []))
            } else if !result.isEmpty, line.hasPrefix(":") || line.hasPrefix("-A ") {
                result[result.count - 1].1.append(line)
            }
        }
        return result
    }

    static func declaredChain(_ line: String) -> String? {
        guard line.hasPrefix(":") else { return nil }
        return line.dropFirst().split(separator: " ").first.map(String.init)
    }

    static func jumpTarget(_ line: String) -> String? {
        let words = line.split(separator: " ")
        guard let index = words.firstIndex(where: { $0 == "-j" || $0 == "-g" }), index + 1 < words.count else { return nil }
        return String(words[index + 1])
    }

    /// kube-proxy's `portProtoHash`: base32(SHA-256(text)), cut to `length`.
    static func hash(_ text: String, length: Int = 16) -> String {
        let digest = Array(SHA256.hash(data: Data(text.utf8)))
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var output = ""
        var buffer = 0
        var bits = 0
        for byte in digest where output.count < length {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 && output.count < length {
                output.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
            buffer &= (1 << bits) - 1
        }
        return output
    }

    static let canary = "KUBE-PROXY-CANARY"

    /// pkg/proxy/iptables/proxier.go, the layout of shared/fixtures/iptables-save-kube-proxy-nat.txt: a port
    /// with endpoints gets its `cluster IP` rule in nat KUBE-SERVICES, one without gets filter KUBE-SERVICES'
    /// REJECT (`has no endpoints`) and no nat chain.
    static func iptablesRules(ports: [ServicePort], podCIDR: String) -> [(table: String, chains: [String], rules: [String])] {
        var natChains = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ", canary]
        var nat = [
            "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
            "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
            "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
            "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
            "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully",
        ]
        var perService: [String] = []
        var rejects: [String] = []
        for port in ports {
            let name = port.servicePortName
            let match = "-d \(port.clusterIP)/32 -p \(port.proto)"
            guard !port.endpoints.isEmpty else {
                rejects.append("-A KUBE-SERVICES \(match) -m comment --comment \"\(name) has no endpoints\" -m \(port.proto) --dport \(port.port) -j REJECT --reject-with icmp-port-unreachable")
                continue
            }
            let svc = "KUBE-SVC-" + hash(name + port.proto)
            natChains.append(svc)
            nat.append("-A KUBE-SERVICES \(match) -m comment --comment \"\(name) cluster IP\" -m \(port.proto) --dport \(port.port) -j \(svc)")
            perService.append("-A \(svc) ! -s \(podCIDR) \(match) -m comment --comment \"\(name) cluster IP\" -m \(port.proto) --dport \(port.port) -j KUBE-MARK-MASQ")
            for (index, endpoint) in port.endpoints.enumerated() {
                let address = "\(endpoint.ip):\(endpoint.port)"
                let sep = "KUBE-SEP-" + hash(name + port.proto + address)
                natChains.append(sep)
                let remaining = port.endpoints.count - index
                let pick = remaining > 1 ? " -m statistic --mode random --probability \(String(format: "%0.11f", 1.0 / Double(remaining)))" : ""
                perService.append("-A \(svc) -m comment --comment \"\(name) -> \(address)\"\(pick) -j \(sep)")
                perService.append("-A \(sep) -s \(endpoint.ip)/32 -m comment --comment \"\(name)\" -j KUBE-MARK-MASQ")
                perService.append("-A \(sep) -p \(port.proto) -m comment --comment \"\(name)\" -m \(port.proto) -j DNAT --to-destination \(address)")
            }
        }
        nat.append("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
        let filterChains = ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-FORWARD", "KUBE-PROXY-FIREWALL", canary]
        let filter = [
            "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
            "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
            "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES",
            "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
            "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD",
            "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES",
            "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
            "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ] + rejects
        return [("mangle", [canary], []), ("filter", filterChains, filter), ("nat", natChains, nat + perService)]
    }

    /// pkg/proxy/ipvs/proxier.go: the ClusterIPs are matched through ipset KUBE-CLUSTER-IP, the
    /// services themselves are IPVS virtual servers, and no per-service chain exists.
    static func ipvsRules(podCIDR: String) -> [(table: String, chains: [String], rules: [String])] {
        let nat = [
            "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
            "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
            "-A KUBE-POSTROUTING -m comment --comment \"Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose\" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE",
            "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
            "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
            "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully",
            "-A KUBE-SERVICES ! -s \(podCIDR) -m comment --comment \"Kubernetes service cluster ip + port for masquerade purpose\" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ",
            "-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT",
            "-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT",
        ]
        let filter = [
            "-A INPUT -m comment --comment \"kubernetes ipvs access filter\" -j KUBE-IPVS-FILTER",
            "-A INPUT -m comment --comment \"kube-proxy firewall rules\" -j KUBE-PROXY-FIREWALL",
            "-A INPUT -m comment --comment \"kube-proxy firewall rules\" -j KUBE-NODE-PORT",
            "-A FORWARD -m comment --comment \"kube-proxy firewall rules\" -j KUBE-PROXY-FIREWALL",
            "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD",
            "-A OUTPUT -m comment --comment \"kubernetes ipvs access filter\" -j KUBE-IPVS-OUT-FILTER",
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A KUBE-IPVS-FILTER -m set --match-set KUBE-LOAD-BALANCER dst,dst -j RETURN",
            "-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN",
            "-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP dst,dst -j RETURN",
            "-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -j RETURN",
            "-A KUBE-IPVS-FILTER -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j RETURN",
            "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable",
        ]
        return [
            ("nat", ["KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-NODE-PORT", "KUBE-LOAD-BALANCER", "KUBE-MARK-MASQ"], nat),
            ("filter", ["KUBE-FORWARD", "KUBE-NODE-PORT", "KUBE-PROXY-FIREWALL", "KUBE-SOURCE-RANGES-FIREWALL",
                        "KUBE-IPVS-FILTER", "KUBE-IPVS-OUT-FILTER"], filter),
        ]
    }

    /// pkg/proxy/ipvs/ipset.go's sets (IPv4), KUBE-CLUSTER-IP holding every ClusterIP,port and KUBE-IPVS-IPS
    /// every address on kube-ipvs0; each set is flushed and refilled, as the proxier's sync does.
    static func ipsets(ports: [ServicePort]) -> String {
        let sets: [(String, String)] = [
            ("KUBE-LOOP-BACK", "hash:ip,port,ip"), ("KUBE-CLUSTER-IP", "hash:ip,port"), ("KUBE-EXTERNAL-IP", "hash:ip,port"),
            ("KUBE-EXTERNAL-IP-LOCAL", "hash:ip,port"), ("KUBE-LOAD-BALANCER", "hash:ip,port"),
            ("KUBE-LOAD-BALANCER-LOCAL", "hash:ip,port"), ("KUBE-LOAD-BALANCER-FW", "hash:ip,port"),
            ("KUBE-LOAD-BALANCER-SOURCE-IP", "hash:ip,port,ip"), ("KUBE-LOAD-BALANCER-SOURCE-CIDR", "hash:ip,port,net"),
            ("KUBE-NODE-PORT-TCP", "bitmap:port"), ("KUBE-NODE-PORT-UDP", "bitmap:port"),
            ("KUBE-NODE-PORT-LOCAL-TCP", "bitmap:port"), ("KUBE-NODE-PORT-LOCAL-UDP", "bitmap:port"),
            ("KUBE-NODE-PORT-SCTP-HASH", "hash:ip,port"), ("KUBE-NODE-PORT-LOCAL-SCTP-HASH", "hash:ip,port"),
            ("KUBE-HEALTH-CHECK-NODE-PORT", "bitmap:port"), ("KUBE-IPVS-IPS", "hash:ip"),
        ]
        var text = ""
        for (name, type) in sets {
            let options = type == "bitmap:port" ? "range 0-65535" : "family inet hashsize 1024 maxelem 65536"
            text += "create \(name) \(type) \(options)\nflush \(name)\n"
        }
        for port in ports {
            text += "add KUBE-CLUSTER-IP \(port.clusterIP),\(port.proto):\(port.port)\n"
        }
        for ip in Set(ports.map(\.clusterIP)).sorted() { text += "add KUBE-IPVS-IPS \(ip)\n" }
        return text
    }

    /// kube-ipvs0 holding every ClusterIP as /32. The host kernel lacks the dummy module, so a bridge link
    /// stands in: agents only see its name in /sys/class/net (the image has no `ip` to read addresses).
    static func programLink(namespace: String, ports: [ServicePort], errors: inout [String]) {
        if NodeNetworks.run(["ip", "link", "show", "kube-ipvs0"], in: namespace).0 != 0 {
            let made = NodeNetworks.run(["ip", "link", "add", "kube-ipvs0", "type", "bridge"], in: namespace)
            if made.0 != 0 { errors.append("ip link add kube-ipvs0: \(made.1)") }
        }
        let batch = "address flush dev kube-ipvs0\n"
            + Set(ports.map(\.clusterIP)).sorted().map { "address add \($0)/32 dev kube-ipvs0\n" }.joined()
        let added = NodeNetworks.run(["ip", "-force", "-batch", "-"], in: namespace, input: batch)
        if added.0 != 0 { errors.append("ip -batch: \(added.1)") }
    }

    /// pkg/proxy/nftables/proxier.go (the table k/k's proxier tests expect): `service-HASH-ns/name/proto/port`
    /// chains for ports with endpoints, the `service-ips` map pointing at them, and `no-endpoint-services`
    /// elements (`goto reject-chain`) for ports without. The table is added and deleted first in the same
    /// transaction, so a restart replaces whatever an earlier kube-proxy left.
    static func nftables(ports: [ServicePort], podCIDR: String) -> String {
        var text = """
            add table ip kube-proxy
            delete table ip kube-proxy
            add table ip kube-proxy { comment "rules for kube-proxy" ; }
            add chain ip kube-proxy mark-for-masquerade
            add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000
            add chain ip kube-proxy masquerading
            add rule ip kube-proxy masquerading mark and 0x4000 == 0 return
            add rule ip kube-proxy masquerading mark set mark xor 0x4000
            add rule ip kube-proxy masquerading masquerade fully-random
            add chain ip kube-proxy services
            add chain ip kube-proxy firewall-check
            add chain ip kube-proxy endpoints-check
            add chain ip kube-proxy filter-prerouting { type filter hook prerouting priority -110 ; }
            add chain ip kube-proxy filter-forward { type filter hook forward priority -110 ; }
            add chain ip kube-proxy filter-input { type filter hook input priority -110 ; }
            add chain ip kube-proxy filter-output { type filter hook output priority -110 ; }
            add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }
            add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }
            add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
            add chain ip kube-proxy reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }
            add rule ip kube-proxy reject-chain reject
            add rule ip kube-proxy filter-prerouting ct state new jump firewall-check
            add rule ip kube-proxy filter-forward ct state new jump endpoints-check
            add rule ip kube-proxy filter-input ct state new jump endpoints-check
            add rule ip kube-proxy filter-output ct state new jump endpoints-check
            add rule ip kube-proxy filter-output ct state new jump firewall-check
            add rule ip kube-proxy nat-output jump services
            add rule ip kube-proxy nat-postrouting jump masquerading
            add rule ip kube-proxy nat-prerouting jump services
            add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }
            add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
            add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }
            add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }
            add rule ip kube-proxy endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
            add rule ip kube-proxy endpoints-check fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports
            add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
            add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }
            add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
            add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
            add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }

            """
        for port in ports {
            let base = "\(port.namespace)/\(port.name)/\(port.proto)/\(port.portName)"
            let key = "\(port.clusterIP) . \(port.proto) . \(port.port)"
            text += "add element ip kube-proxy cluster-ips { \(port.clusterIP) }\n"
            guard !port.endpoints.isEmpty else {
                text += "add element ip kube-proxy no-endpoint-services { \(key) comment \"\(port.servicePortName)\" : goto reject-chain }\n"
                continue
            }
            let service = "service-\(hash(port.servicePortName + port.proto, length: 8))-\(base)"
            text += "add chain ip kube-proxy \(service)\n"
            text += "add rule ip kube-proxy \(service) ip daddr \(port.clusterIP) \(port.proto) dport \(port.port) ip saddr != \(podCIDR) jump mark-for-masquerade\n"
            var targets: [String] = []
            for (index, endpoint) in port.endpoints.enumerated() {
                let chain = "endpoint-\(hash(port.servicePortName + port.proto + "\(endpoint.ip):\(endpoint.port)", length: 8))-\(base)__\(endpoint.ip)/\(endpoint.port)"
                text += "add chain ip kube-proxy \(chain)\n"
                text += "add rule ip kube-proxy \(chain) ip saddr \(endpoint.ip) jump mark-for-masquerade\n"
                text += "add rule ip kube-proxy \(chain) meta l4proto \(port.proto) dnat to \(endpoint.ip):\(endpoint.port)\n"
                targets.append("\(index) : goto \(chain)")
            }
            text += "add rule ip kube-proxy \(service) numgen random mod \(targets.count) vmap { \(targets.joined(separator: " , ")) }\n"
            text += "add element ip kube-proxy service-ips { \(key) : goto \(service) }\n"
        }
        return text
    }
}
