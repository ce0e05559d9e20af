import Crypto
import Foundation

/// Writes the iptables-save text kube-proxy in iptables mode programs for N ClusterIP services
/// (`pkg/proxy/iptables/proxier.go` layout, chain names hashed exactly as kube-proxy hashes them),
/// for loading into a test namespace with iptables-restore.
///
/// Usage: kube-proxy-ruleset N [--ipv6]   (the text on stdout, the expected counts on stderr)
@main
struct KubeProxyRuleset {
    /// Every 10th service has no endpoints (filter REJECT); the others have 1 to 3.
    static func endpointCount(ofService index: Int) -> Int {
        index % 10 == 9 ? 0 : index % 3 + 1
    }

    /// kube-proxy's `portProtoHash`: base32(SHA-256(text)) cut to 16 characters.
    static func chainHash(_ text: String) -> String {
        let digest = Array(SHA256.hash(data: Data(text.utf8)))
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var output = ""
        var buffer = 0
        var bits = 0
        for byte in digest {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 && output.count < 16 {
                output.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
            buffer &= (1 << bits) - 1
            if output.count == 16 { break }
        }
        return output
    }

    static func serviceChain(_ servicePortName: String) -> String { "KUBE-SVC-" + chainHash(servicePortName + "tcp") }
    static func endpointChain(_ servicePortName: String, _ endpoint: String) -> String {
        "KUBE-SEP-" + chainHash(servicePortName + "tcp" + endpoint)
    }

    struct Generated {
        let text: String
        let servicePorts: Int
        let endpoints: Int
    }

    static func generate(services count: Int, ipv6: Bool = false) -> Generated {
        let host = ipv6 ? "/128" : "/32"
        let podCIDR = ipv6 ? "fd00:10:244::/48" : "10.244.0.0/16"
        let reject = ipv6 ? "icmp6-port-unreachable" : "icmp-port-unreachable"
        func clusterIP(_ i: Int) -> String {
            ipv6 ? "fd00:10:96::\(String(i + 10, radix: 16))" : "10.\(96 + (i + 10) >> 16).\(((i + 10) >> 8) & 255).\((i + 10) & 255)"
        }
        func podIP(_ n: Int) -> String {
            ipv6 ? "fd00:10:244::\(String(n + 2, radix: 16))" : "10.244.\((n + 2) >> 8 & 255).\((n + 2) & 255)"
        }
        func endpoint(_ n: Int) -> String { ipv6 ? "[\(podIP(n))]:8080" : "\(podIP(n)):8080" }

        var natChains = [
            "KUBE-KUBELET-CANARY", "KUBE-MARK-MASQ", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-PROXY-CANARY", "KUBE-SERVICES",
        ]
        var natRules = [
            "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
            "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
            "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
            "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
            "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully",
        ]
        var filterRejects: [String] = []
        var endpointsTotal = 0
        var chainRules: [String] = []
        for i in 0..<count {
            let name = "ns-\(i % 50)/svc-\(i):http"
            let ip = clusterIP(i)
            let n = endpointCount(ofService: i)
            if n == 0 {
                filterRejects.append(
                    "-A KUBE-SERVICES -d \(ip)\(host) -p tcp -m comment --comment \"\(name) cluster IP has no endpoints\" -m tcp --dport 80 -j REJECT --reject-with \(reject)")
                continue
            }
            let svc = serviceChain(name)
            natChains.append(svc)
            natRules.append(
                "-A KUBE-SERVICES -d \(ip)\(host) -p tcp -m comment --comment \"\(name) cluster IP\" -m tcp --dport 80 -j \(svc)")
            chainRules.append(
                "-A \(svc) ! -s \(podCIDR) -d \(ip)\(host) -p tcp -m comment --comment \"\(name) cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ")
            for j in 0..<n {
                let ep = endpoint(endpointsTotal)
                let pod = podIP(endpointsTotal)
                endpointsTotal += 1
                let sep = endpointChain(name, ep)
                natChains.append(sep)
                let pick = j < n - 1 ? " -m statistic --mode random --probability \(String(format: "%0.10f", 1.0 / Double(n - j)))" : ""
                chainRules.append("-A \(svc) -m comment --comment \"\(name) -> \(ep)\"\(pick) -j \(sep)")
                chainRules.append("-A \(sep) -s \(pod)\(host) -m comment --comment \"\(name)\" -j KUBE-MARK-MASQ")
                chainRules.append("-A \(sep) -p tcp -m comment --comment \"\(name)\" -m tcp -j DNAT --to-destination \(ep)")
            }
        }
        natRules.append(
            "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
        natRules += chainRules

        let localnet = ipv6 ? [] : [
            "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
        ]
        let filterRules = [
            "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
            "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
            "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES",
            "-A INPUT -j KUBE-FIREWALL",
            "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
            "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD",
            "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES",
            "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
            "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A OUTPUT -j KUBE-FIREWALL",
        ] + localnet + [
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ] + filterRejects

        var text = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        text += ":POSTROUTING ACCEPT [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\n:KUBE-PROXY-CANARY - [0:0]\nCOMMIT\n"
        text += "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        for chain in [
            "KUBE-EXTERNAL-SERVICES", "KUBE-FIREWALL", "KUBE-FORWARD", "KUBE-KUBELET-CANARY", "KUBE-NODEPORTS",
            "KUBE-PROXY-CANARY", "KUBE-PROXY-FIREWALL", "KUBE-SERVICES",
        ] {
            text += ":\(chain) - [0:0]\n"
        }
        text += filterRules.joined(separator: "\n") + "\nCOMMIT\n"
        text += "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
        text += natChains.map { ":\($0) - [0:0]\n" }.joined()
        text += natRules.joined(separator: "\n") + "\nCOMMIT\n"
        return Generated(text: text, servicePorts: count, endpoints: endpointsTotal)
    }

    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let first = arguments.first, let count = Int(first), count >= 0 else {
            FileHandle.standardError.write(Data("usage: kube-proxy-ruleset N [--ipv6]\n".utf8))
            exit(2)
        }
        let generated = generate(services: count, ipv6: arguments.contains("--ipv6"))
        FileHandle.standardOutput.write(Data(generated.text.utf8))
        FileHandle.standardError.write(
            Data("service ports \(generated.servicePorts), endpoints \(generated.endpoints)\n".utf8))
    }
}
