import NodeState

/// The node checks for a target mode, in the order they run; nil checks for every mode.
public enum NodeChecks {
    public static func checks(
        for target: ProxyMode?, scheduler: String, node: any NodeInspector, ipvs: any IPVSReader
    ) -> [any PreflightCheck] {
        var checks: [any PreflightCheck] = []
        if target == nil || target == .ipvs {
            checks += [
                IPVSKernelSupport(node: node, scheduler: scheduler),
                ConntrackSupport(node: node),
                IPVSNetlinkFamily(node: node, ipvs: ipvs),
                IPSetVersion(node: node),
            ]
        }
        if target != .nftables {
            // iptables <-> ipvs is the pair whose cleanup may run kube-proxy --cleanup.
            checks.append(ForeignIPVSServices(node: node, ipvs: ipvs))
        }
        if target == nil || target == .nftables {
            checks += [NFTablesKernel(node: node), NFTablesVersion(node: node), NFTablesUsable(node: node)]
        }
        checks += [IPTablesBackend(node: node), ModeLeftovers(node: node, target: target), ProxySysctls(node: node)]
        return checks
    }

    /// The modules `--load-modules` may load for IPVS: ip_vs, the scheduler's module and conntrack.
    public static func ipvsModules(scheduler: String, kernel: KernelRelease) -> [String] {
        ["ip_vs", "ip_vs_\(scheduler)", ConntrackSupport.moduleName(for: kernel)]
    }
}

/// Findings shared by checks: the reasons a node check could not look, worded once.
extension Finding {
    static func cannotRun(on node: any NodeInspector, needsPrivilege: Bool = false) -> Finding? {
        if let reason = node.notLinuxReason { return .skipped(reason) }
        if needsPrivilege && !node.isPrivileged {
            return .skipped("needs root (CAP_NET_ADMIN) on the node; run it with sudo")
        }
        return nil
    }

    static func couldNotRead(_ what: String, _ error: any Error) -> Finding {
        .skipped("could not read \(what): \(error)")
    }
}

/// Whether one kernel module is usable: loaded or built in passes; loadable warns (a modprobe away);
/// absent is an error naming the module.
func moduleFinding(_ module: String, in modules: KernelModules, kernel: KernelRelease) -> Finding {
    switch modules.state(of: module) {
    case .loaded:
        return .note("\(module) is loaded", subject: module)
    case .builtin:
        return .note("\(module) is built into kernel \(kernel)", subject: module)
    case .loadable:
        return .warning(
            "\(module) is not loaded; a module file for kernel \(kernel) exists, so modprobe can load it",
            subject: module,
            remediation: "Run 'kpswitch preflight --load-modules' (or 'modprobe \(module)'), and list it in /etc/modules-load.d/ so it loads at boot.")
    case .absent where !modules.canLoadModules:
        return .error(
            "\(module) is not built into kernel \(kernel), which cannot load modules (no /proc/modules)",
            subject: module,
            remediation: "Use a kernel built with IPVS (CONFIG_IP_VS), or migrate to nftables instead (--to nftables).")
    case .absent:
        return .error(
            "\(module) is not loaded, not built into kernel \(kernel), and no module file exists for it",
            subject: module,
            remediation: "Install the kernel's IPVS modules for \(kernel), or migrate to nftables instead (--to nftables).")
    }
}
