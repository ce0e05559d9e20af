import CNetlink
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Everything that can go wrong talking to IPVS or reading ipvsadm text; each description says what
/// failed, where, and what to do next.
public enum IPVSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kernel has no "IPVS" generic-netlink family: the module is not loaded, or the kernel lacks IPVS.
    case unavailable(IPVSUnavailability)
    /// The kernel refused an IPVS command with EPERM: every IPVS command, reads included, needs CAP_NET_ADMIN.
    case permissionDenied(operation: String)
    /// The kernel answered an IPVS command with an error (a positive errno).
    case kernel(operation: String, errno: Int32)
    /// libnl failed before the kernel could answer (a positive `NLE_*` code).
    case netlink(operation: String, code: Int32)
    /// No complete answer arrived within the receive timeout.
    case timedOut(operation: String, seconds: Int)
    /// The kernel's answer did not have the expected shape; nothing of it was used.
    case malformedReply(operation: String, reason: String)
    /// A line of ipvsadm save/restore text that cannot be understood or applied.
    case invalidRule(line: Int, reason: String)
    /// A handle whose socket may hold a stale answer after an earlier timeout.
    case handleUnusable
    /// Several independent operations failed (deleting a set of services); each is listed.
    case several([IPVSError])

    public var description: String {
        switch self {
        case .unavailable(let reason):
            return reason.description
        case .permissionDenied(let operation):
            return "IPVS \(operation): permission denied. Every IPVS netlink command, reading included, needs "
                + "CAP_NET_ADMIN: run kpswitch as root on the node (or with CAP_NET_ADMIN in its network namespace)."
        case .kernel(let operation, let errno):
            return "IPVS \(operation): the kernel answered \(Self.errnoName(errno)) (\(Self.strerror(errno)))."
                + Self.hint(errno)
        case .netlink(let operation, let code):
            return "IPVS \(operation): netlink failure: \(String(cString: nl_geterror(code))) (libnl error \(code))."
        case .timedOut(let operation, let seconds):
            return "IPVS \(operation): no complete answer from the kernel within \(seconds) s. The node may be "
                + "overloaded; retry, and if it persists check `dmesg` for IPVS messages."
        case .malformedReply(let operation, let reason):
            return "IPVS \(operation): the kernel's answer is malformed (\(reason)); nothing of it was used. "
                + "Report the kernel version (`uname -r`) with this message."
        case .invalidRule(let line, let reason):
            return "ipvsadm rules, line \(line): \(reason)."
        case .handleUnusable:
            return "IPVS: this netlink handle timed out earlier and may hold a stale answer; open a new one."
        case .several(let errors):
            return "\(errors.count) IPVS operations failed:\n" + errors.map { "  - \($0)" }.joined(separator: "\n")
        }
    }

    private static func errnoName(_ code: Int32) -> String {
        switch code {
        case EEXIST: "EEXIST"
        case ESRCH: "ESRCH"
        case ENOENT: "ENOENT"
        case EINVAL: "EINVAL"
        case EPERM: "EPERM"
        case ENOMEM: "ENOMEM"
        case EBUSY: "EBUSY"
        default: "errno \(code)"
        }
    }

    private static func strerror(_ code: Int32) -> String {
        Glibc.strerror(code).map { String(cString: $0) } ?? "unknown error"
    }

    private static func hint(_ code: Int32) -> String {
        switch code {
        case EEXIST: " It already exists: edit it instead, or delete it first."
        case ESRCH: " No such service or destination: read the table again; it may have been removed meanwhile."
        case ENOENT: " A scheduler or persistence engine is not available: load its module (e.g. `modprobe ip_vs_rr`)."
        case EINVAL: " The kernel rejected a value (scheduler flags, netmask, weight, or a forwarding method "
            + "that mixed address families do not support)."
        default: ""
        }
    }
}

/// Why the "IPVS" generic-netlink family is missing, judged from `/lib/modules/<release>`.
public enum IPVSUnavailability: Equatable, Sendable, CustomStringConvertible {
    /// `ip_vs` exists as a module for the running kernel but is not loaded.
    case moduleNotLoaded(kernelRelease: String)
    /// The running kernel has neither IPVS built in nor an `ip_vs` module.
    case notInKernel(kernelRelease: String)
    /// The module directory could not be read, so which of the two is unknown.
    case undetermined(kernelRelease: String)

    public var description: String {
        let runbook = " See Runbooks/preflight.md#ipvskernelsupport."
        switch self {
        case .moduleNotLoaded(let release):
            return "IPVS not available: kernel \(release) has the ip_vs module but it is not loaded. Load it with "
                + "`modprobe ip_vs` (kube-proxy in ipvs mode also loads ip_vs_rr, ip_vs_wrr, ip_vs_sh), then retry."
                + runbook
        case .notInKernel(let release):
            return "IPVS not available: kernel \(release) has no IPVS (ip_vs is not loaded and there is no ip_vs "
                + "module under /lib/modules/\(release)). Use a kernel built with CONFIG_IP_VS, or migrate to "
                + "nftables or iptables instead of ipvs." + runbook
        case .undetermined(let release):
            return "IPVS not available: ip_vs is not loaded on kernel \(release), and /lib/modules/\(release) could "
                + "not be read to tell whether it can be. Try `modprobe ip_vs`; if that fails, this kernel has no "
                + "IPVS: use nftables or iptables." + runbook
        }
    }

    /// Judges from `/lib/modules/<release>`: whether it exists, and the text of `modules.dep` and
    /// `modules.builtin` (nil when unreadable).
    static func diagnose(
        kernelRelease: String, modulesDirectoryExists: Bool, modulesDep: String?, modulesBuiltin: String?
    ) -> Self {
        // No module tree at all: nothing could ever be loaded into this kernel.
        guard modulesDirectoryExists else { return .notInKernel(kernelRelease: kernelRelease) }
        guard modulesDep != nil || modulesBuiltin != nil else { return .undetermined(kernelRelease: kernelRelease) }
        func lists(_ text: String?) -> Bool {
            guard let text else { return false }
            return text.split(separator: "\n").contains { line in
                let path = line.split(separator: ":", maxSplits: 1).first ?? line[...]
                let file = path.split(separator: "/").last ?? path
                return file == "ip_vs.ko" || file.hasPrefix("ip_vs.ko.")
            }
        }
        // Built in yet absent cannot normally happen; treat it like a module that did not come up.
        if lists(modulesDep) || lists(modulesBuiltin) { return .moduleNotLoaded(kernelRelease: kernelRelease) }
        return .notInKernel(kernelRelease: kernelRelease)
    }

    /// Looks at the running kernel.
    static func diagnoseRunningKernel() -> Self {
        var names = utsname()
        let release = uname(&names) == 0
            ? withUnsafeBytes(of: &names.release) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            : "unknown"
        let directory = "/lib/modules/\(release)"
        return diagnose(
            kernelRelease: release,
            modulesDirectoryExists: access(directory, F_OK) == 0,
            modulesDep: readSmallFile("\(directory)/modules.dep"),
            modulesBuiltin: readSmallFile("\(directory)/modules.builtin"))
    }

    private static func readSmallFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return count == 0 ? String(decoding: contents, as: UTF8.self) : nil }
            contents.append(contentsOf: chunk[0..<count])
        }
    }
}
