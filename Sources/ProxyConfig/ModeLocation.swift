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

    /// The container's args with `--proxy-mode` set to `mode`, for flag-configured kube-proxy: an existing
    /// `--proxy-mode=X` or `--proxy-mode X` in args is replaced in place, otherwise `--proxy-mode=<mode>` is appended.
    public static func args(_ args: [String], settingProxyMode mode: ProxyMode) -> [String] {
        var result = args
        for (index, argument) in args.enumerated() {
            let bare = argument.hasPrefix("--") ? argument : "-" + argument
            if bare.hasPrefix("--proxy-mode=") {
                result[index] = "--proxy-mode=\(mode.rawValue)"
                return result
            }
            if bare == "--proxy-mode", index + 1 < args.count {
                result[index + 1] = mode.rawValue
                return result
            }
        }
        return result + ["--proxy-mode=\(mode.rawValue)"]
    }
}
