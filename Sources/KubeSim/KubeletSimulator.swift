import Foundation
import Synchronization

/// Plays every node's kubelet and container runtime: a scheduled pod starts after the scenario's delay; a kube-proxy
/// container reads its configuration at that moment and either runs (Ready, with kube-proxy's start-up log) or
/// crash-loops with kube-proxy's error, re-reading its configuration on every restart as the real one does.
final class KubeletSimulator: Sendable {
    private struct Runtime {
        enum Phase { case waiting, running, crashLooping, mountFailing, agentRunning, agentExited }
        var phase: Phase = .waiting
        var nextAction: ContinuousClock.Instant
        var restartCount: Int64 = 0
        var logs: [String] = []
        var previousLogs: [String]? = nil
        var containerName: String
        var waitingReason = "ContainerCreating"
    }

    let kubernetesVersion: String
    let startDelay: Duration
    private let profiles = Mutex<[String: NodeProfile]>([:])
    private let runtimes = Mutex<[String: Runtime]>([:])
    private let agents = AgentPods()
    /// The netfilter nodes' network namespaces.
    let networks = NodeNetworks()

    init(scenario: Scenario) {
        kubernetesVersion = scenario.kubernetesVersion
        startDelay = scenario.podStartDelay
    }

    func register(_ profile: NodeProfile) {
        profiles.withLock { $0[profile.name] = profile }
    }

    func profile(node: String) -> NodeProfile? { profiles.withLock { $0[node] } }

    /// Where `node`'s `/var/lib/kpswitch` lives on the kube-sim host: what its agent pods wrote there.
    func hostDirectory(node: String) -> URL { agents.hostDirectory(node: node) }

    /// Whether any pod is waiting for a timed step (start, restart) that is now due.
    func hasDueWork(now: ContinuousClock.Instant) -> Bool {
        runtimes.withLock { $0.values.contains { !Self.settled.contains($0.phase) && $0.nextAction <= now } }
    }

    /// Phases that wait for no timed step: a running container, and agent pods (their process decides).
    private static let settled: Set<Runtime.Phase> = [.running, .agentRunning, .agentExited]

    /// Advances every scheduled pod whose next step is due.
    func reconcile(store: ObjectStore, now: ContinuousClock.Instant) {
        let pods = store.list(.pods, filter: ObjectFilter()).items.map(\.object)
        var live = Set<String>()
        for pod in pods {
            guard let uid = pod[path: ["metadata", "uid"]]?.stringValue,
                let node = pod[path: ["spec", "nodeName"]]?.stringValue, !node.isEmpty,
                pod[path: ["metadata", "deletionTimestamp"]] == nil
            else { continue }
            live.insert(uid)
            guard profile(node: node)?.kubeletRunning ?? true else { continue }
            let existing = runtimes.withLock { $0[uid] }
            guard var runtime = existing else {
                let name = pod[path: ["spec", "containers"]]?.arrayValue?.first?["name"]?.stringValue ?? ""
                runtimes.withLock { $0[uid] = Runtime(nextAction: now + startDelay, containerName: name) }
                continue
            }
            guard !Self.settled.contains(runtime.phase), runtime.nextAction <= now else { continue }
            if AgentPods.isAgent(pod) {
                startAgent(pod: pod, uid: uid, node: node, runtime: &runtime, store: store, now: now)
            } else {
                start(pod: pod, node: node, runtime: &runtime, store: store, now: now)
            }
            runtimes.withLock { $0[uid] = runtime }
        }
        runtimes.withLock { r in r = r.filter { live.contains($0.key) } }
        agents.stop(except: live)
    }

    /// An agent pod runs its command for real (`AgentPods`); its exit ends the pod, Succeeded or Failed,
    /// and a node whose profile never starts agents leaves it waiting in ContainerCreating.
    private func startAgent(pod: JSONValue, uid: String, node: String, runtime: inout Runtime, store: ObjectStore, now: ContinuousClock.Instant) {
        let profile = self.profile(node: node) ?? NodeProfile(
            name: node, internalIP: "10.0.0.1", kernelVersion: "6.1.0", ipvs: .loadable, nftVersion: "1.0.6")
        guard profile.startsAgents else {
            runtime.nextAction = now + .seconds(365 * 86400)
            return
        }
        runtime.phase = .agentRunning
        runtime.containerName = pod[path: ["spec", "containers"]]?.arrayValue?.first?["name"]?.stringValue ?? runtime.containerName
        let started = Date()
        writeStatus(podStatus(pod: pod, node: node, runtime: runtime, running: true, exitMessage: "", at: started), of: pod, in: store)
        let runningRuntime = runtime
        agents.start(uid: uid, pod: pod, profile: profile) { [self] exit in
            var lines = exit.output.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            runtimes.withLock { r in
                r[uid]?.phase = .agentExited
                r[uid]?.logs = lines
            }
            let succeeded = exit.code == 0 && !exit.deadlineExceeded
            var status = podStatus(pod: pod, node: node, runtime: runningRuntime, running: false, exitMessage: "", at: started)
            let stamp = JSONValue.string(Timestamps.rfc3339(started))
            let finished = JSONValue.string(Timestamps.rfc3339(Date()))
            status["phase"] = succeeded ? "Succeeded" : "Failed"
            status["containerStatuses"] = .array((status["containerStatuses"]?.arrayValue ?? []).map { container in
                var container = container
                container["ready"] = false
                container["started"] = false
                container["lastState"] = [:]
                container["state"] = ["terminated": [
                    "exitCode": .int(Int64(exit.code)), "reason": succeeded ? "Completed" : "Error",
                    "startedAt": stamp, "finishedAt": finished,
                ]]
                return container
            })
            if exit.deadlineExceeded {
                status["reason"] = "DeadlineExceeded"
                status["message"] = "Pod was active on the node longer than the specified deadline"
            }
            writeStatus(status, of: pod, in: store)
        }
    }

    private func writeStatus(_ status: JSONValue, of pod: JSONValue, in store: ObjectStore) {
        let name = pod[path: ["metadata", "name"]]?.stringValue ?? ""
        store.modifyIfPresent(.pods, namespace: pod[path: ["metadata", "namespace"]]?.stringValue, name: name) { current in
            guard current[path: ["metadata", "uid"]] == pod[path: ["metadata", "uid"]] else { return current }
            var updated = current
            updated["status"] = status
            return updated
        }
    }

    private func start(pod: JSONValue, node: String, runtime: inout Runtime, store: ObjectStore, now: ContinuousClock.Instant) {
        let containers = pod[path: ["spec", "containers"]]?.arrayValue ?? []
        let wallNow = Date()
        var running = true
        var lines: [String] = []
        var exitMessage = ""
        if let proxy = containers.first(where: KubeProxyStartup.isKubeProxy) {
            runtime.containerName = proxy["name"]?.stringValue ?? runtime.containerName
            let resolved = KubeProxyStartup.resolve(pod: pod, container: proxy) { ns, name in
                store.get(.configMaps, namespace: ns, name: name)
            }
            switch resolved {
            case .failure(.configMapMissing):
                // The kubelet cannot mount the volume, so the container never starts; it retries the mount.
                runtime.phase = .mountFailing
                runtime.waitingReason = "ContainerCreating"
                runtime.nextAction = now + startDelay * 5
                return
            case .failure(.startError(let message)):
                running = false
                exitMessage = message
                lines = [KubeProxyBehaviour.klog("E", "server.go:255", "\"Error running ProxyServer\" err=\"\(message)\"", at: wallNow),
                         KubeProxyBehaviour.klog("E", "run.go:72", "\"command failed\" err=\"\(message)\"", at: wallNow)]
            case .success(let startup):
                let profile = self.profile(node: node) ?? NodeProfile(
                    name: node, internalIP: "10.0.0.1", kernelVersion: "6.1.0", ipvs: .loadable, nftVersion: "1.0.6")
                let mountsModules = (proxy["volumeMounts"]?.arrayValue ?? []).contains { $0["mountPath"]?.stringValue == "/lib/modules" }
                let outcome = KubeProxyBehaviour.start(startup, node: profile, kubernetesVersion: kubernetesVersion,
                                                       libModulesMounted: mountsModules)
                running = outcome.running
                lines = outcome.lines.map { KubeProxyBehaviour.klog($0.level, $0.source, $0.message, at: wallNow) }
                if running, let namespace = profile.networkNamespace {
                    program(outcome.mode, node: profile, namespace: namespace, store: store, mountsModules: mountsModules)
                }
                exitMessage = lines.last ?? ""
            }
        }
        if runtime.phase == .crashLooping || !runtime.logs.isEmpty {
            runtime.previousLogs = runtime.logs
            runtime.restartCount += 1
        }
        runtime.logs = lines
        if running {
            runtime.phase = .running
        } else {
            runtime.phase = .crashLooping
            // CrashLoopBackOff doubles from 10 s in the kubelet; the simulator scales it to the start delay.
            let factor = Int(min(32, 1 << min(5, Int(runtime.restartCount))))
            runtime.nextAction = now + startDelay * (10 * factor)
        }
        let status = podStatus(pod: pod, node: node, runtime: runtime, running: running, exitMessage: exitMessage, at: wallNow)
        // The container runs (its log readable) before its status says so, as a kubelet's does: a client that
        // reads the log on the Ready event must not find it still waiting to start.
        if let uid = pod[path: ["metadata", "uid"]]?.stringValue { runtimes.withLock { $0[uid] = runtime } }
        let name = pod[path: ["metadata", "name"]]?.stringValue ?? ""
        store.modifyIfPresent(.pods, namespace: pod[path: ["metadata", "namespace"]]?.stringValue, name: name) { current in
            guard current[path: ["metadata", "uid"]] == pod[path: ["metadata", "uid"]] else { return current }
            var updated = current
            updated["status"] = status
            return updated
        }
    }

    /// What the started kube-proxy writes into its node's namespace, before the pod shows Running, as a
    /// real one has synced once before its node serves traffic through it.
    private func program(_ mode: String, node: NodeProfile, namespace: String, store: ObjectStore, mountsModules: Bool) {
        let services = store.list(.services, filter: ObjectFilter()).items.map(\.object)
        let slices = store.list(.endpointSlices, filter: ObjectFilter()).items.map(\.object)
        let ports = Array(ServicePort.all(services: services, slices: slices).dropLast(node.kubeProxyOmits))
        let programmed = SimulatedProxier.program(
            mode: mode, namespace: namespace, ports: ports, podCIDR: node.podCIDR, ipvsTable: node.ipvsServices)
        for error in programmed.errors {
            FileHandle.standardError.write(Data("kube-sim: node \(node.name): kube-proxy (\(mode)): \(error)\n".utf8))
        }
        profiles.withLock { all in
            if let table = programmed.ipvsTable { all[node.name]?.ipvsServices = table }
            // The ipvs proxier loads ip_vs through the host's /lib/modules.
            if mode == "ipvs", node.ipvs == .loadable, mountsModules { all[node.name]?.ipvs = .loaded }
        }
    }

    private func podStatus(pod: JSONValue, node: String, runtime: Runtime, running: Bool, exitMessage: String, at date: Date) -> JSONValue {
        let stamp = JSONValue.string(Timestamps.rfc3339(date))
        let created = pod[path: ["metadata", "creationTimestamp"]] ?? stamp
        let profile = self.profile(node: node)
        let hostIP = profile?.internalIP ?? "10.0.0.1"
        let hostNetwork = pod[path: ["spec", "hostNetwork"]]?.boolValue == true
        let podIP = hostNetwork ? hostIP : KubeletSimulator.podIP(for: pod, hostIP: hostIP)
        func condition(_ type: String, _ ok: Bool) -> JSONValue {
            ["type": .string(type), "status": ok ? "True" : "False", "lastProbeTime": .null, "lastTransitionTime": stamp]
        }
        let containers: [JSONValue] = (pod[path: ["spec", "containers"]]?.arrayValue ?? []).map { c in
            let name = c["name"]?.stringValue ?? ""
            let image = c["image"]?.stringValue ?? ""
            var s: JSONValue = [
                "name": .string(name), "image": .string(image), "imageID": .string(image + "@sha256:" + String(repeating: "0", count: 64)),
                "containerID": .string("containerd://" + KubeletSimulator.hexID(pod, name, runtime.restartCount)),
                "restartCount": .int(name == runtime.containerName ? runtime.restartCount : 0),
                "started": .bool(running || name != runtime.containerName),
                "ready": .bool(running || name != runtime.containerName),
                "state": ["running": ["startedAt": stamp]],
            ]
            if !running && name == runtime.containerName {
                s["state"] = ["waiting": [
                    "reason": "CrashLoopBackOff",
                    "message": .string("back-off 10s restarting failed container=\(name) pod=\(pod[path: ["metadata", "name"]]?.stringValue ?? "")_\(pod[path: ["metadata", "namespace"]]?.stringValue ?? "")(\(pod[path: ["metadata", "uid"]]?.stringValue ?? ""))"),
                ]]
                s["lastState"] = ["terminated": ["exitCode": 1, "reason": "Error", "message": .string(exitMessage),
                                                 "startedAt": stamp, "finishedAt": stamp,
                                                 "containerID": .string("containerd://" + KubeletSimulator.hexID(pod, name, runtime.restartCount))]]
            } else if runtime.restartCount > 0 && name == runtime.containerName {
                s["lastState"] = ["terminated": ["exitCode": 1, "reason": "Error", "startedAt": stamp, "finishedAt": stamp]]
            }
            return s
        }
        var status: JSONValue = [
            "phase": "Running",
            "conditions": [condition("PodReadyToStartContainers", true), condition("Initialized", true),
                           condition("Ready", running), condition("ContainersReady", running), condition("PodScheduled", true)],
            "hostIP": .string(hostIP), "hostIPs": [["ip": .string(hostIP)]],
            "podIP": .string(podIP), "podIPs": [["ip": .string(podIP)]],
            "startTime": created, "containerStatuses": .array(containers), "qosClass": "BestEffort",
        ]
        if let inits = pod[path: ["spec", "initContainers"]]?.arrayValue, !inits.isEmpty {
            status["initContainerStatuses"] = .array(inits.map { c in
                ["name": c["name"] ?? "", "image": c["image"] ?? "", "ready": true, "restartCount": 0, "started": false,
                 "state": ["terminated": ["exitCode": 0, "reason": "Completed", "startedAt": stamp, "finishedAt": stamp]]]
            })
        }
        return status
    }

    static func podIP(for pod: JSONValue, hostIP: String) -> String {
        let octets = hostIP.split(separator: ".").compactMap { Int($0) }
        var hash: UInt32 = 2166136261
        for byte in (pod[path: ["metadata", "uid"]]?.stringValue ?? "").utf8 { hash = (hash ^ UInt32(byte)) &* 16777619 }
        let third = octets.count == 4 ? (octets[2] * 256 + octets[3]) % 256 : 0
        return "10.244.\(third).\(2 + Int(hash % 250))"
    }

    private static func hexID(_ pod: JSONValue, _ container: String, _ restart: Int64) -> String {
        var hash: UInt64 = 1469598103934665603
        for byte in "\(pod[path: ["metadata", "uid"]]?.stringValue ?? "")/\(container)/\(restart)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 1099511628211
        }
        return String(repeating: String(format: "%016llx", hash), count: 4)
    }

    /// The `pods/log` answer, with the API server's errors for the cases kubectl users meet.
    func log(pod: JSONValue, container: String?, previous: Bool, tailLines: Int?) throws(APIError) -> String {
        let podName = pod[path: ["metadata", "name"]]?.stringValue ?? ""
        let names = (pod[path: ["spec", "containers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        let chosen: String
        if let container, !container.isEmpty {
            let all = names + (pod[path: ["spec", "initContainers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            guard all.contains(container) else {
                throw APIError.badRequest("container \(container) is not valid for pod \(podName)")
            }
            chosen = container
        } else if names.count == 1 {
            chosen = names[0]
        } else {
            throw APIError.badRequest("a container name must be specified for pod \(podName), choose one of: [\(names.joined(separator: " "))]")
        }
        let uid = pod[path: ["metadata", "uid"]]?.stringValue ?? ""
        guard let runtime = runtimes.withLock({ $0[uid] }), runtime.phase != .waiting, runtime.phase != .mountFailing || previous else {
            throw APIError.badRequest("container \"\(chosen)\" in pod \"\(podName)\" is waiting to start: ContainerCreating")
        }
        var lines: [String]
        if chosen != runtime.containerName {
            lines = []
        } else if previous {
            guard let p = runtime.previousLogs else {
                throw APIError.badRequest("previous terminated container \"\(chosen)\" in pod \"\(podName)\" not found")
            }
            lines = p
        } else {
            lines = runtime.logs
        }
        if let tailLines, tailLines >= 0 { lines = Array(lines.suffix(tailLines)) }
        return lines.map { $0 + "\n" }.joined()
    }
}
