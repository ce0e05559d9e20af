import Testing
@testable import NodeState

@Suite("local node parsing")
struct LocalNodeTests {
    @Test("ip -o addr show: addresses per link, prefix dropped, peer names cut at @")
    func addresses() {
        let text = """
            1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
            1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever
            2: eth0    inet 192.0.2.7/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever preferred_lft forever
            5: kube-ipvs0    inet 10.96.0.1/32 scope global kube-ipvs0\\       valid_lft forever preferred_lft forever
            5: kube-ipvs0    inet 10.96.0.10/32 scope global kube-ipvs0\\       valid_lft forever preferred_lft forever
            7: veth1@if6    inet 10.244.0.1/24 scope global veth1\\       valid_lft forever preferred_lft forever
            """
        let addresses = LocalNode.parseAddresses(text)
        #expect(addresses["lo"] == ["127.0.0.1", "::1"])
        #expect(addresses["eth0"] == ["192.0.2.7"])
        #expect(addresses["kube-ipvs0"] == ["10.96.0.1", "10.96.0.10"])
        #expect(addresses["veth1"] == ["10.244.0.1"])
    }
}
