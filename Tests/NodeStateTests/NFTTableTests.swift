import NodeState
import Testing

@Suite("nft table names")
struct NFTTableTests {
    @Test("every table of nft list sets output, with sets or without")
    func listSets() {
        // nftables 1.0.6, a node with iptables-nft tables and kube-proxy's nftables-mode table.
        let text = """
            table ip mangle {
            }
            table ip filter {
            }
            table ip kube-proxy {
            \tset cluster-ips {
            \t\ttype ipv4_addr
            \t\tcomment "Active ClusterIPs"
            \t}
            }
            table inet my-table {
            }

            """
        #expect(NFTTable.tables(inListSets: text) == [
            NFTTable(family: "ip", name: "mangle"), NFTTable(family: "ip", name: "filter"),
            NFTTable(family: "ip", name: "kube-proxy"), NFTTable(family: "inet", name: "my-table"),
        ])
        #expect(NFTTable.tables(inListSets: "").isEmpty)
    }
}
