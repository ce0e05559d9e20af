import NodeState

/// ip_vs and the scheduler's module (`ip_vs_rr` by default), as kube-proxy before 1.27 required them.
struct IPVSKernelSupport: PreflightCheck {
    let name: CheckName = "IPVSKernelSupport"
    let scope: CheckScope = .node
    let node: any NodeInspector
    let scheduler: String

    func run() async -> [Finding] {
        if let skip = Finding.cannotRun(on: node) { return [skip] }
        do {
            let kernel = try await node.kernelRelease()
            let modules = try await node.kernelModules()
            return ["ip_vs", "ip_vs_\(scheduler)"].map { moduleFinding($0, in: modules, kernel: kernel) }
        } catch {
            return [.couldNotRead("the kernel's module lists", error)]
        }
    }
}

/// Connection tracking, which IPVS mode needs: nf_conntrack, or nf_conntrack_ipv4 before kernel 4.19
/// ("nf_conntrack_ipv4 has been removed since v4.19", kube-proxy's ipvs proxier).
struct ConntrackSupport: PreflightCheck {
    let name: CheckName = "ConntrackSupport"
    let scope: CheckScope = .node
    let node: any NodeInspector

    static func moduleName(for kernel: KernelRelease) -> String {
        kernel < KernelRelease(major: 4, minor: 19) ? "nf_conntrack_ipv4" : "nf_conntrack"
    }

    func run() async -> [Finding] {
        if let skip = Finding.cannotRun(on: node) { return [skip] }
        do {
            let kernel = try await node.kernelRelease()
            let module = Self.moduleName(for: kernel)
            return [moduleFinding(module, in: try await node.kernelModules(), kernel: kernel)]
        } catch {
            return [.couldNotRead("the kernel's module lists", error)]
        }
    }
}

/// kube-proxy's IPVS proxier refuses ipset older than 6.0 ("ipset version: %s is less than min required
/// version", pkg/proxy/ipvs/ipset.go).
struct IPSetVersion: PreflightCheck {
    let name: CheckName = "IPSetVersion"
    let scope: CheckScope = .node
    let node: any NodeInspector
    static let minimum = ToolVersion([6, 0])

    func run() async -> [Finding] {
        if let skip = Finding.cannotRun(on: node) { return [skip] }
        do {
            guard let version = try await node.toolVersion("ipset") else {
                return [.skipped("ipset is not installed on this node, so its version cannot be checked")]
            }
            if version < Self.minimum {
                return [.error(
                    "ipset \(version) is older than 6.0, which kube-proxy's IPVS mode requires",
                    subject: "ipset", remediation: "Upgrade ipset to 6.0 or later.")]
            }
            return [.note("ipset \(version)", subject: "ipset")]
        } catch {
            return [.couldNotRead("ipset's version", error)]
        }
    }
}
