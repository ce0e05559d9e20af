import Testing

@testable import IPVS

@Suite("/proc/net/ip_vs")
struct IPVSProcTableTests {
    // As a 6.1 kernel prints it (ip_vs_info_seq_show): IPv4 hex in network order, IPv6 in brackets, FWM.
    static let text = """
        IP Virtual Server version 1.2.1 (size=4096)
        Prot LocalAddress:Port Scheduler Flags
          -> RemoteAddress:Port Forward Weight ActiveConn InActConn
        TCP  0A600001:01BB rr
          -> C0A80A05:192B      Masq    1      0          0
        UDP  0A60000A:0035 rr
        TCP  C0000232:0050 sh persistent 360
        TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:0050 wrr
          -> [2001:0db8:0000:0000:0000:0000:0000:0002]:0050      Masq    1      0          0
        FWM  00000007 rr

        """

    @Test("services of every kind come out as the netlink reader keys them")
    func parses() throws {
        let table = try IPVSProcTable(parsing: Self.text)
        #expect(table.version == "1.2.1")
        let address = { (text: String) in try #require(IPVSAddress(text)) }
        #expect(table.serviceKeys == [
            .endpoint(.tcp, try address("10.96.0.1"), port: 443),
            .endpoint(.udp, try address("10.96.0.10"), port: 53),
            .endpoint(.tcp, try address("192.0.2.50"), port: 80),
            .endpoint(.tcp, try address("2001:db8::1"), port: 80),
            .firewallMark(7, .ipv4),
        ])
    }

    @Test("an empty table is empty; a table that is not one is refused", arguments: [
        ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n", true),
        ("", false),
        ("IP Virtual Server version 1.2.1 (size=4096)\nTCP  0A6000:01BB rr\n", false),
        ("IP Virtual Server version 1.2.1 (size=4096)\nICMP  0A600001:01BB rr\n", false),
    ])
    func edges(text: String, valid: Bool) {
        #expect((try? IPVSProcTable(parsing: text))?.serviceKeys.isEmpty == (valid ? true : nil))
    }
}
