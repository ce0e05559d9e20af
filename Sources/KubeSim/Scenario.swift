import Foundation

/// A cluster to simulate: version, objects, nodes, services, the token user's RBAC and faults.
/// The YAML form is documented in Docs/kube-sim-scenarios.md.
public struct Scenario: Sendable {
    /// How a node's kernel offers IPVS.
    public enum IPVSSupport: String, Sendable, CaseIterable {
        case loaded, loadable, builtin, absent
    }

    /// A group of identical nodes.
    public struct NodeGroup: Sendable {
        public var namePrefix: String
        public var count: Int
        public var kernelVersion: String
        public var ipvs: IPVSSupport
        /// Version of the `nft` binary on the node; nil when nftables userspace is missing.
        public var nftVersion: String?
        public var ipsetVersion: String
        public var controlPlane: Bool
        public var osImage: String
        /// False plays a node whose kubelet stopped: Ready is Unknown, the node lifecycle controller's
        /// unreachable taints are set, and no pod on it ever starts.
        public var ready: Bool
        /// A cordoned node (`kubectl cordon`): `spec.unschedulable` and its NoSchedule taint.
        public var unschedulable: Bool
        /// `linux` or `windows` (label kubernetes.io/os and nodeInfo.operatingSystem).
        public var os: String
        /// False: the nodes' kubelets never start kpswitch's agent pods (`agentPods: never`).
        public var startsAgents = true
        /// IPVS virtual servers the nodes' tables hold (`TCP 10.96.0.1:443`), shown to agent pods in
        /// `/proc/net/ip_vs`; only where the `ipvs:` profile has the module in the kernel (loaded, builtin).
        public var ipvsServices: [String] = []
        /// True: each node gets a network namespace of its own for its lifetime, where its simulated
        /// kube-proxy programs the rules its mode writes and its agent pods run (costs processes per node).
        public var netfilter = false
        /// Service ports the nodes' simulated kube-proxy leaves out of what it programs (netfilter nodes).
        public var kubeProxyOmitsServices = 0

        public init(
            namePrefix: String, count: Int, kernelVersion: String = "6.1.0-28-amd64", ipvs: IPVSSupport = .loadable,
            nftVersion: String? = "1.0.6", ipsetVersion: String = "7.17", controlPlane: Bool = false,
            osImage: String = "Debian GNU/Linux 12 (bookworm)", ready: Bool = true, unschedulable: Bool = false,
            os: String = "linux"
        ) {
            self.namePrefix = namePrefix
            self.count = count
            self.kernelVersion = kernelVersion
            self.ipvs = ipvs
            self.nftVersion = nftVersion
            self.ipsetVersion = ipsetVersion
            self.controlPlane = controlPlane
            self.osImage = osImage
            self.ready = ready
            self.unschedulable = unschedulable
            self.os = os
        }
    }

    /// Generated Services, each with one EndpointSlice.
    public struct Services: Sendable {
        public var count: Int
        public var endpointsPerService: Int
        public var namespace: String

        public init(count: Int, endpointsPerService: Int = 2, namespace: String = "default") {
            self.count = count
            self.endpointsPerService = endpointsPerService
            self.namespace = namespace
        }
    }

    /// The bearer-token user whose RBAC the scenario limits.
    public struct TokenUser: Sendable {
        public var name: String
        public var token: String?
        public var rules: [PolicyRule]

        public init(name: String = "kpswitch-operator", token: String? = nil, rules: [PolicyRule] = []) {
            self.name = name
            self.token = token
            self.rules = rules
        }
    }

    /// An injected error on matching requests.
    public struct ErrorFault: Sendable {
        public var verbs: [String]
        public var resources: [String]
        public var code: Int
        public var rate: Double

        public init(verbs: [String], resources: [String], code: Int, rate: Double) {
            self.verbs = verbs
            self.resources = resources
            self.code = code
            self.rate = rate
        }
    }

    /// An outside edit of a ConfigMap's proxy mode at a chosen moment (a colleague, a GitOps controller).
    public struct ConfigMapEdit: Sendable {
        public var after: Duration
        public var namespace: String
        public var name: String
        public var key: String
        public var mode: String

        public init(after: Duration, namespace: String = "kube-system", name: String = "kube-proxy",
                    key: String = "config.conf", mode: String) {
            self.after = after
            self.namespace = namespace
            self.name = name
            self.key = key
            self.mode = mode
        }
    }

    /// The API server away for a window: starting `after` the simulator starts, or when kpswitch's record
    /// (ConfigMap kube-system/kpswitch-state) first shows `completed` steps, so a test need not guess timing.
    public struct OutageFault: Sendable {
        public var kind: FaultInjector.Outage
        public var duration: Duration
        public var after: Duration?
        public var atCompleted: Int?

        public init(kind: FaultInjector.Outage, duration: Duration, after: Duration? = nil, atCompleted: Int? = nil) {
            self.kind = kind
            self.duration = duration
            self.after = after
            self.atCompleted = atCompleted
        }
    }

    public struct Faults: Sendable {
        public var errors: [ErrorFault] = []
        public var latency: Duration = .zero
        public var dropWatchesEvery: Duration? = nil
        public var configMapEdits: [ConfigMapEdit] = []
        public var outages: [OutageFault] = []

        public init(errors: [ErrorFault] = [], latency: Duration = .zero, dropWatchesEvery: Duration? = nil,
                    configMapEdits: [ConfigMapEdit] = [], outages: [OutageFault] = []) {
            self.errors = errors
            self.latency = latency
            self.dropWatchesEvery = dropWatchesEvery
            self.configMapEdits = configMapEdits
            self.outages = outages
        }
    }

    public var kubernetesVersion: String
    /// Kubernetes objects to load at start (already parsed).
    public var objects: [JSONValue]
    public var nodeGroups: [NodeGroup]
    public var services: Services?
    public var tokenUser: TokenUser
    public var faults: Faults
    /// Time from a pod's creation to its container having started (Ready, or first crash).
    public var podStartDelay: Duration
    public var watchBookmarkInterval: Duration
    /// Events a watch can resume from; older versions get 410 Expired.
    public var historyLimit: Int

    public init(
        kubernetesVersion: String = "v1.34.0", objects: [JSONValue] = [], nodeGroups: [NodeGroup] = [],
        services: Services? = nil, tokenUser: TokenUser = TokenUser(), faults: Faults = Faults(),
        podStartDelay: Duration = .milliseconds(100), watchBookmarkInterval: Duration = .seconds(1),
        historyLimit: Int = 10_000
    ) {
        self.kubernetesVersion = kubernetesVersion
        self.objects = objects
        self.nodeGroups = nodeGroups
        self.services = services
        self.tokenUser = tokenUser
        self.faults = faults
        self.podStartDelay = podStartDelay
        self.watchBookmarkInterval = watchBookmarkInterval
        self.historyLimit = historyLimit
    }

    /// Reads objects from YAML files or folders of them (`.yaml`, `.yml`, `.json`), in name order.
    public static func loadObjects(from path: String) throws -> [JSONValue] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw KubeSimError.scenario("objects path \(path) does not exist")
        }
        let files: [String]
        if isDirectory.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            files = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }
                .map { (path as NSString).appendingPathComponent($0) }
        } else {
            files = [path]
        }
        var objects: [JSONValue] = []
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            do {
                for document in try JSONValue.parseYAMLDocuments(text) where document != .null {
                    if document["kind"]?.stringValue?.hasSuffix("List") == true, let items = document["items"]?.arrayValue {
                        objects.append(contentsOf: items)
                    } else {
                        objects.append(document)
                    }
                }
            } catch let error as KubeSimError {
                throw error
            } catch {
                throw KubeSimError.scenario("\(file) is not valid YAML: \(error)")
            }
        }
        return objects
    }

    /// Reads a scenario file; relative object paths resolve against the file's folder.
    public init(contentsOf path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = error.localizedDescription.trimmingCharacters(in: CharacterSet(charactersIn: ". "))
            throw KubeSimError.scenario("cannot read \(path): \(reason)")
        }
        try self.init(yaml: text, baseDirectory: (path as NSString).deletingLastPathComponent)
    }

    public init(yaml text: String, baseDirectory: String) throws {
        let documents: [JSONValue]
        do {
            documents = try JSONValue.parseYAMLDocuments(text)
        } catch {
            throw KubeSimError.scenario("not valid YAML: \(error)")
        }
        guard let root = documents.first?.objectValue else {
            throw KubeSimError.scenario("the file must hold one mapping")
        }
        let known: Set<String> = ["kubernetesVersion", "objects", "nodeGroups", "services", "tokenUser", "faults",
                                  "podStartDelay", "watchBookmarkInterval", "historyLimit"]
        if let unknown = root.keys.sorted().first(where: { !known.contains($0) }) {
            throw KubeSimError.scenario("unknown field '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        self.init()
        if let v = root["kubernetesVersion"]?.stringValue { kubernetesVersion = v.hasPrefix("v") ? v : "v" + v }
        for entry in root["objects"]?.arrayValue ?? [] {
            guard let relative = entry.stringValue else { throw KubeSimError.scenario("objects: entries are paths") }
            let path = relative.hasPrefix("/") ? relative : (baseDirectory as NSString).appendingPathComponent(relative)
            objects += try Scenario.loadObjects(from: path)
        }
        for (index, group) in (root["nodeGroups"]?.arrayValue ?? []).enumerated() {
            let where_ = "nodeGroups[\(index)]"
            guard let prefix = group["namePrefix"]?.stringValue ?? group["name"]?.stringValue else {
                throw KubeSimError.scenario("\(where_): namePrefix is required")
            }
            guard let count = group["count"]?.intValue, count >= 0 else {
                throw KubeSimError.scenario("\(where_): count must be a number ≥ 0")
            }
            var g = NodeGroup(namePrefix: prefix, count: Int(count))
            if let v = group["kernelVersion"] { g.kernelVersion = Scenario.text(v) }
            if let v = group["ipvs"]?.stringValue {
                guard let support = IPVSSupport(rawValue: v) else {
                    throw KubeSimError.scenario("\(where_).ipvs: '\(v)' is not one of loaded, loadable, builtin, absent")
                }
                g.ipvs = support
            }
            if let v = group["nftVersion"] { g.nftVersion = v == .null || Scenario.text(v) == "absent" ? nil : Scenario.text(v) }
            if let v = group["ipsetVersion"] { g.ipsetVersion = Scenario.text(v) }
            if let v = group["controlPlane"]?.boolValue { g.controlPlane = v }
            if let v = group["osImage"]?.stringValue { g.osImage = v }
            if let v = group["ready"]?.boolValue { g.ready = v }
            if let v = group["unschedulable"]?.boolValue { g.unschedulable = v }
            if let v = group["os"]?.stringValue {
                guard ["linux", "windows"].contains(v) else {
                    throw KubeSimError.scenario("\(where_).os: '\(v)' is not one of linux, windows")
                }
                g.os = v
            }
            if let v = group["agentPods"]?.stringValue {
                guard v == "run" || v == "never" else {
                    throw KubeSimError.scenario("\(where_).agentPods: '\(v)' is not one of run, never")
                }
                g.startsAgents = v == "run"
            }
            if let v = group["ipvsServices"] {
                guard let list = v.arrayValue?.compactMap(\.stringValue), list.count == v.arrayValue?.count else {
                    throw KubeSimError.scenario("\(where_).ipvsServices must be a list like ['TCP 10.96.0.1:443']")
                }
                for service in list where AgentPods.procLine(service) == nil {
                    throw KubeSimError.scenario("\(where_).ipvsServices: '\(service)' is not 'TCP|UDP|SCTP ADDRESS:PORT'")
                }
                g.ipvsServices = list
            }
            if let v = group["netfilter"] {
                guard let flag = v.boolValue else { throw KubeSimError.scenario("\(where_).netfilter must be true or false") }
                g.netfilter = flag
            }
            if let v = group["kubeProxyOmitsServices"] {
                guard let n = v.intValue, n >= 0 else { throw KubeSimError.scenario("\(where_).kubeProxyOmitsServices must be a number ≥ 0") }
                guard g.netfilter else { throw KubeSimError.scenario("\(where_).kubeProxyOmitsServices needs netfilter: true") }
                g.kubeProxyOmitsServices = Int(n)
            }
            nodeGroups.append(g)
        }
        if let s = root["services"] {
            guard let count = s["count"]?.intValue else { throw KubeSimError.scenario("services.count is required") }
            services = Services(count: Int(count), endpointsPerService: Int(s["endpointsPerService"]?.intValue ?? 2),
                                namespace: s["namespace"]?.stringValue ?? "default")
        }
        if let u = root["tokenUser"] {
            var user = TokenUser()
            if let name = u["name"]?.stringValue { user.name = name }
            user.token = u["token"]?.stringValue
            for (index, rule) in (u["rules"]?.arrayValue ?? []).enumerated() {
                guard let verbs = rule["verbs"]?.arrayValue?.compactMap(\.stringValue), !verbs.isEmpty else {
                    throw KubeSimError.scenario("tokenUser.rules[\(index)]: verbs is required")
                }
                func strings(_ key: String) -> [String] { rule[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }
                user.rules.append(PolicyRule(
                    apiGroups: strings("apiGroups"), resources: strings("resources"), verbs: verbs,
                    resourceNames: strings("resourceNames"), namespaces: strings("namespaces"),
                    nonResourceURLs: strings("nonResourceURLs")))
            }
            tokenUser = user
        }
        if let f = root["faults"] {
            for (index, e) in (f["errors"]?.arrayValue ?? []).enumerated() {
                guard let code = e["code"]?.intValue, [429, 500, 503].contains(code) else {
                    throw KubeSimError.scenario("faults.errors[\(index)].code must be 429, 500 or 503")
                }
                guard case let rate? = e["rate"].flatMap(Scenario.number), (0...1).contains(rate) else {
                    throw KubeSimError.scenario("faults.errors[\(index)].rate must be between 0 and 1")
                }
                faults.errors.append(ErrorFault(
                    verbs: e["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? ["*"],
                    resources: e["resources"]?.arrayValue?.compactMap(\.stringValue) ?? ["*"],
                    code: Int(code), rate: rate))
            }
            if let v = f["latency"] { faults.latency = try Scenario.duration(v, field: "faults.latency") }
            if let v = f["dropWatchesEvery"] { faults.dropWatchesEvery = try Scenario.duration(v, field: "faults.dropWatchesEvery") }
            for (index, e) in (f["configMapEdits"]?.arrayValue ?? []).enumerated() {
                guard let after = e["after"], let mode = e["mode"]?.stringValue else {
                    throw KubeSimError.scenario("faults.configMapEdits[\(index)]: after and mode are required")
                }
                faults.configMapEdits.append(ConfigMapEdit(
                    after: try Scenario.duration(after, field: "faults.configMapEdits[\(index)].after"),
                    namespace: e["namespace"]?.stringValue ?? "kube-system", name: e["name"]?.stringValue ?? "kube-proxy",
                    key: e["key"]?.stringValue ?? "config.conf", mode: mode))
            }
        }
        for (index, o) in (root["faults"]?["outages"]?.arrayValue ?? []).enumerated() {
            let field = "faults.outages[\(index)]"
            guard let name = o["kind"].map(Scenario.text), let kind = FaultInjector.Outage(rawValue: name) else {
                throw KubeSimError.scenario("\(field).kind must be hang, refuse or 503")
            }
            guard let duration = o["duration"] else { throw KubeSimError.scenario("\(field).duration is required") }
            var outage = OutageFault(kind: kind, duration: try Scenario.duration(duration, field: "\(field).duration"))
            if let v = o["after"] { outage.after = try Scenario.duration(v, field: "\(field).after") }
            if let v = o["atCompleted"] {
                guard let n = v.intValue, n >= 0 else { throw KubeSimError.scenario("\(field).atCompleted must be a number ≥ 0") }
                outage.atCompleted = Int(n)
            }
            guard (outage.after == nil) != (outage.atCompleted == nil) else {
                throw KubeSimError.scenario("\(field): give exactly one of after and atCompleted")
            }
            faults.outages.append(outage)
        }
        if let v = root["podStartDelay"] { podStartDelay = try Scenario.duration(v, field: "podStartDelay") }
        if let v = root["watchBookmarkInterval"] {
            watchBookmarkInterval = try Scenario.duration(v, field: "watchBookmarkInterval")
        }
        if let v = root["historyLimit"]?.intValue { historyLimit = Int(v) }
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        default: return ""
        }
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// Parses Go-style durations such as `100ms`, `2s`, `1m30s`.
    static func duration(_ value: JSONValue, field: String) throws -> Duration {
        let text = self.text(value)
        var total = Duration.zero
        var number = ""
        var unit = ""
        func flush() throws {
            guard let n = Double(number) else { throw KubeSimError.scenario("\(field): '\(text)' is not a duration like 100ms, 2s or 1m") }
            switch unit {
            case "ms": total += .milliseconds(n)
            case "s": total += .milliseconds(n * 1000)
            case "m": total += .milliseconds(n * 60_000)
            case "h": total += .milliseconds(n * 3_600_000)
            default: throw KubeSimError.scenario("\(field): '\(text)' is not a duration like 100ms, 2s or 1m")
            }
            number = ""
            unit = ""
        }
        for c in text {
            if c.isNumber || c == "." {
                if !unit.isEmpty { try flush() }
                number.append(c)
            } else {
                unit.append(c)
            }
        }
        try flush()
        return total
    }
}
