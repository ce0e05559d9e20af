import Foundation

/// What a simulated kube-proxy container would read at start: the mode and feature gates, from the ConfigMap its
/// `--config` path lands in through the pod's volumes, or from `--proxy-mode` when there is no `--config`
/// (k/k cmd/kube-proxy/app/options.go: the file replaces every flag-built setting).
struct KubeProxyStartup: Equatable {
    enum Source: Equatable {
        case configFile(path: String, configMap: String, key: String)
        case flags
    }

    var mode: String
    var featureGates: [String: Bool]
    var source: Source
    var hostnameOverride: String?

    enum Failure: Error, Equatable {
        /// The volume cannot be mounted: the kubelet never starts the container.
        case configMapMissing(name: String)
        /// kube-proxy starts and exits with this error.
        case startError(String)
    }

    static func isKubeProxy(_ container: JSONValue) -> Bool {
        let argv = (container["command"]?.arrayValue ?? []) + (container["args"]?.arrayValue ?? [])
        if argv.contains(where: { $0.stringValue?.hasSuffix("kube-proxy") == true }) { return true }
        return container["image"]?.stringValue?.contains("kube-proxy") == true
    }

    /// Reads the startup configuration for `container` of `pod`, looking ConfigMaps up with `configMap`.
    static func resolve(
        pod: JSONValue, container: JSONValue, configMap: (_ namespace: String, _ name: String) -> JSONValue?
    ) -> Result<KubeProxyStartup, Failure> {
        let argv = ((container["command"]?.arrayValue ?? []) + (container["args"]?.arrayValue ?? [])).compactMap(\.stringValue)
        func flag(_ name: String) -> String? {
            for (i, arg) in argv.enumerated() {
                if arg.hasPrefix("--\(name)=") { return String(arg.dropFirst(name.count + 3)) }
                if arg == "--\(name)", i + 1 < argv.count { return argv[i + 1] }
            }
            return nil
        }
        guard let configPath = flag("config") else {
            return .success(KubeProxyStartup(mode: flag("proxy-mode") ?? "", featureGates: [:], source: .flags,
                                             hostnameOverride: flag("hostname-override")))
        }
        let namespace = pod[path: ["metadata", "namespace"]]?.stringValue ?? "default"
        let mounts = container["volumeMounts"]?.arrayValue ?? []
        // The longest mountPath that contains the config file wins, as in the container's mount table.
        let mount = mounts.filter { m in
            guard let path = m["mountPath"]?.stringValue else { return false }
            let dir = path.hasSuffix("/") ? path : path + "/"
            return configPath.hasPrefix(dir)
        }.max { ($0["mountPath"]?.stringValue?.count ?? 0) < ($1["mountPath"]?.stringValue?.count ?? 0) }
        guard let mount, let mountPath = mount["mountPath"]?.stringValue, let volumeName = mount["name"]?.stringValue else {
            return .failure(.startError("failed to load kube-proxy config file: open \(configPath): no such file or directory"))
        }
        let volumes = pod[path: ["spec", "volumes"]]?.arrayValue ?? []
        guard let volume = volumes.first(where: { $0["name"]?.stringValue == volumeName }),
            let cmName = volume[path: ["configMap", "name"]]?.stringValue
        else {
            return .failure(.startError("failed to load kube-proxy config file: open \(configPath): no such file or directory"))
        }
        var relative = String(configPath.dropFirst(mountPath.count))
        while relative.hasPrefix("/") { relative.removeFirst() }
        if let sub = mount["subPath"]?.stringValue, !sub.isEmpty { relative = sub }
        var key = relative
        if let items = volume[path: ["configMap", "items"]]?.arrayValue {
            guard let item = items.first(where: { $0["path"]?.stringValue == relative }), let k = item["key"]?.stringValue else {
                return .failure(.startError("failed to load kube-proxy config file: open \(configPath): no such file or directory"))
            }
            key = k
        }
        guard let cm = configMap(namespace, cmName) else { return .failure(.configMapMissing(name: cmName)) }
        guard let text = cm[path: ["data", key]]?.stringValue else {
            return .failure(.startError("failed to load kube-proxy config file: open \(configPath): no such file or directory"))
        }
        let document: JSONValue
        do {
            guard let first = try JSONValue.parseYAMLDocuments(text).first, first.objectValue != nil else {
                return .failure(.startError("failed to load kube-proxy config file: \(configPath) does not hold a KubeProxyConfiguration"))
            }
            document = first
        } catch {
            return .failure(.startError("failed to load kube-proxy config file: \(configPath): \(error)"))
        }
        var gates: [String: Bool] = [:]
        for (name, value) in document["featureGates"]?.objectValue ?? [:] { gates[name] = value.boolValue ?? false }
        return .success(KubeProxyStartup(
            mode: document["mode"]?.stringValue ?? "", featureGates: gates,
            source: .configFile(path: configPath, configMap: cmName, key: key),
            hostnameOverride: document["hostnameOverride"]?.stringValue))
    }
}

/// The node facts kube-proxy's mode checks depend on.
struct NodeProfile: Sendable {
    var name: String
    var internalIP: String
    var kernelVersion: String
    var ipvs: Scenario.IPVSSupport
    var nftVersion: String?
    /// A stopped kubelet starts nothing.
    var kubeletRunning = true
    /// False for a node whose kubelet never starts kpswitch's agent pods (Pending until deleted).
    var startsAgents = true
    /// Virtual servers in the node's IPVS table (`TCP 10.96.0.1:443`): the scenario's, then what a
    /// simulated kube-proxy on a netfilter node made of it.
    var ipvsServices: [String] = []
    /// The node's persistent network namespace (`netfilter: true`), where its kube-proxy programs rules and
    /// its agent pods run; nil gives every agent pod a fresh one and kube-proxy programs nothing.
    var networkNamespace: String? = nil
    /// Service ports the node's simulated kube-proxy leaves out (`kubeProxyOmitsServices`), the last ones by name.
    var kubeProxyOmits = 0
    /// The pod CIDR kube-proxy's masquerade rules name (`clusterCIDR`).
    var podCIDR = "10.244.0.0/16"
}

/// Decides what kube-proxy does at start on a node, and writes the log lines it would print.
enum KubeProxyBehaviour {
    struct Outcome {
        var running: Bool
        var mode: String
        var lines: [(level: Character, source: String, message: String)]
    }

    static func compare(_ a: String, _ b: String) -> Int {
        let pa = a.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        let pb = b.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        for i in 0..<max(pa.count, pb.count) {
            let x = i < pa.count ? pa[i] : 0
            let y = i < pb.count ? pb[i] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }

    static func start(
        _ startup: KubeProxyStartup, node: NodeProfile, kubernetesVersion: String, libModulesMounted: Bool
    ) -> Outcome {
        var lines: [(level: Character, source: String, message: String)] = []
        var mode = startup.mode
        let minor = Int(kubernetesVersion.split(separator: ".").dropFirst().first ?? "") ?? 34
        func fail(_ error: String) -> Outcome {
            lines.append(("E", "server.go:255", "\"Error running ProxyServer\" err=\"\(error.replacingOccurrences(of: "\"", with: "\\\""))\""))
            lines.append(("E", "run.go:72", "\"command failed\" err=\"\(error.replacingOccurrences(of: "\"", with: "\\\""))\""))
            return Outcome(running: false, mode: mode, lines: lines)
        }
        if mode.isEmpty {
            lines.append(("I", "server_linux.go:53", "\"Using iptables proxy\""))
            mode = "iptables"
        }
        var supported = ["iptables", "ipvs"]
        if minor >= 33 || (minor >= 31 && startup.featureGates["NFTablesProxyMode"] != false)
            || (minor >= 29 && startup.featureGates["NFTablesProxyMode"] == true)
        {
            supported.append("nftables")
        }
        guard supported.contains(mode) else {
            let values = supported.map { "\\\"\($0)\\\"" }.joined(separator: ", ")
            return fail("invalid configuration: [KubeProxyConfiguration.Mode: Unsupported value: \\\"\(mode)\\\": supported values: \(values)]")
        }
        lines.append(("I", "server.go:715", "\"Successfully retrieved node IP(s)\" IPs=[\"\(node.internalIP)\"]"))
        lines.append(("I", "conntrack.go:60", "\"Setting nf_conntrack_max\" nfConntrackMax=131072"))
        if mode != "nftables" {
            lines.append(("E", "server.go:256", "\"Kube-proxy configuration may be incomplete or incorrect\" err=\"nodePortAddresses is unset; NodePort connections will be accepted on all local IPs. Consider using `--nodeport-addresses primary`\""))
        }
        lines.append(("I", "server.go:265", "\"kube-proxy running in dual-stack mode\" primary ipFamily=\"IPv4\""))
        switch mode {
        case "ipvs":
            let usable: Bool
            switch node.ipvs {
            case .loaded, .builtin: usable = true
            // Loading needs modprobe inside the container, which needs the host's /lib/modules.
            case .loadable: usable = libModulesMounted
            case .absent: usable = false
            }
            if !usable {
                lines.append(("I", "ipvs.go:91", "\"Dummy VS not created\" scheduler=\"rr\""))
                return fail("can't use the IPVS proxier: ipvs not supported")
            }
            lines.append(("I", "server_linux.go:194", "\"Using ipvs Proxier\""))
            if minor >= 35 {
                lines.append(("E", "server_linux.go:195", "\"The ipvs proxier is now deprecated and may be removed in a future release. Please use 'nftables' instead.\""))
            }
            lines.append(("I", "proxier.go:357", "\"IPVS scheduler not specified, use rr by default\" ipFamily=\"IPv4\""))
        case "nftables":
            lines.append(("I", "server_linux.go:237", "\"Using nftables Proxier\""))
            if compare(node.kernelVersion, "5.13") < 0 {
                return fail("unable to create proxier: kube-proxy in nftables mode requires kernel 5.13 or later")
            }
        default:
            lines.append(("I", "server_linux.go:132", "\"Using iptables Proxier\""))
            lines.append(("I", "proxier.go:242", "\"Setting route_localnet=1 to allow node-ports on localhost; to change this either disable iptables.localhostNodePorts (--iptables-localhost-nodeports) or set nodePortAddresses (--nodeport-addresses) to filter loopback addresses\" ipFamily=\"IPv4\""))
        }
        lines.append(("I", "server.go:527", "\"Version info\" version=\"\(kubernetesVersion)\""))
        lines.append(("I", "server.go:529", "\"Golang settings\" GOGC=\"\" GOMAXPROCS=\"\" GOTRACEBACK=\"\""))
        lines.append(("I", "config.go:200", "\"Starting service config controller\""))
        lines.append(("I", "config.go:106", "\"Starting endpoint slice config controller\""))
        lines.append(("I", "config.go:329", "\"Starting node config controller\""))
        lines.append(("I", "shared_informer.go:356", "\"Caches are synced\" controller=\"node config\""))
        lines.append(("I", "shared_informer.go:356", "\"Caches are synced\" controller=\"service config\""))
        lines.append(("I", "shared_informer.go:356", "\"Caches are synced\" controller=\"endpoint slice config\""))
        return Outcome(running: true, mode: mode, lines: lines)
    }

    /// Formats one klog text line: `I1126 23:40:01.123456       1 file.go:12] message`.
    static func klog(_ level: Character, _ source: String, _ message: String, at date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let c = calendar.dateComponents([.month, .day, .hour, .minute, .second, .nanosecond], from: date)
        let stamp = String(format: "%02d%02d %02d:%02d:%02d.%06d", c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0,
                           c.second ?? 0, (c.nanosecond ?? 0) / 1000)
        return "\(level)\(stamp)       1 \(source)] \(message)"
    }
}
