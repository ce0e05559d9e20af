import Foundation
import IPVS
import KubeAPI
import Testing

@testable import KPSwitch

@Suite("bundle files: ipvs.json and the cluster part's ConfigMaps")
struct BundleFilesTests {
    static func address(_ text: String) throws -> IPVSAddress {
        try #require(IPVSAddress(text))
    }

    static func table() throws -> IPVSTable {
        IPVSTable(entries: [
            .init(
                service: IPVSService(
                    key: .endpoint(.tcp, try address("192.0.2.50"), port: 80), scheduler: "wrr", flags: [.persistent],
                    persistenceTimeout: 300, netmask: 0xffff_ff00),
                destinations: [
                    IPVSDestination(address: try address("192.0.2.61"), port: 80, forwarding: .tunnel, weight: 2,
                                    upperThreshold: 10, lowerThreshold: 5, tunnel: IPVSTunnel(kind: .gue, port: 5555, flags: [.checksum])),
                    IPVSDestination(address: try address("192.0.2.60"), port: 80, forwarding: .directRoute, weight: 3),
                ]),
            .init(service: IPVSService(key: .firewallMark(7, .ipv6), scheduler: "sh", flags: [.scheduler1, .scheduler2]),
                  destinations: []),
            .init(
                service: IPVSService(key: .endpoint(.udp, try address("fd00:10:96::a"), port: 53), scheduler: "rr",
                                     persistenceEngine: "sip"),
                destinations: [IPVSDestination(address: try address("fd00:10:244::5"), port: 53)]),
        ])
    }

    @Test("ipvs.json gives back the same table, sorted, whatever order the kernel listed it in")
    func roundTrip() throws {
        let original = try Self.table()
        let data = try IPVSTableFile(original).encoded()
        let decoded = try IPVSTableFile.decode(data).table()
        #expect(Set(decoded.entries.map(\.service)) == Set(original.entries.map(\.service)))
        for entry in original.entries {
            let back = try #require(decoded.entries.first { $0.service.key == entry.service.key })
            #expect(Set(back.destinations) == Set(entry.destinations))
        }
        #expect(decoded.entries.map(\.service.key) == original.entries.map(\.service.key).sorted())
        let shuffled = IPVSTable(entries: original.entries.reversed())
        #expect(try IPVSTableFile(shuffled).encoded() == data)
    }

    @Test("an ipvs.json that does not describe a service is an error naming the file and the service",
          arguments: [
            (#"{"services":[{"family":"ipv4","scheduler":"rr","flags":0,"persistenceTimeout":0,"netmask":0,"destinations":[]}]}"#, "service 1 needs protocol"),
            (#"{"services":[{"protocol":6,"address":"10.0.0.1","port":80,"family":"ipv6","scheduler":"rr","flags":0,"persistenceTimeout":0,"netmask":0,"destinations":[]}]}"#, "service 1 needs protocol"),
            (#"{"services":[{"protocol":6,"address":"10.0.0.1","port":80,"family":"ipv4","scheduler":"rr","flags":0,"persistenceTimeout":0,"netmask":0,"destinations":[{"address":"10.0.0.2","port":80,"forwarding":"nat","weight":1,"upperThreshold":0,"lowerThreshold":0,"tunnelType":0,"tunnelPort":0,"tunnelFlags":0}]}]}"#, "TCP 10.0.0.1:80 has a destination with forwarding 'nat'"),
            ("[]", "it is not the JSON kpswitch writes"),
          ])
    func invalid(_ item: (json: String, reason: String)) throws {
        #expect {
            try IPVSTableFile.decode(Data(item.json.utf8)).table()
        } throws: { error in
            let text = String(describing: error)
            return text.hasPrefix("ipvs.json: ") && text.contains(item.reason)
        }
    }

    @Test("the ConfigMaps a DaemonSet mounts: plain and projected volumes, each once, in volume order")
    func configMapNames() {
        let daemonSet = DaemonSet(json: [
            "spec": ["template": ["spec": ["volumes": [
                ["name": "kubeconfig", "configMap": ["name": "kube-proxy"]],
                ["name": "lib-modules", "hostPath": ["path": "/lib/modules"]],
                ["name": "all", "projected": ["sources": [
                    ["configMap": ["name": "kube-proxy-config"]], ["secret": ["name": "x"]], ["configMap": ["name": "kube-proxy"]],
                ]]],
            ]]]],
        ])
        #expect(ClusterCapture.configMapNames(daemonSet) == ["kube-proxy", "kube-proxy-config"])
    }

    @Test("kube-proxy's virtual servers: on kube-ipvs0, or a NodePort on a node address; never a firewall mark")
    func ownership() throws {
        let rule = KubeProxyIPVSServices(linkAddresses: ["kube-ipvs0": ["10.96.0.1"], "eth0": ["192.168.1.5"]])
        #expect(rule.owns(.endpoint(.tcp, try Self.address("10.96.0.1"), port: 443)))
        #expect(rule.owns(.endpoint(.udp, try Self.address("192.168.1.5"), port: 30053)))
        #expect(!rule.owns(.endpoint(.tcp, try Self.address("192.168.1.5"), port: 8080)))
        #expect(!rule.owns(.endpoint(.tcp, try Self.address("192.0.2.1"), port: 30080)))
        #expect(!rule.owns(.firewallMark(7, .ipv4)))
    }
}
