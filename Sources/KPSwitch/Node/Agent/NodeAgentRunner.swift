import KubeAPI

/// Why one node's agent gave no facts; that node's node checks are skipped with this reason, never passed.
public struct NodeAgentFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public let node: String
    public let reason: String

    public var description: String { reason }
}

/// A reason, written as a string literal where the runner decides it.
struct AgentProblem: Error, ExpressibleByStringInterpolation {
    let reason: String

    init(_ reason: String) { self.reason = reason }
    init(stringLiteral value: String) { reason = value }
}

/// Runs one agent pod per node through the API, a bounded number at a time, and returns each node's
/// facts or the reason it has none. Every pod it creates is deleted before it returns — after success,
/// failure, timeout, and when the caller's task is cancelled (Ctrl-C).
public struct NodeAgentRunner: Sendable {
    public let client: KubeClient
    public let namespace: String
    /// The kube-proxy DaemonSet's `spec.template`.
    public let template: JSONValue
    public let image: String?
    public let concurrency: Int
    /// The pod's `activeDeadlineSeconds`; kpswitch gives up waiting a little after it.
    public let deadlineSeconds: Int
    /// The node bundle each agent writes (`NodeAgentPod`'s `snapshot`), or nil for facts only.
    public let snapshot: String?

    /// What running agent pods asks of the API in `namespace`, as RBAC permissions.
    static func permissions(namespace: String) -> [Permission] {
        ["create", "watch", "delete"].map { Permission($0, "pods", namespace: namespace) }
            + [Permission("get", "pods", subresource: "log", namespace: namespace)]
    }

    public static let defaultConcurrency = 20
    public static let defaultDeadlineSeconds = 60
    /// How long past the pod's deadline kpswitch waits for the kubelet to report it.
    static let grace: Duration = .seconds(15)

    public init(
        client: KubeClient, namespace: String, template: JSONValue, image: String?,
        concurrency: Int = defaultConcurrency, deadlineSeconds: Int = defaultDeadlineSeconds, snapshot: String? = nil
    ) {
        self.snapshot = snapshot
        self.client = client
        self.namespace = namespace
        self.template = template
        self.image = image
        self.concurrency = max(1, concurrency)
        self.deadlineSeconds = deadlineSeconds
    }

    public func inspect(nodes: [String]) async -> [String: Result<AgentNode, NodeAgentFailure>] {
        let snapshot = snapshot
        return await run(.facts(snapshot: snapshot), on: nodes) { log throws(NodeAgentLogError) in
            try AgentNode(log: log, snapshot: snapshot)
        }
    }

    public func inspect(node: String) async -> Result<AgentNode, NodeAgentFailure> {
        await inspect(nodes: [node])[node] ?? .failure(NodeAgentFailure(node: node, reason: "no result"))
    }

    /// Runs `program` on every node, `concurrency` at a time, and reads each log with `read`.
    func run<Answer: Sendable>(
        _ program: NodeAgentProgram, on nodes: [String], read: @escaping @Sendable (NodeAgentLog) throws(NodeAgentLogError) -> Answer
    ) async -> [String: Result<Answer, NodeAgentFailure>] {
        await withTaskGroup(of: (String, Result<Answer, NodeAgentFailure>).self) { group in
            var waiting = nodes.makeIterator()
            for _ in 0..<concurrency {
                guard let node = waiting.next() else { break }
                group.addTask { (node, await run(program, on: node, read: read)) }
            }
            var results: [String: Result<Answer, NodeAgentFailure>] = [:]
            for await (node, result) in group {
                results[node] = result
                if !Task.isCancelled, let next = waiting.next() { group.addTask { (next, await run(program, on: next, read: read)) } }
            }
            while let node = waiting.next() {
                results[node] = .failure(NodeAgentFailure(node: node, reason: "cancelled before its agent pod was created"))
            }
            return results
        }
    }

    private func run<Answer: Sendable>(
        _ program: NodeAgentProgram, on node: String, read: @Sendable (NodeAgentLog) throws(NodeAgentLogError) -> Answer
    ) async -> Result<Answer, NodeAgentFailure> {
        let fail = { (reason: String) in Result<Answer, NodeAgentFailure>.failure(NodeAgentFailure(node: node, reason: reason)) }
        guard !Task.isCancelled else { return fail("cancelled before its agent pod was created") }
        let agent: NodeAgentPod
        do {
            agent = try NodeAgentPod(
                template: template, node: node, namespace: namespace, nonce: Self.nonce(), image: image,
                deadlineSeconds: deadlineSeconds, program: program)
        } catch {
            return fail(error.message)
        }
        let created: Result<Pod, KubeAPIError>
        do throws(KubeAPIError) {
            // Sent again after a 429 or 5xx; AlreadyExists then means an earlier attempt landed, and the
            // random name makes that pod this run's.
            let (client, namespace, pod) = (client, namespace, agent.pod)
            created = .success(try await TransientRetry.create { () async throws(KubeAPIError) in
                try await client.create(pod, namespace: namespace)
            })
        } catch where error.kind == .alreadyExists {
            created = .success(agent.pod)
        } catch {
            created = .failure(error)
        }
        if case .failure(let error) = created {
            // Without an answer (Ctrl-C or a dropped connection while the create was in flight) the pod may
            // exist all the same: delete it by name, which costs a 404 when it does not.
            if error.status == nil { await delete(agent) }
            return fail("the agent pod could not be created: \(Self.refusal(error, pod: agent.name))")
        }
        let outcome = await finish(agent, program: program, read: read)
        await delete(agent)
        return outcome.mapError { NodeAgentFailure(node: node, reason: $0.reason) }
    }

    /// An unstructured task does not inherit the caller's cancellation, so Ctrl-C still deletes the pod.
    private func delete(_ agent: NodeAgentPod) async {
        let client = client, namespace = namespace
        await Task {
            try? await client.delete(Pod.self, name: agent.name, namespace: namespace)
        }.value
    }

    /// Waits for the pod to end (or the deadline to pass) and parses its log.
    private func finish<Answer>(
        _ agent: NodeAgentPod, program: NodeAgentProgram, read: (NodeAgentLog) throws(NodeAgentLogError) -> Answer
    ) async -> Result<Answer, AgentProblem> {
        let ended: Result<Pod, AgentProblem> = await withTaskGroup(of: Result<Pod, AgentProblem>?.self) { group in
            group.addTask { await ending(of: agent) }
            group.addTask { [deadlineSeconds] in
                try? await Task.sleep(for: .seconds(deadlineSeconds) + Self.grace)
                return Task.isCancelled ? nil
                    : .failure("the agent pod did not finish within \(deadlineSeconds)s (+15s); the node may be down or not starting pods")
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure("cancelled before the agent pod finished")
        }
        let pod: Pod
        switch ended {
        case .failure(let reason): return .failure(reason)
        case .success(let finished): pod = finished
        }
        let log: Result<String, KubeAPIError>
        do throws(KubeAPIError) {
            log = .success(try await client.logs(pod: agent.name, namespace: namespace, container: "agent"))
        } catch {
            log = .failure(error)
        }
        switch log {
        case .failure(let error):
            return .failure("the agent pod's log could not be read: \(error)")
        case .success(let text):
            // A log that parses is whole by its framing, so it holds even when the pod then failed (its deadline
            // passed after the end line, say); one that does not is reported with the pod's own reason first.
            let parsed: Result<Answer, NodeAgentLogError>
            do throws(NodeAgentLogError) {
                parsed = .success(try read(NodeAgentLog(parsing: text, nonce: agent.nonce, program: program)))
            } catch {
                parsed = .failure(error)
            }
            switch parsed {
            case .success(let node):
                return .success(node)
            case .failure where pod.phase == "Failed":
                return .failure("the agent pod failed: \(Self.why(pod))\(text.isEmpty ? "" : "; its log ends: \(text.suffix(200))")")
            case .failure(let error):
                return .failure(AgentProblem(error.description))
            }
        }
    }

    /// The pod once it has Succeeded or Failed, or why it never will.
    private func ending(of agent: NodeAgentPod) async -> Result<Pod, AgentProblem>? {
        do {
            for try await event in client.watch(Pod.self, namespace: namespace, fieldSelector: "metadata.name=\(agent.name)") {
                switch event {
                case .added(let pod), .modified(let pod):
                    if pod.phase == "Succeeded" || pod.phase == "Failed" { return .success(pod) }
                    if let waiting = Self.stuck(pod) { return .failure("the agent pod cannot start: \(waiting)") }
                case .deleted:
                    return .failure("the agent pod was deleted before it finished")
                case .bookmark:
                    continue
                }
            }
        } catch {
            if Task.isCancelled { return nil }
            return .failure("watching the agent pod failed: \("\(error)".replacingOccurrences(of: agent.name, with: "kpswitch-agent-…"))")
        }
        return Task.isCancelled ? nil : .failure("the watch on the agent pod ended before it finished")
    }

    /// Waiting reasons from which the kubelet does not recover by itself within a deadline.
    static let hopeless: Set<String> = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"]

    static func stuck(_ pod: Pod) -> String? {
        for status in pod.json[path: ["status", "containerStatuses"]]?.arrayValue ?? [] {
            guard let reason = status[path: ["state", "waiting", "reason"]]?.stringValue, hopeless.contains(reason) else { continue }
            let message = status[path: ["state", "waiting", "message"]]?.stringValue
            return message.map { "\(reason): \($0)" } ?? reason
        }
        return nil
    }

    /// The API server's own words for a refused pod (RBAC was asked beforehand, so a 403 here is mostly
    /// admission: PodSecurity, a webhook), or the transport's failure, with the pod's random name taken out so
    /// that the nodes refused alike share one finding.
    static func refusal(_ error: KubeAPIError, pod: String) -> String {
        guard let status = error.status, let message = status.message else {
            return "\(error)".replacingOccurrences(of: pod, with: "kpswitch-agent-…")
        }
        let said = message.replacingOccurrences(of: pod, with: "kpswitch-agent-…")
        return [status.code.map(String.init), status.reason].compactMap { $0 }.joined(separator: " ") + ": " + said
    }

    static func why(_ pod: Pod) -> String {
        let reason = pod.json[path: ["status", "reason"]]?.stringValue
        let message = pod.json[path: ["status", "message"]]?.stringValue
        if let reason { return message.map { "\(reason): \($0)" } ?? reason }
        let code = (pod.json[path: ["status", "containerStatuses"]]?.arrayValue ?? []).compactMap {
            $0[path: ["state", "terminated", "exitCode"]]?.intValue
        }.first
        return code.map { "the script exited with status \($0)" } ?? "no reason given"
    }

    /// 16 lowercase base-36 digits: a pod-name-safe token no earlier run's log carries.
    static func nonce() -> String {
        let digits = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        return String((0..<16).map { _ in digits.randomElement()! })
    }
}
