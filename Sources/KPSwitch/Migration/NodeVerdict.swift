import Foundation
import KubeAPI

/// Whether a node's kube-proxy pod proves a mode: Ready, never restarted, and its log showing the mode's
/// start-up line. A pure function of the pod and its log, so the rules are unit-tested without a cluster.
enum NodeVerdict: Equatable, Sendable {
    case verified
    /// Not yet decided (starting, or Ready with the log not yet read): look again.
    case pending(String)
    case failed(String)

    /// - Parameter log: the container's log, nil when not read yet (it is read once the pod is Ready).
    static func judge(pod: Pod, container: String, mode: ProxyMode, log: String?) -> NodeVerdict {
        if let verdict = judgeStatus(pod: pod, container: container) { return verdict }
        let node = pod.nodeName ?? "?"
        guard let log else { return .pending("node \(node): reading pod \(pod.name)'s log") }
        return judgeLog(log, node: node, pod: pod.name, mode: mode)
    }

    /// The verdict the pod's status alone gives (crash-looping, or not Ready yet); nil when it is Ready and
    /// only its log can decide.
    static func judgeStatus(pod: Pod, container: String) -> NodeVerdict? {
        let node = pod.nodeName ?? "?"
        let status = (pod.json[path: ["status", "containerStatuses"]]?.arrayValue ?? [])
            .first { $0["name"]?.stringValue == container }
        let restarts = status?["restartCount"]?.intValue ?? 0
        let waiting = status?[path: ["state", "waiting", "reason"]]?.stringValue
        let lastError = status?[path: ["lastState", "terminated", "message"]]?.stringValue
        if restarts > 0 || waiting == "CrashLoopBackOff" || status?[path: ["lastState", "terminated"]] != nil {
            let detail = lastError.map { ": \($0.trimmingCharacters(in: .whitespacesAndNewlines))" } ?? ""
            return .failed("node \(node): kube-proxy pod \(pod.name) is crash-looping (restarts \(restarts))\(detail)")
        }
        guard pod.isReady else {
            return .pending("node \(node): pod \(pod.name) is not Ready yet (\(waiting ?? pod.phase ?? "starting"))")
        }
        return nil
    }

    /// The verdict of a Ready pod's log.
    static func judgeLog(_ log: String, node: String, pod: String, mode: ProxyMode) -> NodeVerdict {
        if let observed = observedMode(inLog: log) {
            if observed == mode { return .verified }
            return .failed("node \(node): pod \(pod) runs \(observed.rawValue), not \(mode.rawValue)")
        }
        return .pending("node \(node): pod \(pod)'s log does not show \"Using \(mode.rawValue) Proxier\" yet")
    }

    /// The mode a kube-proxy log announces: `"Using ipvs Proxier"` (any case, optional trailing period,
    /// server_linux.go), or the blank-mode line `Using iptables proxy`; the last such line wins.
    static func observedMode(inLog log: String) -> ProxyMode? {
        var found: ProxyMode?
        // Lowered once, and only lines that say "using" are searched: a pod's log is read once per node.
        for line in log.lowercased().split(separator: "\n") where line.contains("using ") {
            for (mode, pattern) in proxierLines where line.contains(pattern) {
                found = mode
            }
            if line.contains("using iptables proxy") && !line.contains("proxier") { found = .iptables }
        }
        return found
    }

    private static let proxierLines = ProxyMode.allCases.map { ($0, "using \($0.rawValue) proxier") }
}
