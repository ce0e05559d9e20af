import Foundation

/// What the running kernel can do with a module, decided the way kube-proxy before 1.27 decided it:
/// `/proc/modules`, then `modules.builtin`, then a module file listed in `modules.dep`.
public enum ModuleState: String, Codable, Sendable {
    case loaded
    case builtin
    /// Not loaded, but a module file for the running kernel exists, so `modprobe` can load it.
    case loadable
    case absent
}

/// The module lists of one kernel, parsed from the files the kernel and depmod write.
public struct KernelModules: Sendable {
    public let loaded: Set<String>
    public let builtin: Set<String>
    public let available: Set<String>
    /// False on a kernel built without module support (no /proc/modules): nothing can be loaded there.
    public let canLoadModules: Bool

    /// - Parameters:
    ///   - procModules: the text of `/proc/modules` (`name size refcount deps state address`), nil when the
    ///     kernel has no module support.
    ///   - modulesBuiltin: `/lib/modules/RELEASE/modules.builtin` (`kernel/net/.../name.ko`), empty if missing.
    ///   - modulesDep: `/lib/modules/RELEASE/modules.dep` (`kernel/.../name.ko[.xz|.zst]: deps`), empty if missing.
    ///   - sysModule: the names under `/sys/module`. Without module support everything there is built in
    ///     (a built-in module with parameters appears there), which is how such kernels are read.
    public init(procModules: String?, modulesBuiltin: String, modulesDep: String, sysModule: [String] = []) {
        let files = modulesDep.split(separator: "\n").compactMap { line in
            line.split(separator: ":", maxSplits: 1).first.flatMap { Self.moduleName(path: $0) }
        }
        self.init(procModules: procModules, modulesBuiltin: modulesBuiltin, loadable: Set(files), sysModule: sysModule)
    }

    /// As above, with the loadable modules already known: those `modprobe -n` resolves on the node, which
    /// is how an agent pod answers (it reads modules.dep through kmod rather than parsing it).
    public init(procModules: String?, modulesBuiltin: String, loadable: Set<String>, sysModule: [String] = []) {
        canLoadModules = procModules != nil
        loaded = Set((procModules ?? "").split(separator: "\n").compactMap { line in
            line.split(separator: " ", maxSplits: 1).first.map { Self.normalise(String($0)) }
        })
        let listed = modulesBuiltin.split(separator: "\n").compactMap { Self.moduleName(path: $0) }
        builtin = Set(listed + (canLoadModules ? [] : sysModule.map(Self.normalise)))
        available = canLoadModules ? Set(loadable.map(Self.normalise)) : []
    }

    public func state(of module: String) -> ModuleState {
        let name = Self.normalise(module)
        if loaded.contains(name) { return .loaded }
        if builtin.contains(name) { return .builtin }
        if available.contains(name) { return .loadable }
        return .absent
    }

    /// The kernel treats `-` and `_` in module names alike; /proc/modules prints `_`.
    static func normalise(_ name: String) -> String {
        name.replacingOccurrences(of: "-", with: "_")
    }

    /// `kernel/net/netfilter/ipvs/ip_vs_rr.ko.zst` → `ip_vs_rr`.
    static func moduleName<S: StringProtocol>(path: S) -> String? {
        guard let file = path.split(separator: "/").last else { return nil }
        guard let range = file.range(of: ".ko") else { return nil }
        let name = file[..<range.lowerBound]
        return name.isEmpty ? nil : normalise(String(name))
    }
}
