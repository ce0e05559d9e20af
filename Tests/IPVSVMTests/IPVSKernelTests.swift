import Foundation
import Testing
import VMHarness

// Judged against the real kernel (Debian 6.1 under QEMU) and the real ipvsadm 1.31 in one guest boot; see
// Guest/ipvs-scenarios.sh for what ran. Set KPSWITCH_SKIP_VM=1 to skip.
@Suite(.serialized, .enabled(if: VMGuest.isEnabled, "KPSWITCH_SKIP_VM=1 runs host tests only"))
struct IPVSKernelTests {
    @Test("without the IPVS family: a module that is not loaded, and a kernel without ip_vs, are told apart")
    func familyAbsent() async throws {
        let guest = try await IPVSGuest.shared()
        #expect(try guest.status("absent-module-not-loaded") == 3)
        #expect(try guest.errors("absent-module-not-loaded").contains("has the ip_vs module but it is not loaded"))
        #expect(try guest.status("absent-not-in-kernel") == 3)
        #expect(try guest.errors("absent-not-in-kernel").contains("has no IPVS"))
    }

    @Test("without CAP_NET_ADMIN reading is a permission error that says so")
    func permissionDenied() async throws {
        let guest = try await IPVSGuest.shared()
        #expect(try guest.status("probe-nobody") == 4)
        #expect(try guest.errors("probe-nobody").contains("needs CAP_NET_ADMIN"))
    }

    @Test("a mixed table of 1,000+ services programmed with ipvsadm reads back equal to ipvsadm -S -n, as a set")
    func readMatchesIpvsadm() async throws {
        let guest = try await IPVSGuest.shared()
        try guest.expectSuccess("program")
        let expected = try guest.lines("ipvsadm-save")
        #expect(expected.filter { $0.hasPrefix("-A ") }.count == 1012)  // 12 hand-written + 1,000 generated
        try guest.expectSuccess("probe-save")
        let ours = try guest.lines("probe-save")
        #expect(ours.subtracting(expected).sorted() == [])
        #expect(expected.subtracting(ours).sorted() == [])
    }

    @Test("version, table size and timeouts read as ipvsadm prints them")
    func infoAndTimeouts() async throws {
        let guest = try await IPVSGuest.shared()
        let ipvsadmHeader = try #require(try guest.output("ipvsadm-list").split(separator: "\n").first)
        let ipvsadmTimeouts = try guest.output("ipvsadm-timeout").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try guest.output("probe-info") == "\(ipvsadmHeader)\n\(ipvsadmTimeouts)\n")
        #expect(ipvsadmTimeouts == "Timeout (tcp tcpfin udp): 1000 100 200")
    }

    @Test("thresholds, which -S omits, match ipvsadm -L --thresholds for every destination")
    func thresholds() async throws {
        let guest = try await IPVSGuest.shared()
        #expect(try guest.output("probe-save-thresholds").contains("-r 192.168.0.2:6443 -m -w 1 -x 100 -y 10\n"))
        var ipvsadm: [String: String] = [:]
        for line in try guest.output("ipvsadm-thresholds").split(separator: "\n") where line.hasPrefix("  -> ") {
            let fields = line.split(separator: " ")
            guard fields.count == 6, fields[1] != "RemoteAddress:Port" else { continue }
            ipvsadm[String(fields[1]), default: ""] += "\(fields[2])/\(fields[3]) "
        }
        var ours: [String: String] = [:]
        for line in try guest.output("probe-details").split(separator: "\n") where line.hasPrefix("  dest ") {
            let fields = Dictionary(uniqueKeysWithValues: line.split(separator: " ").dropFirst(2).compactMap { field in
                field.split(separator: "=", maxSplits: 1).count == 2
                    ? (String(field.split(separator: "=")[0]), String(field.split(separator: "=")[1])) : nil
            })
            let address = String(line.split(separator: " ")[1])
            let port = fields["port"] ?? "?"
            let name = address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
            ours[name, default: ""] += "\(fields["upper"] ?? "?")/\(fields["lower"] ?? "?") "
        }
        #expect(ipvsadm.count >= 2000)
        #expect(ours == ipvsadm)
    }

    @Test("ipvsadm -R restores our -S text to the same table")
    func ipvsadmRestoresOurText() async throws {
        let guest = try await IPVSGuest.shared()
        try guest.expectSuccess("ipvsadm-restore-ours")
        #expect(try guest.lines("after-ipvsadm-restore") == guest.lines("ipvsadm-save"))
    }

    @Test("what we write, ipvsadm sees identically: a restore of ipvsadm's text, then edits and deletions")
    func writesMatchIpvsadm() async throws {
        let guest = try await IPVSGuest.shared()
        try guest.expectSuccess("probe-restore")
        #expect(try guest.lines("after-probe-restore") == guest.lines("ipvsadm-save"))
        try guest.expectSuccess("probe-apply")
        try guest.expectSuccess("ipvsadm-apply")
        let ours = try guest.lines("after-probe-apply")
        let theirs = try guest.lines("after-ipvsadm-apply")
        #expect(ours.subtracting(theirs).sorted() == [])
        #expect(theirs.subtracting(ours).sorted() == [])
        #expect(ours.contains("-A -t 10.96.0.1:443 -s wlc -p 60 -M 255.255.0.0"))
        // ipvsadm forces the service port onto tunnel and direct-routing servers; so does our parser.
        #expect(ours.contains("-a -t 10.96.0.1:443 -r 192.168.0.3:443 -i -w 4 --tun-type gue --tun-port 5555 --tun-nocsum"))
        #expect(ours.contains("-a -t 10.96.0.40:8080 -r 10.1.0.9:8080 -m -w 9"))
        #expect(try guest.lines("after-probe-apply-thresholds") == guest.lines("after-ipvsadm-apply-thresholds"))
    }

    @Test("deleting a chosen set removes exactly those services and reports the ones already gone")
    func deleteChosenServices() async throws {
        let guest = try await IPVSGuest.shared()
        try guest.expectSuccess("probe-delete")
        #expect(try guest.output("probe-delete") == "absent TCP 10.9.9.9:80\n")
        let gone = ["-t 10.100.0.1:80 ", "-t 10.100.0.2:80 ", "-f 7 -6 "]
        let before = try guest.lines("before-delete")
        let expected = before.filter { line in !gone.contains { line.dropFirst(3).hasPrefix($0) } }
        #expect(before.count - expected.count == 2 * 3 + 2)
        #expect(try guest.lines("after-delete") == expected)
    }

    @Test("a single-service lookup tells present from absent; a missing service's destination dump is empty")
    func lookups() async throws {
        let guest = try await IPVSGuest.shared()
        try guest.expectSuccess("probe-lookup")
        #expect(try guest.output("probe-lookup") == """
            absent TCP 10.100.0.1:80 destinations=0
            present TCP 10.100.0.3:80 destinations=2
            present UDP [fd00::a]:53 destinations=1

            """)
    }
}
