import Foundation
import Testing
@testable import NodeState

@Suite("iptables-save chains")
struct IPTablesChainsTests {
    @Test("the kubeadm node's nat table: kube-proxy chains found, kubelet's left out")
    func fixture() throws {
        let url = try #require(Bundle.module.url(forResource: "iptables-save-kube-proxy-nat", withExtension: "txt", subdirectory: "Fixtures"))
        let chains = try IPTablesChains(backend: .nft, family: .ipv4, save: try String(contentsOf: url, encoding: .utf8))
        let kube = chains.kubeProxyChains
        #expect(kube.contains("nat/KUBE-SERVICES"))
        #expect(kube.contains("nat/KUBE-SVC-NPX46M4PTMTKRN6Y"))
        #expect(kube.contains { $0.hasPrefix("nat/KUBE-SEP-") })
        #expect(!kube.contains("nat/KUBE-KUBELET-CANARY"))
        #expect(chains.chainsByTable["nat"]?.contains("KUBE-KUBELET-CANARY") == true)
        #expect(chains.chainsByTable.keys.sorted() == ["nat"])
    }

    @Test("tables without chains of their own are still tables")
    func emptyTable() throws {
        let chains = try IPTablesChains(backend: .legacy, family: .ipv6, save: "*filter\nCOMMIT\n*nat\n:KUBE-X - [0:0]\nCOMMIT\n")
        #expect(chains.chainsByTable == ["filter": [], "nat": ["KUBE-X"]])
    }

    @Test("text that is not iptables-save output is refused, naming the line")
    func malformed() {
        #expect(throws: NodeStateError.self) {
            _ = try IPTablesChains(backend: .nft, family: .ipv4, save: "*nat\n:KUBE-X - [0:0]\nnot a rule\nCOMMIT\n")
        }
    }
}
