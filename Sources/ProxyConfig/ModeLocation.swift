import Foundation

/// Where a kube-proxy DaemonSet's mode is decided: a ConfigMap key read through `--config`, or flags.
public struct ModeLocation: Hashable, Sendable {
    public enum Source: Hashable, Sendable {
        /// `--config=<path>` reads `key` of ConfigMap `configMap` through the volume `volume`.
        case configMap(name: String, key: String, volume: String, configPath: String)
        /// No `--config`: the flags are authoritative; `value` is `--proxy-mode`'s, nil when absent (iptables).
        case flag(value: String?)
    }

    public let daemonSet: String
    public let container: String
    public let source: Source

    /// Finds the mode of `daemonSet` by reading its container's command and args, then the volume
    /// mounted at the `--config` path. When `--config` is given, kube-proxy ignores `--proxy-mode`
    /// (`Complete()` in k/k `cmd/kube-proxy/app/options.go`).
    public static func locate(in daemonSet: KubeProxyObjects.DaemonSet) throws(ProxyConfigError) -> ModeLocation {
        let spec = daemonSet.spec.template.spec
        let name = daemonSet.metadata.name
        guard let container = spec.containers.first(where: { $0.name == "kube-proxy" })
            ?? spec.containers.first(where: { Self.arguments(of: $0).contains { $0.hasSuffix("kube-proxy") } })
            ?? (spec.containers.count == 1 ? spec.containers.first : nil)
        else {
            throw ProxyConfigError(
                .notFound, "DaemonSet \(name) has no kube-proxy container.",
                remediation: "Check which container runs kube-proxy and migrate it by hand.", runbook: .migrate("locate-mode"))
        }
        let arguments = Self.arguments(of: container)
        guard let configPath = flagValue("--config", in: arguments) else {
            return ModeLocation(daemonSet: name, container: container.name,
                                source: .flag(value: flagValue("--proxy-mode", in: arguments)))
        }
        let mounts = (container.volumeMounts ?? []).sorted { $0.mountPath.count > $1.mountPath.count }
        guard let mount = mounts.first(where: { configPath == $0.mountPath || configPath.hasPrefix(Self.directory($0.mountPath)) })
        else {
            throw ProxyConfigError(
                .notFound, "DaemonSet \(name): no volume is mounted at kube-proxy's --config path \(configPath).",
                remediation: "The configuration comes from the image or the node; change it there.", runbook: .migrate("locate-mode"))
        }
        guard let volume = spec.volumes?.first(where: { $0.name == mount.name }), let configMap = volume.configMap else {
            throw ProxyConfigError(
                .unsupportedLayout,
                "DaemonSet \(name): --config=\(configPath) is on volume \(mount.name), which is not a ConfigMap.",
                remediation: "kpswitch migrates only ConfigMap-backed configurations; edit the file where it comes from.",
                runbook: .migrate("locate-mode"))
        }
        let relative = configPath == mount.mountPath
            ? (mount.subPath ?? "") : String(configPath.dropFirst(Self.directory(mount.mountPath).count))
        let key = configMap.items?.first(where: { $0.path == relative })?.key ?? relative
        guard !key.isEmpty, !key.contains("/") || configMap.items != nil else {
            throw ProxyConfigError(
                .unsupportedLayout, "DaemonSet \(name): --config=\(configPath) does not name a key of ConfigMap \(configMap.name).",
                remediation: "Check the volume's items and the --config path.", runbook: .migrate("locate-mode"))
        }
        return ModeLocation(daemonSet: name, container: container.name,
                            source: .configMap(name: configMap.name, key: key, volume: volume.name, configPath: configPath))
    }

    private static func directory(_ path: String) -> String { path.hasSuffix("/") ? path : path + "/" }

    /// Command then args, with `sh -c "kube-proxy --config=..."` strings split on whitespace.
    static func arguments(of container: KubeProxyObjects.Container) -> [String] {
        ((container.command ?? []) + (container.args ?? [])).flatMap { argument in
            argument.contains(where: \.isWhitespace) ? argument.split(whereSeparator: \.isWhitespace).map(String.init) : [argument]
        }
    }

    /// The value of `--flag=value` or `--flag value` (pflag accepts both, and one leading dash too).
    static func flagValue(_ flag: String, in arguments: [String]) -> String? {
        var value: String?
        for (index, argument) in arguments.enumerated() {
            let bare = argument.hasPrefix("--") ? argument : "-" + argument
            if bare.hasPrefix(flag + "=") {
                value = String(bare.dropFirst(flag.count + 1))
            } else if bare == flag, index + 1 < arguments.count {
                value = arguments[index + 1]
            }
        }
        return value
    }

    /// The container's args rewritten for `target`, for kube-proxy configured by flags (no `--config`).
    ///
    /// The same edits as for a configuration file become flags: `--proxy-mode`, `--ipvs-scheduler`,
    /// `--ipvs-strict-arp` and `--feature-gates` (merged into an existing list). An existing flag in args is
    /// replaced in place; a missing one is appended, and since pflag keeps the last value, an appended flag
    /// also overrides one given in the command.
    public static func args(
        _ args: [String], command: [String] = [], to target: ProxyTarget, version: KubernetesVersion
    ) throws(ProxyConfigError) -> [String] {
        let all = command + args
        let gates = flagValue("--feature-gates", in: all) ?? ""
        let nftablesGate = gates.split(separator: ",").compactMap { entry -> Bool? in
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return parts.count == 2 && parts[0] == "NFTablesProxyMode" ? parts[1].lowercased() == "true" : nil
        }.last
        let current = KubeProxyConfigurationSummary(
            mode: flagValue("--proxy-mode", in: all) ?? "", ipvsScheduler: flagValue("--ipvs-scheduler", in: all),
            nftablesFeatureGate: nftablesGate)
        var result = args
        for edit in try target.edits(for: version, current: current) {
            switch edit.path {
            case ConfigEdit.modeKey: result = setting("--proxy-mode", to: edit.value.description, in: result)
            case ConfigEdit.schedulerKey: result = setting("--ipvs-scheduler", to: edit.value.description, in: result)
            case ConfigEdit.strictARPKey: result = setting("--ipvs-strict-arp", to: edit.value.description, in: result)
            default:
                let name = edit.path.last ?? ""
                var entries = (flagValue("--feature-gates", in: result) ?? gates).split(separator: ",").map(String.init)
                entries.removeAll { $0.split(separator: "=").first.map { $0.trimmingCharacters(in: .whitespaces) } == name }
                entries.append("\(name)=\(edit.value)")
                result = setting("--feature-gates", to: entries.joined(separator: ","), in: result)
            }
        }
        return result
    }

    private static func setting(_ flag: String, to value: String, in args: [String]) -> [String] {
        var result = args
        for (index, argument) in args.enumerated() {
            let bare = argument.hasPrefix("--") ? argument : "-" + argument
            if bare.hasPrefix(flag + "=") {
                result[index] = "\(flag)=\(value)"
                return result
            }
            if bare == flag, index + 1 < args.count {
                result[index + 1] = value
                return result
            }
        }
        return result + ["\(flag)=\(value)"]
    }
}
