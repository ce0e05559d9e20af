import Foundation
import Testing
import VMHarness

/// `kpswitch snapshot`, `restore` and `cleanup --mode ipvs` on a real kernel with IPVS, in one boot:
/// kube-proxy's virtual servers (on kube-ipvs0 addresses, a NodePort on a node address) beside
/// foreign ones, its ipset and chains beside foreign ones; judged with ipvsadm, iptables-save and
/// ipset save.
@Suite("node snapshot, restore and cleanup with IPVS on a real kernel", .enabled(if: VMGuest.isEnabled, "KPSWITCH_SKIP_VM=1 runs host tests only"))
struct NodeSnapshotVMTests {
    static let script = #"""
        . /vm/lib.sh
        state() {
            ipvsadm -S -n | sort > "$RESULTS/$1.ipvs"
            iptables-nft-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]/[0:0]/' > "$RESULTS/$1.iptables"
            ipset save > "$RESULTS/$1.ipset"
        }
        # Before ip_vs is loaded: the snapshot must say why there is no table, and load nothing.
        vm_check no-ipvs kpswitch snapshot --scope node --out /tmp/no-ipvs -o json
        vm_check still-unloaded sh -c '! grep -q "^ip_vs " /proc/modules'

        vm_load_ipvs
        kube_ipvs0() {
            ip link add kube-ipvs0 type dummy
            ip addr add 10.96.0.1/32 dev kube-ipvs0
            ip addr add 10.96.0.10/32 dev kube-ipvs0
            ip -6 addr add fd00:10:96::1/128 dev kube-ipvs0
        }
        kube_ipvs0
        ip link add node0 type dummy
        ip addr add 192.168.50.2/24 dev node0
        ip link set node0 up
        ipvsadm -A -t 10.96.0.1:443 -s rr
        ipvsadm -a -t 10.96.0.1:443 -r 192.168.50.10:6443 -m -w 1
        ipvsadm -A -u 10.96.0.10:53 -s rr
        ipvsadm -a -u 10.96.0.10:53 -r 10.244.1.5:53 -m -w 1
        ipvsadm -a -u 10.96.0.10:53 -r 10.244.2.7:53 -m -w 1
        ipvsadm -A -t [fd00:10:96::1]:80 -s rr
        ipvsadm -a -t [fd00:10:96::1]:80 -r [fd00:10:244::5]:8080 -m -w 1
        ipvsadm -A -t 192.168.50.2:30080 -s rr
        ipvsadm -a -t 192.168.50.2:30080 -r 10.244.1.9:8080 -m -w 1
        # Not kube-proxy's: another address, a firewall mark, a node address outside the NodePort range.
        ipvsadm -A -t 192.0.2.50:80 -s wrr -p 300
        ipvsadm -a -t 192.0.2.50:80 -r 192.0.2.60:80 -g -w 3
        ipvsadm -A -f 7 -s sh
        ipvsadm -A -t 192.168.50.2:8080 -s rr
        # ipset names protocols through /etc/protocols, which the guest lacks.
        printf 'tcp 6 TCP\nudp 17 UDP\n' > /etc/protocols
        ipset create KUBE-CLUSTER-IP hash:ip,port
        ipset add KUBE-CLUSTER-IP 10.96.0.1,tcp:443
        ipset create my-allowlist hash:net
        ipset add my-allowlist 192.0.2.0/24
        iptables-nft-restore --noflush <<EOF
        *nat
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :KUBE-SERVICES - [0:0]
        :KUBE-POSTROUTING - [0:0]
        :KUBE-MARK-MASQ - [0:0]
        -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
        -A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
        -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
        -A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT
        -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :MY-FIREWALL - [0:0]
        -A INPUT -p tcp -m tcp --dport 22 -j MY-FIREWALL
        -A MY-FIREWALL -m set --match-set my-allowlist src -j ACCEPT
        COMMIT
        EOF
        state before

        vm_check snapshot kpswitch snapshot --scope node --out /tmp/snap -o json
        B="$(ls -d /tmp/snap/*)"
        cp "$B/ipvsadm.rules" "$RESULTS/bundle.ipvsadm"
        vm_check show kpswitch snapshot show "$B" -o json

        # Wipe what the bundle holds.
        ipvsadm -C
        iptables-nft -t nat -F
        iptables-nft -t nat -X
        iptables-nft -F
        iptables-nft -X
        ipset destroy
        state wiped

        # A tampered ipvs.json: verify and restore fail naming it, and nothing changes.
        cp -a "$B" /tmp/tampered
        sed -i 's/192.0.2.60/192.0.2.61/' /tmp/tampered/ipvs.json
        vm_check tampered-verify kpswitch snapshot verify /tmp/tampered
        vm_check tampered-restore kpswitch restore /tmp/tampered
        state after-tampered

        vm_check restore-dry-run kpswitch restore "$B" --dry-run -o json
        state after-dry-run
        vm_check restore kpswitch restore "$B" -o json
        state restored

        vm_check cleanup-dry-run kpswitch cleanup --mode ipvs --dry-run -o json
        state after-cleanup-dry-run
        \#(NodeAgentCleanupVMTests.script)
        vm_check cleanup kpswitch cleanup --mode ipvs -o json
        state cleaned
        ip -o link show > "$RESULTS/cleaned.links"
        """#

    /// Boots once for the whole suite: TCG boots cost seconds.
    static let run: Task<VMRun, any Error> = Task {
        try await VMGuest.run(
            script: script,
            files: [
                try VMFile.product("kpswitch"),
                // kube-ipvs0.json is `ip -json` output, which busybox's ip cannot write; nodes have iproute2.
                VMFile.copy(URL(fileURLWithPath: "/usr/bin/ip"), to: "/usr/local/sbin/ip"),
            ] + NodeAgentCleanupVMTests.files,
            timeout: .seconds(300))
    }

    static func json(_ name: String) async throws -> [String: Any] {
        let run = try await run.value.requireSuccess()
        let check = try #require(run.check(name), "no check \(name) in \(run)")
        #expect(check.status == 0, "\(check)")
        return try #require(try JSONSerialization.jsonObject(with: Data(check.output.utf8)) as? [String: Any], "\(check)")
    }

    static func result(_ name: String) async throws -> String {
        let run = try await run.value.requireSuccess()
        return try #require(run.result(name), "no \(name) in the results")
    }

    static let kubeProxyLines = [
        "-A -t 10.96.0.1:443 -s rr", "-a -t 10.96.0.1:443 -r 192.168.50.10:6443 -m -w 1",
        "-A -u 10.96.0.10:53 -s rr", "-a -u 10.96.0.10:53 -r 10.244.1.5:53 -m -w 1",
        "-a -u 10.96.0.10:53 -r 10.244.2.7:53 -m -w 1",
        "-A -t [fd00:10:96::1]:80 -s rr", "-a -t [fd00:10:96::1]:80 -r [fd00:10:244::5]:8080 -m -w 1",
        "-A -t 192.168.50.2:30080 -s rr", "-a -t 192.168.50.2:30080 -r 10.244.1.9:8080 -m -w 1",
    ]
    static let foreignLines = [
        "-A -t 192.0.2.50:80 -s wrr -p 300", "-a -t 192.0.2.50:80 -r 192.0.2.60:80 -g -w 3",
        "-A -f 7 -s sh", "-A -t 192.168.50.2:8080 -s rr",
    ]

    static func lines(_ text: String) -> Set<String> {
        Set(text.split(separator: "\n").map(String.init))
    }

    @Test("without ip_vs loaded the snapshot skips the IPVS files, saying why, and loads nothing")
    func withoutIPVS() async throws {
        let snapshot = try await Self.json("no-ipvs")
        let manifest = try #require(snapshot["manifest"] as? [String: Any])
        let skipped = (manifest["skipped"] as? [[String: Any]] ?? []).filter { ($0["name"] as? String)?.hasPrefix("ipvs") == true }
        #expect(skipped.count == 2)
        #expect(skipped.allSatisfy { ($0["reason"] as? String)?.contains("ip_vs is not loaded") == true })
        let unloaded = try #require(try await Self.run.value.check("still-unloaded"))
        #expect(unloaded.status == 0, "the snapshot loaded ip_vs: \(unloaded.output)")
    }

    @Test("the bundle holds ipvs.json, ipvsadm.rules (as ipvsadm -S -n prints the table) and kube-ipvs0.json")
    func bundle() async throws {
        let snapshot = try await Self.json("snapshot")
        let files = ((snapshot["manifest"] as? [String: Any])?["files"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        for name in ["ipvs.json", "ipvsadm.rules", "kube-ipvs0.json", "ipset.rules", "iptables-nft-v4.rules"] {
            #expect(files.contains(name), "\(name) missing from \(files)")
        }
        let before = Self.lines(try await Self.result("before.ipvs"))
        #expect(before == Set(Self.kubeProxyLines + Self.foreignLines))
        #expect(Self.lines(try await Self.result("bundle.ipvsadm")) == before)
    }

    @Test("snapshot show counts the IPVS virtual servers and their real servers")
    func show() async throws {
        let show = try await Self.json("show")
        let programmed = try #require(show["programmed"] as? [[String: Any]])
        let ipvs = try #require(programmed.first { $0["file"] as? String == "ipvs.json" })
        #expect(ipvs["servicePorts"] as? Int == 7)
        #expect(ipvs["endpoints"] as? Int == 6)
    }

    @Test("snapshot, wipe, restore gives back identical ipvsadm -S -n, iptables-save and ipset save")
    func roundTrip() async throws {
        #expect(try await Self.result("wiped.ipvs").isEmpty)
        #expect(try await Self.result("after-dry-run.ipvs").isEmpty, "--dry-run changed the IPVS table")
        let dryRun = try await Self.json("restore-dry-run")
        let steps = (dryRun["steps"] as? [[String: Any]] ?? []).compactMap { $0["file"] as? String }
        #expect(steps.contains("ipvs.json"))
        _ = try await Self.json("restore")
        for part in ["ipvs", "iptables", "ipset"] {
            let before = try await Self.result("before.\(part)")
            #expect(!before.isEmpty)
            #expect(try await Self.result("restored.\(part)") == before, "\(part) differs after restore")
        }
    }

    @Test("a tampered ipvs.json fails verify and restore, naming the file, and the node is not touched")
    func tampered() async throws {
        let run = try await Self.run.value.requireSuccess()
        for name in ["tampered-verify", "tampered-restore"] {
            let check = try #require(run.check(name))
            #expect(check.status == 1, "\(check)")
            #expect(check.output.contains("ipvs.json: SHA-256 is"), "\(check)")
        }
        for part in ["ipvs", "iptables", "ipset"] {
            #expect(try await Self.result("after-tampered.\(part)") == Self.result("wiped.\(part)"))
        }
    }

    @Test("cleanup --mode ipvs removes kube-proxy's virtual servers, kube-ipvs0, its ipset and chains; others stay")
    func cleanup() async throws {
        let dryRun = try await Self.json("cleanup-dry-run")
        let owned = ["TCP 10.96.0.1:443", "TCP 192.168.50.2:30080", "UDP 10.96.0.10:53", "TCP [fd00:10:96::1]:80"]
        #expect(dryRun["ipvsServices"] as? [String] == owned)
        #expect(dryRun["keptIPVSServices"] as? [String] == ["TCP 192.0.2.50:80", "TCP 192.168.50.2:8080", "FWM 7"])
        #expect(dryRun["links"] as? [String] == ["kube-ipvs0"])
        #expect(dryRun["ipsets"] as? [String] == ["KUBE-CLUSTER-IP"])
        for part in ["ipvs", "iptables", "ipset"] {
            #expect(try await Self.result("after-cleanup-dry-run.\(part)") == Self.result("restored.\(part)"),
                    "--dry-run changed \(part)")
        }

        let cleanup = try await Self.json("cleanup")
        #expect(cleanup["ipvsServices"] as? [String] == owned)
        #expect(Self.lines(try await Self.result("cleaned.ipvs")) == Set(Self.foreignLines))
        #expect(!(try await Self.result("cleaned.links")).contains("kube-ipvs0"))
        #expect(try await Self.result("cleaned.ipset").hasPrefix("create my-allowlist "))
        #expect(!(try await Self.result("cleaned.ipset")).contains("KUBE-"))
        let iptables = try await Self.result("cleaned.iptables")
        #expect(!iptables.contains("KUBE-"))
        for line in ["-A INPUT -p tcp -m tcp --dport 22 -j MY-FIREWALL", "-A MY-FIREWALL -m set --match-set my-allowlist src -j ACCEPT"] {
            #expect(iptables.contains(line), "lost '\(line)'")
        }
    }
}
