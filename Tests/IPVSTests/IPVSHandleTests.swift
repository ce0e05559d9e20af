import Foundation
import Testing
@testable import IPVS

@Suite struct IPVSUnavailabilityTests {
    @Test("a module listed in modules.dep means: not loaded, run modprobe")
    func moduleNotLoaded() {
        let dep = "kernel/net/netfilter/nf_conntrack.ko.xz:\nkernel/net/netfilter/ipvs/ip_vs.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz\n"
        let verdict = IPVSUnavailability.diagnose(
            kernelRelease: "6.1.0-56-amd64", modulesDirectoryExists: true, modulesDep: dep, modulesBuiltin: "")
        #expect(verdict == .moduleNotLoaded(kernelRelease: "6.1.0-56-amd64"))
        #expect(IPVSError.unavailable(verdict).description.contains("`modprobe ip_vs`"))
    }

    @Test("no ip_vs among the modules, or no module tree at all, means the kernel lacks IPVS")
    func notInKernel() {
        let dep = "kernel/net/netfilter/ipvs/ip_vs_rr.ko:\nkernel/fs/ext4/ext4.ko:\n"
        #expect(IPVSUnavailability.diagnose(kernelRelease: "r", modulesDirectoryExists: true, modulesDep: dep,
                                            modulesBuiltin: nil) == .notInKernel(kernelRelease: "r"))
        #expect(IPVSUnavailability.diagnose(kernelRelease: "r", modulesDirectoryExists: false, modulesDep: nil,
                                            modulesBuiltin: nil) == .notInKernel(kernelRelease: "r"))
    }

    @Test("an unreadable module tree is reported as undetermined, suggesting both ways out")
    func undetermined() {
        let verdict = IPVSUnavailability.diagnose(
            kernelRelease: "r", modulesDirectoryExists: true, modulesDep: nil, modulesBuiltin: nil)
        #expect(verdict == .undetermined(kernelRelease: "r"))
        #expect(verdict.description.contains("modprobe ip_vs"))
        #expect(verdict.description.contains("nftables"))
    }
}

// This host's kernel really has no IPVS (and no /lib/modules): genl_ctrl_resolve answers -NLE_OBJ_NOTFOUND.
// The guest tests (IPVSVMTests) cover kernels that have it.
@Suite struct IPVSHostKernelTests {
    static var hostHasIPVS: Bool {
        (try? String(contentsOfFile: "/proc/net/ip_vs", encoding: .utf8)) != nil
    }

    @Test("opening a handle on a kernel without IPVS throws the typed family-absent error",
          .disabled(if: hostHasIPVS, "this host has IPVS; the VM tests cover the other case"))
    func familyAbsent() throws {
        let error = try #require(throws: IPVSError.self) { _ = try IPVSHandle() }
        guard case .unavailable(let reason) = error else {
            Issue.record("expected .unavailable, got \(error)")
            return
        }
        #expect(reason == IPVSUnavailability.diagnoseRunningKernel())
        #expect(error.description.hasPrefix("IPVS not available"))
    }
}
