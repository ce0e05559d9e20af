import Foundation
import Testing
import VMHarness

/// `kpswitch preflight` run in the real-kernel guest (Debian's kernel, IPVS as modules), one boot for all
/// module scenarios; each check's JSON comes back and is judged here.
@Suite("node preflight on a real kernel with IPVS modules", .enabled(if: VMGuest.isEnabled, "KPSWITCH_SKIP_VM=1 runs host tests only"))
struct NodePreflightVMTests {
    static let script = """
        . /vm/lib.sh
        preflight() { kpswitch preflight --scope node -o json "$@"; }
        vm_check loadable preflight --to ipvs
        \(NodeAgentVMTests.run(after: "loadable"))
        vm_check still-unloaded sh -c '! grep -q "^ip_vs " /proc/modules'
        vm_check load preflight --to ipvs --load-modules
        vm_check loaded preflight --to ipvs
        \(NodeAgentVMTests.run(after: "loaded"))
        \(VMScenario.module("ip_vs_sh", .absent))
        vm_check absent preflight --to ipvs --scheduler sh
        \(NodeAgentVMTests.run(after: "absent"))
        \(VMScenario.module("ip_vs_wrr", .builtIn))
        vm_check builtin preflight --to ipvs --scheduler wrr
        \(NodeAgentVMTests.run(after: "builtin"))
        ip link add kube-ipvs0 type dummy
        ip addr add 10.96.0.1/32 dev kube-ipvs0
        ipvsadm -A -t 10.96.0.1:443 -s rr
        ipvsadm -A -t 192.0.2.50:80 -s rr
        ipvsadm -A -f 7 -s rr
        vm_check foreign preflight --to iptables
        \(NodeAgentVMTests.run(after: "foreign"))
        iptables-nft-restore < /vm/kube-proxy-nat.rules
        nft add table ip kube-proxy
        nft add chain ip kube-proxy services
        vm_check rules preflight --to nftables
        \(NodeAgentVMTests.run(after: "rules"))
        \(NodeAgentVMTests.bareImage)
        \(NodeAgentVMTests.run(after: "bare", path: "/vm/agent-bin"))
        """

    /// Boots once for the whole suite: TCG boots cost seconds.
    static let run: Task<VMRun, any Error> = Task {
        let rules = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../NodeStateTests/Fixtures/iptables-save-kube-proxy-nat.txt").standardized
        return try await VMGuest.run(
            script: script, files: [try VMFile.product("kpswitch"), .copy(rules, to: "/vm/kube-proxy-nat.rules")] + NodeAgentVMTests.files,
            timeout: .seconds(300))
    }

    struct Report {
        let status: Int32
        let checks: [String: [String: Any]]
        let actions: [[String: Any]]

        func messages(_ check: String) -> [String] {
            (checks[check]?["findings"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
        }

        func status(_ check: String) -> String? { checks[check]?["status"] as? String }
    }

    static func report(_ name: String) async throws -> Report {
        let run = try await run.value.requireSuccess()
        let check = try #require(run.check(name), "no check \(name) in \(run)")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(check.output.utf8)) as? [String: Any], "\(name): \(check.output)")
        var checks: [String: [String: Any]] = [:]
        for item in json["checks"] as? [[String: Any]] ?? [] {
            if let name = item["name"] as? String { checks[name] = item }
        }
        return Report(status: check.status, checks: checks, actions: json["actions"] as? [[String: Any]] ?? [])
    }

    @Test("modules present but not loaded are reported loadable, a warning")
    func loadable() async throws {
        let report = try await Self.report("loadable")
        #expect(report.status == 0)
        #expect(report.status("IPVSKernelSupport") == "warning")
        #expect(report.messages("IPVSKernelSupport").contains { $0.hasPrefix("ip_vs is not loaded; a module file for kernel") })
        #expect(report.status("IPVSNetlinkFamily") == "skipped")
        // No check may load a module: asking for the IPVS family would autoload ip_vs on this kernel.
        #expect(report.messages("ForeignIPVSServices") == ["ip_vs is not loaded, so there are no IPVS virtual servers"])
    }

    @Test("preflight itself loads nothing")
    func loadsNothing() async throws {
        let run = try await Self.run.value.requireSuccess()
        let check = try #require(run.check("still-unloaded"))
        #expect(check.status == 0, "ip_vs was loaded by a preflight without --load-modules: \(check.output)")
    }

    @Test("--load-modules loads them with modprobe and says so; afterwards they are loaded and IPVS answers")
    func load() async throws {
        let report = try await Self.report("load")
        let actions = report.actions.compactMap { $0["message"] as? String }
        #expect(actions.contains("loaded ip_vs with modprobe"))
        #expect(actions.contains("loaded ip_vs_rr with modprobe"))
        #expect(report.status("IPVSKernelSupport") == "passed")
        let after = try await Self.report("loaded")
        #expect(after.messages("IPVSKernelSupport") == ["ip_vs is loaded", "ip_vs_rr is loaded"])
        #expect(after.status("IPVSNetlinkFamily") == "passed")
        #expect(after.messages("IPVSNetlinkFamily").first?.hasPrefix("the IPVS netlink family answers (IPVS 1.2.1)") == true)
    }

    @Test("an absent scheduler module is an ERROR naming it, and preflight exits 3")
    func absent() async throws {
        let report = try await Self.report("absent")
        #expect(report.status == 3)
        #expect(report.status("IPVSKernelSupport") == "error")
        #expect(report.messages("IPVSKernelSupport").contains { $0.hasPrefix("ip_vs_sh is not loaded, not built into kernel") })
    }

    @Test("a module listed in modules.builtin is reported built in")
    func builtin() async throws {
        let report = try await Self.report("builtin")
        #expect(report.messages("IPVSKernelSupport").contains { $0.hasPrefix("ip_vs_wrr is built into kernel") })
    }

    @Test("virtual servers kube-proxy did not make are named; the one on kube-ipvs0 is not")
    func foreign() async throws {
        let report = try await Self.report("foreign")
        #expect(report.status("ForeignIPVSServices") == "warning")
        let message = try #require(report.messages("ForeignIPVSServices").first)
        #expect(message.hasPrefix("2 of 3 IPVS virtual servers are not kube-proxy's"))
        #expect(message.contains("TCP 192.0.2.50:80") && message.contains("FWM 7"))
        #expect(!message.contains("10.96.0.1"))
    }
}
