import KubeAPI

/// The nodes kube-proxy's DaemonSet runs on, as the DaemonSet controller picks them: the template's
/// nodeSelector, its required node affinity and its tolerations against the nodes' taints. Windows nodes run
/// kube-proxy as a Windows service with a mode of its own (kernelspace), so they are never part of a Linux
/// mode switch. The checks count only `nodes`, and say what `leftOut` holds.
struct ProxyNodes: Sendable {
    struct LeftOut: Sendable, Equatable {
        let name: String
        let reason: Reason
    }

    enum Reason: Sendable, Equatable {
        case windows
        case notSelected
    }

    let nodes: [Node]
    let leftOut: [LeftOut]

    /// The taints the DaemonSet controller tolerates for every DaemonSet pod by itself
    /// (`pkg/controller/daemon/util.AddOrUpdateDaemonPodTolerations`).
    static let tolerated = [
        "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable", "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/memory-pressure", "node.kubernetes.io/pid-pressure", "node.kubernetes.io/unschedulable",
        "node.kubernetes.io/network-unavailable",
    ]

    init(nodes all: [Node], daemonSet: DaemonSet?) {
        let podSpec = daemonSet?.json[path: ["spec", "template", "spec"]]
        var nodes: [Node] = []
        var leftOut: [LeftOut] = []
        for node in all {
            if Self.isWindows(node) {
                leftOut.append(LeftOut(name: node.name, reason: .windows))
            } else if let podSpec, !Self.selects(podSpec, node) {
                leftOut.append(LeftOut(name: node.name, reason: .notSelected))
            } else {
                nodes.append(node)
            }
        }
        self.nodes = nodes
        self.leftOut = leftOut
    }

    static func isWindows(_ node: Node) -> Bool {
        node.labels["kubernetes.io/os"] == "windows"
            || node.json[path: ["status", "nodeInfo", "operatingSystem"]]?.stringValue == "windows"
    }

    /// One sentence for the findings, or nil when every node counts: `left out: 1 Windows node (win-1)`.
    var leftOutSentence: String? {
        let windows = Sample(leftOut.filter { $0.reason == .windows }.map(\.name))
        let unselected = Sample(leftOut.filter { $0.reason == .notSelected }.map(\.name))
        var parts: [String] = []
        if !windows.isEmpty {
            parts.append("\(windows.total) Windows node\(windows.total == 1 ? "" : "s") (\(windows.listed)), which run kube-proxy's Windows modes")
        }
        if !unselected.isEmpty {
            parts.append("\(unselected.total) node\(unselected.total == 1 ? "" : "s") that kube-proxy's DaemonSet does not select (\(unselected.listed))")
        }
        return parts.isEmpty ? nil : "left out of the counts: " + parts.joined(separator: "; ")
    }

    static func selects(_ podSpec: JSONValue, _ node: Node) -> Bool {
        let labels = node.labels
        for (key, value) in podSpec["nodeSelector"]?.objectValue ?? [:] where labels[key] != value.stringValue {
            return false
        }
        let terms = podSpec[path: ["affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"]]?
            .arrayValue ?? []
        // Terms are ORed, the expressions within a term ANDed.
        if !terms.isEmpty && !terms.contains(where: { term in
            (term["matchExpressions"]?.arrayValue ?? []).allSatisfy { matches($0, labels) }
        }) {
            return false
        }
        let tolerations = podSpec["tolerations"]?.arrayValue ?? []
        let taints = (node.json[path: ["spec", "taints"]]?.arrayValue ?? [])
            .filter { ["NoSchedule", "NoExecute"].contains($0["effect"]?.stringValue ?? "") }
        return taints.allSatisfy { taint in
            tolerated.contains(taint["key"]?.stringValue ?? "") || tolerations.contains { tolerates($0, taint) }
        }
    }

    static func matches(_ expression: JSONValue, _ labels: [String: String]) -> Bool {
        let key = expression["key"]?.stringValue ?? ""
        let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue)
        switch expression["operator"]?.stringValue {
        case "In": return labels[key].map(values.contains) ?? false
        case "NotIn": return labels[key].map { !values.contains($0) } ?? true
        case "Exists": return labels[key] != nil
        case "DoesNotExist": return labels[key] == nil
        case "Gt", "Lt":
            guard let label = labels[key].flatMap({ Int($0) }), let bound = values.first.flatMap({ Int($0) }) else { return false }
            return expression["operator"]?.stringValue == "Gt" ? label > bound : label < bound
        default: return false
        }
    }

    /// Kubernetes' `Toleration.ToleratesTaint`: an empty key with Exists tolerates everything.
    static func tolerates(_ toleration: JSONValue, _ taint: JSONValue) -> Bool {
        if let effect = toleration["effect"]?.stringValue, !effect.isEmpty, effect != taint["effect"]?.stringValue {
            return false
        }
        let key = toleration["key"]?.stringValue ?? ""
        if !key.isEmpty && key != taint["key"]?.stringValue { return false }
        switch toleration["operator"]?.stringValue ?? "Equal" {
        case "Exists": return true
        case "Equal": return !key.isEmpty && (toleration["value"]?.stringValue ?? "") == (taint["value"]?.stringValue ?? "")
        default: return false
        }
    }
}

extension Sample {
    init(_ items: [String]) {
        self.init()
        for item in items { add(item) }
    }
}
