import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Runs kpswitch's agent pods (label `app.kubernetes.io/managed-by: kpswitch`) for real: the container's
/// command runs with the host's `/bin/sh` and tools (standing in for the image's) in a network namespace —
/// the node's own when it has one (`netfilter: true`, `NodeNetworks`), else a fresh one — and a mount and
/// pid namespace of its own, chrooted into a root whose `/proc/modules`,
/// `/lib/modules` and `/proc/net/ip_vs` show the node's `ipvs:` profile, so that the real modprobe and
/// grep decide. hostPath volumes under `/var/lib/kpswitch` come from a directory per node that outlives
/// the pod (`hostDirectory(node:)`), so what one agent writes there the next one of that node finds, and a
/// test can read it. Needs root, util-linux's unshare and kmod's depmod (the kube-sim host's tools).
final class AgentPods: Sendable {
    static let label = "app.kubernetes.io/managed-by"

    static func isAgent(_ pod: JSONValue) -> Bool {
        pod[path: ["metadata", "labels", label]]?.stringValue == "kpswitch"
    }

    struct Exit: Sendable {
        let code: Int32
        let output: String
        let deadlineExceeded: Bool
    }

    private final class Running: @unchecked Sendable {
        let process: Process
        let work: URL
        let killedByDeadline = Atomic<Bool>(false)
        init(process: Process, work: URL) {
            self.process = process
            self.work = work
        }

        /// SIGKILL, because unshare --fork ignores SIGTERM while it waits for its child.
        func kill() {
            _ = Glibc.kill(process.processIdentifier, SIGKILL)
        }
    }

    private let running = Mutex<[String: Running]>([:])
    /// One depmod-indexed `/lib/modules` per `ipvs:` profile, built by the first agent pod that needs it and
    /// shared read-only by the rest: depmod per pod would dominate a thousand-node run.
    private let modules = Mutex<[Scenario.IPVSSupport: URL]>([:])
    private let cache = FileManager.default.temporaryDirectory.appendingPathComponent("kube-sim-modules-\(UUID().uuidString)")

    /// Each node's persistent host directories, by node name.
    private let hosts = FileManager.default.temporaryDirectory.appendingPathComponent("kube-sim-hosts-\(UUID().uuidString)")
    /// The host paths an agent may mount from its node; others (`/lib/modules`, the xtables lock) the sandbox provides.
    static let persistentHostPath = "/var/lib/kpswitch"

    deinit {
        try? FileManager.default.removeItem(at: cache)
        try? FileManager.default.removeItem(at: hosts)
    }

    /// Where `node`'s `path` (under `/var/lib/kpswitch`) lives on the kube-sim host.
    func hostDirectory(node: String, path: String = persistentHostPath) -> URL {
        hosts.appendingPathComponent(node).appendingPathComponent(String(path.drop { $0 == "/" }))
    }

    /// `host-directory mount-path` lines for the pod's hostPath volumes under `/var/lib/kpswitch`, made as the
    /// kubelet makes them: `DirectoryOrCreate` creates a missing one 0755; `Directory` requires it.
    func binds(pod: JSONValue, node: String) throws -> [String] {
        let volumes = pod[path: ["spec", "volumes"]]?.arrayValue ?? []
        let mounts = pod[path: ["spec", "containers"]]?.arrayValue?.first?["volumeMounts"]?.arrayValue ?? []
        var lines: [String] = []
        for mount in mounts {
            guard let name = mount["name"]?.stringValue, let target = mount["mountPath"]?.stringValue,
                let volume = volumes.first(where: { $0["name"]?.stringValue == name }),
                let path = volume[path: ["hostPath", "path"]]?.stringValue,
                path == Self.persistentHostPath || path.hasPrefix(Self.persistentHostPath + "/")
            else { continue }
            let directory = hostDirectory(node: node, path: path)
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
                guard volume[path: ["hostPath", "type"]]?.stringValue == "DirectoryOrCreate" else {
                    throw KubeSimError.scenario("hostPath type check failed: \(path) is not a directory")
                }
                try FileManager.default.createDirectory(
                    at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            }
            lines.append("\(directory.path) \(target)")
        }
        return lines
    }

    /// The profile's `/lib/modules` tree, built once.
    private func modulesTree(_ ipvs: Scenario.IPVSSupport) throws -> URL {
        try modules.withLock { built in
            if let tree = built[ipvs] { return tree }
            let tree = cache.appendingPathComponent("\(ipvs.rawValue)/lib/modules")
            try Self.buildModules(tree, ipvs: ipvs)
            built[ipvs] = tree
            return tree
        }
    }

    /// Starts the pod's command; `done` is called once, when it exits or its deadline kills it.
    func start(uid: String, pod: JSONValue, profile: NodeProfile, done: @escaping @Sendable (Exit) -> Void) {
        let argv = pod[path: ["spec", "containers"]]?.arrayValue?.first?["command"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let deadline = pod[path: ["spec", "activeDeadlineSeconds"]]?.intValue
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kube-sim-agent-\(uid)")
        do {
            try Self.prepare(work, profile: profile, modules: modulesTree(profile.ipvs))
            try binds(pod: pod, node: profile.name).map { $0 + "\n" }.joined()
                .write(to: work.appendingPathComponent("binds"), atomically: true, encoding: .utf8)
        } catch {
            done(Exit(code: 128, output: "kube-sim could not prepare the agent's node root: \(error)\n", deadlineExceeded: false))
            return
        }
        let process = Process()
        // A pid namespace of its own: when the deadline or a deletion kills unshare (--kill-child), the kernel
        // kills everything the command started, so the log pipe closes at once.
        let sandbox = ["--mount", "--pid", "--fork", "--kill-child", "/bin/sh", "-c", Self.sandbox, "kube-sim-sandbox", work.path] + argv
        if let namespace = profile.networkNamespace {
            // nsenter execs unshare in the node's namespace, so killing this process still kills the pod.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
            process.arguments = ["--net=\(NodeNetworks.path(namespace))", "/usr/bin/unshare"] + sandbox
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
            process.arguments = ["--net"] + sandbox
        }
        // A container sees its image's PATH and the pod's env, not kube-sim's environment (TMPDIR, say).
        var environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        for variable in pod[path: ["spec", "containers"]]?.arrayValue?.first?["env"]?.arrayValue ?? [] {
            if let name = variable["name"]?.stringValue, let value = variable["value"]?.stringValue { environment[name] = value }
        }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let entry = Running(process: process, work: work)
        do {
            try process.run()
        } catch {
            done(Exit(code: 128, output: "kube-sim could not start unshare: \(error)\n", deadlineExceeded: false))
            return
        }
        running.withLock { $0[uid] = entry }
        if let deadline {
            Task.detached {
                try? await Task.sleep(for: .seconds(deadline))
                if entry.process.isRunning {
                    entry.killedByDeadline.store(true, ordering: .sequentiallyConsistent)
                    entry.kill()
                }
            }
        }
        Thread.detachNewThread { [self] in
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            running.withLock { _ = $0.removeValue(forKey: uid) }
            // The link first, so that removing the work directory cannot reach the shared tree.
            unlink(work.appendingPathComponent("lib/modules").path)
            try? FileManager.default.removeItem(at: work)
            done(Exit(code: process.terminationStatus, output: String(decoding: data, as: UTF8.self),
                      deadlineExceeded: entry.killedByDeadline.load(ordering: .sequentiallyConsistent)))
        }
    }

    /// Kills the agents of pods that no longer exist (deleted).
    func stop(except live: Set<String>) {
        let gone = running.withLock { r in r.filter { !live.contains($0.key) }.map(\.value) }
        for entry in gone where entry.process.isRunning { entry.kill() }
    }

    /// The files the node's profile decides: `/proc/modules`, `lib/modules` (a link to the profile's shared
    /// tree) and `/proc/net/ip_vs` when IPVS is in the kernel.
    static func prepare(_ work: URL, profile: NodeProfile, modules: URL) throws {
        try FileManager.default.createDirectory(at: work.appendingPathComponent("lib"), withIntermediateDirectories: true)
        // The sandbox bind-mounts lib/modules; mount resolves the link.
        try FileManager.default.createSymbolicLink(at: work.appendingPathComponent("lib/modules"), withDestinationURL: modules)
        var loaded = ["nf_conntrack 196608 1 - Live 0x0000000000000000", "nf_tables 348160 0 - Live 0x0000000000000000"]
        if profile.ipvs == .loaded {
            loaded += ["ip_vs 192512 0 - Live 0x0000000000000000", "ip_vs_rr 12288 0 - Live 0x0000000000000000"]
        }
        try (loaded.map { $0 + "\n" }.joined()).write(to: work.appendingPathComponent("modules"), atomically: true, encoding: .utf8)
        if profile.ipvs == .loaded || profile.ipvs == .builtin {
            let table = ipvsHeader + profile.ipvsServices.compactMap(procLine).map { $0 + "\n" }.joined()
            try table.write(to: work.appendingPathComponent("ip_vs"), atomically: true, encoding: .utf8)
        }
    }

    /// `TCP 10.96.0.1:443` as ip_vs_info_seq_show prints it (`%s  %08X:%04X %s`): `TCP  0A600001:01BB rr`;
    /// IPv6 as `[%pI6]:%04X`, each group four hex digits. Nil when it is not that shape.
    static func procLine(_ service: String) -> String? {
        let parts = service.split(separator: " ")
        guard parts.count == 2, ["TCP", "UDP", "SCTP"].contains(parts[0]),
            let colon = parts[1].lastIndex(of: ":"), let port = UInt16(parts[1][parts[1].index(after: colon)...])
        else { return nil }
        var host = String(parts[1][..<colon])
        let hex: String
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            var address = in6_addr()
            guard inet_pton(AF_INET6, host, &address) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &address) { Array($0) }
            let groups = stride(from: 0, to: 16, by: 2).map { String(format: "%02x%02x", bytes[$0], bytes[$0 + 1]) }
            hex = "[\(groups.joined(separator: ":"))]"
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, host, &address) == 1 else { return nil }
            hex = String(format: "%08X", UInt32(bigEndian: address.s_addr))
        }
        return "\(parts[0])  \(hex):\(String(format: "%04X", port)) rr"
    }

    /// `root` (a `.../lib/modules`) holding a `RELEASE` tree that depmod indexes (module files are minimal ELF objects
    /// with a `.modinfo`, enough for depmod and modprobe -n): files for loaded and loadable, `modules.builtin`
    /// entries for builtin, neither for absent.
    static func buildModules(_ root: URL, ipvs: Scenario.IPVSSupport) throws {
        let release = try String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let modules = root.appendingPathComponent(release)
        let ipvsDirectory = modules.appendingPathComponent("kernel/net/netfilter/ipvs")
        try FileManager.default.createDirectory(at: ipvsDirectory, withIntermediateDirectories: true)
        let ipvsModules = ["ip_vs"] + schedulers.map { "ip_vs_\($0)" }
        let builtin = ipvs == .builtin ? ipvsModules.map { "kernel/net/netfilter/ipvs/\($0).ko" } : []
        if ipvs == .loadable || ipvs == .loaded {
            for module in ipvsModules {
                try elfModule(module).write(to: ipvsDirectory.appendingPathComponent("\(module).ko"))
            }
        }
        try (builtin.map { $0 + "\n" }.joined()).write(to: modules.appendingPathComponent("modules.builtin"), atomically: true, encoding: .utf8)
        try "".write(to: modules.appendingPathComponent("modules.order"), atomically: true, encoding: .utf8)
        // depmod -b takes the directory above lib/modules.
        let base = root.deletingLastPathComponent().deletingLastPathComponent()
        let depmod = Process()
        depmod.executableURL = URL(fileURLWithPath: "/usr/sbin/depmod")
        depmod.arguments = ["-b", base.path, release]
        depmod.standardError = FileHandle.nullDevice
        try depmod.run()
        depmod.waitUntilExit()
        guard depmod.terminationStatus == 0 else { throw KubeSimError.scenario("depmod -b \(base.path) failed") }
    }

    static let schedulers = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq"]

    static let ipvsHeader = """
        IP Virtual Server version 1.2.1 (size=4096)
        Prot LocalAddress:Port Scheduler Flags
          -> RemoteAddress:Port Forward Weight ActiveConn InActConn

        """

    /// An ELF64 relocatable object holding only `.modinfo` (`name=`, `depends=`), which is what depmod reads.
    static func elfModule(_ name: String) -> Data {
        let modinfo = Array("name=\(name)\0depends=\0license=GPL\0".utf8)
        let names = Array("\0.modinfo\0.shstrtab\0".utf8)
        let modinfoOffset = 64
        let namesOffset = modinfoOffset + modinfo.count
        let sectionsOffset = (namesOffset + names.count + 7) / 8 * 8
        var bytes: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        put(UInt16(1)); put(UInt16(62)); put(UInt32(1))                    // ET_REL, EM_X86_64, EV_CURRENT
        put(UInt64(0)); put(UInt64(0)); put(UInt64(sectionsOffset))         // entry, phoff, shoff
        put(UInt32(0)); put(UInt16(64)); put(UInt16(0)); put(UInt16(0))     // flags, ehsize, phentsize, phnum
        put(UInt16(64)); put(UInt16(3)); put(UInt16(2))                     // shentsize, shnum, shstrndx
        bytes += modinfo + names
        bytes += [UInt8](repeating: 0, count: sectionsOffset - bytes.count)
        func section(name: UInt32, type: UInt32, flags: UInt64, offset: Int, size: Int) {
            put(name); put(type); put(flags); put(UInt64(0)); put(UInt64(offset)); put(UInt64(size))
            put(UInt32(0)); put(UInt32(0)); put(UInt64(1)); put(UInt64(0))
        }
        bytes += [UInt8](repeating: 0, count: 64)
        section(name: 1, type: 1, flags: 2, offset: modinfoOffset, size: modinfo.count)   // PROGBITS, ALLOC
        section(name: 10, type: 3, flags: 0, offset: namesOffset, size: names.count)      // STRTAB
        return Data(bytes)
    }

    /// Runs in the new namespaces: builds a root from the host's /usr, /etc and /dev with the profile's
    /// /lib/modules, a fresh sysfs (this namespace's links) and a /proc that is the real one except for
    /// `modules` and `net/ip_vs`, then execs the pod's command there.
    static let sandbox = #"""
        set -e
        work=$1; shift
        root=$work/root
        mkdir -p "$root"
        mount -t tmpfs -o mode=0755 tmpfs "$root"
        cd "$root"
        mkdir usr etc dev sys proc tmp run lib .proc
        chmod 1777 tmp
        for d in usr etc dev; do mount --rbind "/$d" "$d"; done
        ln -s usr/bin bin; ln -s usr/sbin sbin; ln -s usr/lib64 lib64
        for e in /usr/lib/*; do [ "${e##*/}" = modules ] || ln -s "$e" "lib/${e##*/}"; done
        mkdir lib/modules
        mount --rbind "$work/lib/modules" lib/modules
        mount -t sysfs sysfs sys
        mount -t proc proc .proc
        mount -t tmpfs -o mode=0755 tmpfs proc
        mkdir proc/sys proc/net
        mount --rbind .proc/sys proc/sys
        if [ -e "$work/ip_vs" ]; then
          mount -t tmpfs -o mode=0755 tmpfs proc/net
          for e in .proc/self/net/*; do
            n=${e##*/}
            if [ -d "$e" ]; then mkdir "proc/net/$n"; else touch "proc/net/$n"; fi
            mount --rbind "$e" "proc/net/$n"
          done
          cp "$work/ip_vs" proc/net/ip_vs
        else
          mount --rbind .proc/self/net proc/net
        fi
        ln -s /.proc/self proc/self
        for f in cmdline filesystems mounts; do touch "proc/$f"; mount --bind ".proc/$f" "proc/$f"; done
        cp "$work/modules" proc/modules
        while read -r source target; do
          mkdir -p "$root$target"
          mount --bind "$source" "$root$target"
        done < "$work/binds"
        cd /
        exec chroot "$root" "$@"
        """#
}
