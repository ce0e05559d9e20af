import NodeState
import IPVS

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

/// The "IPVS" generic-netlink family, which kube-proxy and kpswitch talk to. Asked only when ip_vs is
/// loaded or built in: resolving the family on newer kernels can autoload ip_vs, and a check must not.
struct IPVSNetlinkFamily: PreflightCheck {
    let name: CheckName = "IPVSNetlinkFamily"
    let scope: CheckScope = .node
    let node: any NodeInspector
    let ipvs: any IPVSReader

    func run() async -> [Finding] {
        if let skip = Finding.cannotRun(on: node) { return [skip] }
        do {
            switch try await node.kernelModules().state(of: "ip_vs") {
            case .loadable:
                return [.skipped("ip_vs is not loaded yet; the IPVS family appears once it is (--load-modules)")]
            case .absent:
                return [.skipped("ip_vs is absent, so there is no IPVS family to reach (see IPVSKernelSupport)")]
            case .loaded, .builtin:
                break
            }
        } catch {
            return [.couldNotRead("the kernel's module lists", error)]
        }
        do {
            return [.note("the IPVS netlink family answers (IPVS \(try ipvs.version()))", subject: "IPVS")]
        } catch {
            return [.error("the IPVS netlink family does not answer: \(error)", subject: "IPVS",
                           remediation: "Check 'ipvsadm -Ln' on the node; reload ip_vs if it fails too.")]
        }
    }
}

/// IPVS virtual servers that kube-proxy did not create (`KubeProxyIPVSServices` says which it did).
/// `kube-proxy --cleanup` (the init-container cleanup) flushes every virtual server, not only
/// kube-proxy's (k/k #55857), so they would be lost.
struct ForeignIPVSServices: PreflightCheck {
    let name: CheckName = "ForeignIPVSServices"
    let scope: CheckScope = .node
    let node: any NodeInspector
    let ipvs: any IPVSReader
    /// Who owns a virtual server when the node's addresses cannot be read (an agent has no `ip`): the
    /// Services the API lists. Nil on the node itself, which reads kube-ipvs0's addresses.
    var services: (@Sendable () async throws -> ServiceAddresses)?

    func run() async -> [Finding] {
        if let skip = Finding.cannotRun(on: node, needsPrivilege: true) { return [skip] }
        // Without ip_vs in the kernel there are no virtual servers, and asking for the family would make
        // kernels since about 5.16 autoload ip_vs (MODULE_ALIAS_GENL_FAMILY): a check must not load anything.
        do {
            let state = try await node.kernelModules().state(of: "ip_vs")
            guard state == .loaded || state == .builtin else {
                return [.note("ip_vs is not loaded, so there are no IPVS virtual servers", subject: "IPVS")]
            }
        } catch {
            return [.couldNotRead("the kernel's module lists", error)]
        }
        let keys: [IPVSService.Key]
        do {
            keys = try ipvs.serviceKeys()
        } catch let error as IPVSError {
            if case .unavailable = error { return [.skipped("the kernel has no IPVS family, so there are no virtual servers")] }
            return [.couldNotRead("the IPVS table", error)]
        } catch {
            return [.couldNotRead("the IPVS table", error)]
        }
        if keys.isEmpty { return [.note("0 IPVS virtual servers, all kube-proxy's", subject: "IPVS")] }
        let kubeProxys: KubeProxyIPVSServices
        do {
            if let services {
                kubeProxys = KubeProxyIPVSServices(services: try await services())
            } else {
                kubeProxys = KubeProxyIPVSServices(linkAddresses: try await node.interfaceAddresses())
            }
        } catch {
            return [.couldNotRead(services == nil ? "the node's addresses" : "the Services", error)]
        }
        let foreign = keys.filter { !kubeProxys.owns($0) }
        if foreign.isEmpty {
            return [.note("\(keys.count) IPVS virtual servers, all kube-proxy's", subject: "IPVS")]
        }
        let examples = foreign.sorted().prefix(3).map(\.description).joined(separator: ", ")
        return [.warning(
            "\(foreign.count) of \(keys.count) IPVS virtual servers are not kube-proxy's (\(examples)\(foreign.count > 3 ? ", ..." : "")); kube-proxy --cleanup would flush them",
            subject: "IPVS",
            remediation: "Migrate with --cleanup node ('kpswitch cleanup' removes only kube-proxy's services), and save them first: ipvsadm -S -n > ipvs.rules.")]
    }
}
