import Testing
@testable import NodeState

@Suite("kernel module lists")
struct KernelModulesTests {
    static let procModules = """
        ip_vs_rr 12288 1 - Live 0x0000000000000000
        ip_vs 221184 3 ip_vs_rr, Live 0x0000000000000000
        nf_conntrack 200704 2 ip_vs,nf_nat, Live 0x0000000000000000
        """
    static let builtin = """
        kernel/net/netfilter/nf_tables.ko
        kernel/net/ipv4/netfilter/nf-defrag-ipv4.ko
        """
    static let dep = """
        kernel/net/netfilter/ipvs/ip_vs_sh.ko.xz: kernel/net/netfilter/ipvs/ip_vs.ko.xz
        kernel/net/netfilter/ipvs/ip_vs_wrr.ko.zst: kernel/net/netfilter/ipvs/ip_vs.ko.zst
        kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko
        """

    @Test("loaded beats built in beats loadable; the rest is absent", arguments: [
        ("ip_vs", ModuleState.loaded), ("ip_vs_rr", .loaded), ("nf_tables", .builtin),
        ("nf_defrag_ipv4", .builtin), ("nf-defrag-ipv4", .builtin), ("ip_vs_sh", .loadable),
        ("ip_vs_wrr", .loadable), ("ip_vs_lc", .absent), ("nf_conntrack_ipv4", .absent),
    ])
    func state(_ module: String, _ expected: ModuleState) {
        let modules = KernelModules(procModules: Self.procModules, modulesBuiltin: Self.builtin, modulesDep: Self.dep)
        #expect(modules.state(of: module) == expected)
        #expect(modules.canLoadModules)
    }

    @Test("a kernel without module support: /sys/module lists built-ins and nothing is loadable")
    func noModuleSupport() {
        let modules = KernelModules(procModules: nil, modulesBuiltin: "", modulesDep: Self.dep,
                                    sysModule: ["nf_conntrack", "ip_vs"])
        #expect(!modules.canLoadModules)
        #expect(modules.state(of: "ip_vs") == .builtin)
        #expect(modules.state(of: "ip_vs_sh") == .absent)
    }

    @Test("module file names", arguments: [
        ("kernel/net/netfilter/ipvs/ip_vs_rr.ko.zst", "ip_vs_rr"), ("lib/libcrc32c.ko", "libcrc32c"),
        ("kernel/crypto/crc32c-generic.ko.xz", "crc32c_generic"),
    ])
    func moduleName(_ path: String, _ name: String) {
        #expect(KernelModules.moduleName(path: path) == name)
    }

    @Test("kernel releases compare numerically", arguments: [
        ("6.1.0-28-amd64", 6, 1, 0), ("4.18.0-553.el8_10.x86_64", 4, 18, 0), ("5.13.19", 5, 13, 19),
        ("6.18.44-fc-v657", 6, 18, 44),
    ])
    func kernelRelease(_ text: String, _ major: Int, _ minor: Int, _ patch: Int) throws {
        let release = try #require(KernelRelease(text))
        #expect(release == KernelRelease(major: major, minor: minor, patch: patch))
        #expect(release.text == text)
    }

    @Test("4.18 is older than 4.19 and 5.13 is not older than 5.13.0")
    func ordering() throws {
        #expect(try #require(KernelRelease("4.18.0-553.el8")) < KernelRelease(major: 4, minor: 19))
        #expect(!(try #require(KernelRelease("5.13.0-1")) < KernelRelease(major: 5, minor: 13)))
        #expect(KernelRelease("not-a-kernel") == nil)
    }

    @Test("tool versions as the tools print them", arguments: [
        ("ipset v7.17, protocol version: 7", [7, 17]), ("nftables v1.0.6 (Lester Gooch #5)", [1, 0, 6]),
        ("iptables v1.8.9 (nf_tables)", [1, 8, 9]), ("ipset v6.38, protocol version: 6", [6, 38]),
    ])
    func toolVersion(_ output: String, _ components: [Int]) throws {
        #expect(try #require(ToolVersion(parsing: output)).components == components)
    }

    @Test("tool versions compare with missing components as zero")
    func toolOrdering() {
        #expect(ToolVersion([1, 0]) < ToolVersion([1, 0, 1]))
        #expect(ToolVersion([5, 4]) < ToolVersion([6, 0]))
        #expect(!(ToolVersion([6, 0]) < ToolVersion([6])))
        #expect(ToolVersion(parsing: "no version here") == nil)
    }
}
