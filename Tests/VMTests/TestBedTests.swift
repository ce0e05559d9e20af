import Foundation
import Testing
import VMHarness

/// The test bed on the real kernel: IPVS programmed with ipvsadm, the three module states node-scope
/// code meets, and a binary of this package running in the guest. One boot serves every test here
/// (boots cost seconds under TCG); each test asserts on its own checks.
@Suite("real-kernel test bed", .enabled(if: VMGuest.isEnabled, "KPSWITCH_SKIP_VM=1 runs host tests only"))
struct TestBedTests {
    /// The NAT service of fixtures/ipvsadm-save-sample.txt (a real `ipvsadm -S -n` capture), in the
    /// order ipvsadm saves it.
    static let sampleSave = """
        -A -t 9.111.255.240:80 -s rr
        -a -t 9.111.255.240:80 -r 9.111.255.32:80 -m -w 1
        -a -t 9.111.255.240:80 -r 9.111.255.167:80 -m -w 1

        """

    static let script = """
        . /vm/lib.sh

        # Present, not loaded: modprobe must load ip_vs and its dependencies (libcrc32c's softdep on crc32c).
        # kmod by path: busybox sh would run its own modprobe applet, which ignores softdeps.
        \(VMScenario.module("ip_vs", .notLoaded))
        vm_check ip_vs-loaded-before vm_loaded ip_vs
        vm_check modprobe-ip_vs /usr/sbin/modprobe ip_vs
        vm_check modules-after cat /proc/modules

        # Built in for real: Debian builds ipv6 into the kernel.
        vm_check ipv6-in-builtin grep -x kernel/net/ipv6/ipv6.ko /lib/modules/$KVER/modules.builtin
        vm_check modprobe-ipv6 /usr/sbin/modprobe ipv6
        vm_check show-depends-ipv6 /usr/sbin/modprobe --show-depends ipv6
        vm_check ipv6-loaded vm_loaded ipv6

        # Built in through modules.builtin alone.
        \(VMScenario.module("ip_vs_wrr", .builtIn))
        vm_check show-depends-wrr /usr/sbin/modprobe --show-depends ip_vs_wrr
        vm_check modprobe-wrr /usr/sbin/modprobe ip_vs_wrr
        vm_check wrr-loaded vm_loaded ip_vs_wrr

        # Absent.
        \(VMScenario.module("ip_vs_sh", .absent))
        vm_check modprobe-sh /usr/sbin/modprobe ip_vs_sh

        # IPVS programmed with ipvsadm, then saved.
        ipvsadm -A -t 9.111.255.240:80 -s rr
        ipvsadm -a -t 9.111.255.240:80 -r 9.111.255.32:80 -m -w 1
        ipvsadm -a -t 9.111.255.240:80 -r 9.111.255.167:80 -m -w 1
        ipvsadm -S -n > $RESULTS/sample-save.txt
        ipvsadm -A -u 10.96.0.10:53 -s rr -p 10800
        ipvsadm -a -u 10.96.0.10:53 -r 10.244.1.5:53 -m -w 1
        ipvsadm -a -u 10.96.0.10:53 -r 10.244.2.7:53 -m -w 2
        ipvsadm -S -n > $RESULTS/two-services-save.txt

        # A binary of this package, packed with what it needs.
        vm_check kpswitch-version kpswitch --version
        """

    static let boot = Task {
        try await VMGuest.run(script: script, files: [try VMFile.product("kpswitch")]).requireSuccess()
    }

    @Test("ipvsadm programs the kernel's IPVS and ipvsadm -S -n saves it as the real capture shows")
    func ipvsadmProgramsAndSaves() async throws {
        let run = try await Self.boot.value
        #expect(run.result("sample-save.txt") == Self.sampleSave)
        let saved = Set((run.result("two-services-save.txt") ?? "").split(separator: "\n").map(String.init))
        let expected: Set<String> = [
            "-A -t 9.111.255.240:80 -s rr",
            "-a -t 9.111.255.240:80 -r 9.111.255.32:80 -m -w 1",
            "-a -t 9.111.255.240:80 -r 9.111.255.167:80 -m -w 1",
            "-A -u 10.96.0.10:53 -s rr -p 10800",
            "-a -u 10.96.0.10:53 -r 10.244.1.5:53 -m -w 1",
            "-a -u 10.96.0.10:53 -r 10.244.2.7:53 -m -w 2",
        ]
        #expect(saved == expected)
    }

    @Test("a module present but not loaded is loaded by modprobe with its dependencies")
    func presentNotLoaded() async throws {
        let run = try await Self.boot.value
        let before = try #require(run.check("ip_vs-loaded-before"))
        #expect(before.status == 1, "ip_vs was loaded before modprobe: \(before)")
        let modprobe = try #require(run.check("modprobe-ip_vs"))
        #expect(modprobe.status == 0, "\(modprobe)")
        let loaded = try #require(run.check("modules-after")).output
            .split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        for module in ["ip_vs", "nf_conntrack", "libcrc32c", "crc32c_generic", "nf_defrag_ipv4", "nf_defrag_ipv6"] {
            #expect(loaded.contains(module), "\(module) not in /proc/modules after modprobe ip_vs: \(loaded)")
        }
    }

    @Test("a module the kernel has built in is reported by modprobe and never appears in /proc/modules")
    func builtIn() async throws {
        let run = try await Self.boot.value
        // Truly built in (Debian's ipv6) and listed in modules.builtin only (ip_vs_wrr) look the same to
        // kmod: modprobe succeeds, loads nothing, and names the module built in.
        #expect(run.check("ipv6-in-builtin")?.status == 0)
        for module in ["ipv6", "wrr"] {
            let modprobe = try #require(run.check("modprobe-\(module)"))
            #expect(modprobe.status == 0, "\(modprobe)")
            #expect(run.check("\(module)-loaded")?.status == 1, "\(module) appears in /proc/modules")
            let shown = try #require(run.check("show-depends-\(module)"))
            #expect(shown.output.contains("builtin"), "\(shown)")
        }
    }

    @Test("modprobe of an absent module fails naming it")
    func absent() async throws {
        let run = try await Self.boot.value
        let modprobe = try #require(run.check("modprobe-sh"))
        #expect(modprobe.status != 0)
        #expect(modprobe.output.contains("ip_vs_sh not found"), "\(modprobe)")
    }

    @Test("a binary of this package runs in the guest")
    func packageBinaryRuns() async throws {
        let run = try await Self.boot.value
        let version = try #require(run.check("kpswitch-version"))
        #expect(version.status == 0, "\(version)")
        #expect(version.output.split(separator: ".").count == 3, "\(version)")
    }
}
