import Foundation
import KubeAPI
import Synchronization

/// What a verdict needs of one kube-proxy pod, taken from each watch event; the pod itself is not kept, so
/// a waiting phase's memory grows by a few strings per node, not by a pod object.
struct PodSummary: Sendable {
    let name: String
    let uid: String
    let node: String
    let hash: String?
    /// Created after the migration started: only such a pod's log is read.
    let createdByMigration: Bool
    /// What the status alone says (crash-looping, not Ready yet); nil when it is Ready and its log decides.
    let status: NodeVerdict?

    init(_ pod: Pod, container: String, startedAt: Date?) {
        name = pod.name
        uid = pod.uid ?? pod.name
        node = pod.nodeName ?? ""
        hash = pod.labels["controller-revision-hash"]
        let created = pod.creationTimestamp.flatMap(Timestamp.parse)
        // Both stamps have whole seconds: a pod of the migration's first second counts as its own.
        createdByMigration = startedAt.map { start in created.map { $0 >= start } ?? true } ?? true
        status = NodeVerdict.judgeStatus(pod: pod, container: container)
    }

    var isReady: Bool { status == nil }

    /// What `init` and the phases read of a pod; a list or watch keeps only these.
    static let fields: JSONProjection = .only([
        "metadata": .only(["labels": .all, "creationTimestamp": .all, "deletionTimestamp": .all]),
        "spec": .only(["nodeName": .all]),
        "status": .only(["phase": .all, "conditions": .all, "containerStatuses": .all]),
    ])

    func isCurrent(_ hash: String) -> Bool { self.hash == hash }
}

/// One waiting phase's view of kube-proxy's pods and DaemonSet: one label-selected pod watch and one watch of
/// the DaemonSet by name, each started from a list's resourceVersion (KubeClient.watch resumes a dropped
/// connection, with bookmarks, and re-lists after 410). `changes` yields after every event, and on a tick
/// so that deadlines and re-reads are checked while nothing happens; no tick sends a request.
final class RolloutWatch: Sendable {
    private struct View {
        var pods: [String: PodSummary] = [:]
        var daemonSet: DaemonSet?
        /// Why a watch ended; the phase then opens both again.
        var failure: (any Error)?
    }

    let client: KubeClient
    let namespace: String
    let daemonSetName: String
    let selector: String
    let container: String
    let startedAt: Date?
    let changes: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation
    private let view = Mutex(View())
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(client: KubeClient, namespace: String, daemonSet: DaemonSet, container: String, startedAt: String, tick: Duration) {
        self.client = client
        self.namespace = namespace
        daemonSetName = daemonSet.name
        selector = MigrationPlanner.selector(of: daemonSet)
        self.container = container
        self.startedAt = Timestamp.parse(startedAt)
        let (changes, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.changes = changes
        self.signal = signal
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                signal.yield()
            }
        }
        tasks.withLock { $0.append(ticker) }
    }

    deinit { stop() }

    func stop() {
        for task in tasks.withLock({ tasks in defer { tasks = [] }; return tasks }) { task.cancel() }
        signal.finish()
    }

    /// The pods (those being deleted left out, as a DaemonSet's rollout counts them) and the DaemonSet.
    var snapshot: (daemonSet: DaemonSet?, pods: [PodSummary]) {
        view.withLock { view in (view.daemonSet, Array(view.pods.values)) }
    }

    /// Why a watch stopped, once; nil while both run.
    func takeFailure() -> (any Error)? {
        view.withLock { view in defer { view.failure = nil }; return view.failure }
    }

    /// The DaemonSet generation a phase needs to see before it judges anything: its own last change. A watch
    /// kept across phases may not have delivered that change's event yet, and the DaemonSet it holds would
    /// then look changed by someone else, or its old template current.
    private let floor = Mutex<(uid: String?, generation: Int)>((nil, 0))

    func require(_ daemonSet: DaemonSet) {
        floor.withLock { $0 = (daemonSet.uid, daemonSet.generation ?? 0) }
    }

    /// The watched DaemonSet, or nil while it is older than the phase's floor.
    func currentDaemonSet() -> (daemonSet: DaemonSet?, caughtUp: Bool) {
        let (daemonSet, floor) = (view.withLock { $0.daemonSet }, floor.withLock { $0 })
        guard let daemonSet else { return (nil, true) }
        return (daemonSet, daemonSet.uid != floor.uid || (daemonSet.generation ?? 0) >= floor.generation)
    }

    /// Lists both, then watches both from the lists' versions; replaces what was seen before. The pods are
    /// listed page by page and only their summaries kept, so a thousand pods are never held whole.
    func open() async throws(KubeAPIError) {
        for task in tasks.withLock({ tasks in defer { tasks = Array(tasks.prefix(1)) }; return tasks.dropFirst() }) {
            task.cancel()
        }
        let container = self.container
        let startedAt = self.startedAt
        var summaries: [String: PodSummary] = [:]
        var listedPods: [ObjectVersion] = []
        var podsVersion: String?
        var pages = client.listPages(
            Pod.self, namespace: namespace, labelSelector: selector, pageSize: ClusterSurvey.pageSize, keeping: PodSummary.fields
        ).makeAsyncIterator()
        while let page = try await pages.next() {
            podsVersion = page.resourceVersion
            for pod in page.items {
                listedPods.append(ObjectVersion(pod))
                if pod.json[path: ["metadata", "deletionTimestamp"]] == nil {
                    summaries[pod.name] = PodSummary(pod, container: container, startedAt: startedAt)
                }
            }
        }
        let daemonSets = try await client.list(DaemonSet.self, namespace: namespace, fieldSelector: "metadata.name=\(daemonSetName)")
        view.withLock { view in
            view.pods = summaries
            view.daemonSet = daemonSets.items.first
            view.failure = nil
        }
        // Seeded with the lists, so a re-list after 410 reports a pod deleted during the gap.
        let podEvents = client.watch(
            Pod.self, namespace: namespace, labelSelector: selector, resourceVersion: podsVersion, listed: listedPods,
            keeping: PodSummary.fields)
        let daemonSetEvents = client.watch(
            DaemonSet.self, namespace: namespace, fieldSelector: "metadata.name=\(daemonSetName)",
            resourceVersion: daemonSets.resourceVersion, listed: daemonSets.items.map(ObjectVersion.init))
        let podTask = Task { [self] in
            await follow(podEvents) { view, event in
                switch event {
                case .added(let pod), .modified(let pod):
                    if pod.json[path: ["metadata", "deletionTimestamp"]] == nil {
                        view.pods[pod.name] = PodSummary(pod, container: container, startedAt: startedAt)
                    } else {
                        view.pods[pod.name] = nil
                    }
                case .deleted(let pod): view.pods[pod.name] = nil
                case .bookmark: break
                }
            }
        }
        let daemonSetTask = Task { [self] in
            await follow(daemonSetEvents) { view, event in
                switch event {
                case .added(let daemonSet), .modified(let daemonSet): view.daemonSet = daemonSet
                case .deleted: view.daemonSet = nil
                case .bookmark: break
                }
            }
        }
        tasks.withLock { $0 += [podTask, daemonSetTask] }
        signal.yield()
    }

    private func follow<R: KubeResource>(
        _ events: AsyncThrowingStream<WatchEvent<R>, any Error>, apply: @Sendable (inout View, WatchEvent<R>) -> Void
    ) async {
        do {
            for try await event in events {
                view.withLock { apply(&$0, event) }
                signal.yield()
            }
        } catch {
            if !Task.isCancelled {
                view.withLock { $0.failure = error }
            }
        }
        signal.yield()
    }
}

extension MigrationRunner {
    /// The run's watches, opened (through `api`, so a read that fails is handled as every other request) by
    /// the first waiting phase and kept for the next ones: one pod list per run rather than per phase. The
    /// DaemonSet is read once per phase, for the generation its watch must reach first.
    func openWatch() async throws(StepFailure) -> RolloutWatch {
        let daemonSet = try await getDaemonSet()
        if let watch = rolloutWatch {
            watch.require(daemonSet)
            return watch
        }
        let watch = RolloutWatch(
            client: client, namespace: namespace, daemonSet: daemonSet, container: state.originalDaemonSet.container,
            startedAt: state.startedAt, tick: pollInterval)
        watch.require(daemonSet)
        try await api { () async throws(KubeAPIError) in try await watch.open() }
        rolloutWatch = watch
        return watch
    }

    /// Waits for the next change (or tick); a watch that gave up is opened again from a fresh list. A watch
    /// that ended because the API server is away counts as the first failed request of an outage: `api`
    /// reports the pause and waits (within --api-unavailable-timeout) before it lists again.
    func next(_ watch: RolloutWatch, _ changes: inout AsyncStream<Void>.Iterator) async throws(StepFailure) {
        _ = await changes.next(isolation: #isolation)
        // A batch's pods change in bursts (a thousand events within a second): the events of the next moments
        // join this one, so a phase looks at all its pods once per burst rather than once per event.
        try? await Task.sleep(for: min(pollInterval, Self.coalescing))
        guard let failure = watch.takeFailure() else { return }
        logger.debug("watch ended (\(failure)); listing and watching again")
        var outage = (failure as? KubeAPIError).flatMap { $0.isAPIUnavailable ? $0 : nil }
        try await api { () async throws(KubeAPIError) in
            if let error = outage {
                outage = nil
                throw error
            }
            try await watch.open()
        }
    }

    /// The DaemonSet once its controller has seen its spec, and its current template hash; nil while the
    /// controller has not. ControllerRevisions are listed once per generation.
    func currentRevision(_ watch: RolloutWatch, cache: inout (generation: Int, hash: String)?) async throws(StepFailure) -> (DaemonSet, String)? {
        let (watched, caughtUp) = watch.currentDaemonSet()
        guard let daemonSet = watched else {
            throw StepFailure(message: "DaemonSet \(namespace)/\(state.originalDaemonSet.name) was deleted during the migration; kpswitch stopped.")
        }
        guard caughtUp else { return nil }
        try checkDaemonSetUnchanged(daemonSet)
        let generation = daemonSet.generation ?? 0
        guard (daemonSet.observedGeneration ?? 0) >= generation else { return nil }
        if let cache, cache.generation == generation { return (daemonSet, cache.hash) }
        let revisions = try await api { () async throws(KubeAPIError) in
            try await client.list(ControllerRevision.self, namespace: namespace, labelSelector: MigrationPlanner.selector(of: daemonSet)).items
        }
        let owned = revisions.filter { revision in
            (revision.json[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains { $0["uid"]?.stringValue == daemonSet.uid }
        }
        guard let newest = owned.max(by: { ($0.json["revision"]?.intValue ?? 0) < ($1.json["revision"]?.intValue ?? 0) }),
            let hash = newest.labels["controller-revision-hash"]
        else { return nil }
        cache = (generation, hash)
        return (daemonSet, hash)
    }
}

extension MigrationRunner {
    /// How many pod logs a phase reads, or pods it deletes, at once: a batch of a hundred pods waits for ten
    /// round trips, not a hundred.
    static let concurrentRequests = 10

    /// How long a waiting phase lets watch events gather before it looks at them.
    static let coalescing: Duration = .milliseconds(20)

    /// The verdicts on `pods`, in their order, reading the logs `verdicts` cannot decide without (only the
    /// sample's while a final batch has none yet) `concurrentLogReads` at a time.
    func judge(_ pods: [PodSummary], mode: ProxyMode, _ verdicts: inout Verdicts) async -> [NodeVerdict] {
        var decided = pods.map { verdicts.judge($0) }
        var unread = decided.indices.filter { decided[$0] == nil }
        if verdicts.needsSample { unread = Array(unread.prefix(1)) }
        let logs = await readLogs(unread.map { pods[$0] })
        for (index, log) in zip(unread, logs) { decided[index] = verdicts.judge(pods[index], log: log, mode: mode) }
        return zip(pods, decided).map { pod, verdict in
            verdict ?? verdicts.judge(pod) ?? .pending("node \(pod.node): pod \(pod.name) waits for the batch's first log to show \(mode.rawValue)")
        }
    }

    private func readLogs(_ pods: [PodSummary]) async -> [Result<String, KubeAPIError>] {
        let (client, namespace, container) = (client, namespace, state.originalDaemonSet.container)
        return await concurrently(pods.map(\.name), limit: Self.concurrentRequests) { name in
            do throws(KubeAPIError) {
                return .success(try await client.logs(pod: name, namespace: namespace, container: container))
            } catch {
                return .failure(error)
            }
        }
    }

    /// After the original update strategy is back: the controller has observed it and counts every pod
    /// updated and available (kubectl's rule), so it has nothing left to roll.
    func awaitSettled() async throws(StepFailure) {
        let watch = try await openWatch()
        var changes = watch.changes.makeAsyncIterator()
        var revision: (generation: Int, hash: String)?
        while true {
            if case let (daemonSet, hash)? = try await currentRevision(watch, cache: &revision) {
                let desired = daemonSet.desiredNumberScheduled
                let stale = watch.snapshot.pods.filter { !$0.isCurrent(hash) }
                if stale.isEmpty, daemonSet.updatedNumberScheduled >= desired, daemonSet.numberAvailable >= desired { return }
                try checkDeadline("DaemonSet \(namespace)/\(daemonSet.name) to count every pod updated and available (\(stale.count) not on its template)")
            } else {
                try checkDeadline("the DaemonSet controller to observe DaemonSet \(namespace)/\(state.originalDaemonSet.name)")
            }
            try await next(watch, &changes)
        }
    }
}

/// `body` of every item, at most `limit` at a time; the results in the items' order.
func concurrently<Item: Sendable, Output: Sendable>(
    _ items: [Item], limit: Int, _ body: @escaping @Sendable (Item) async -> Output
) async -> [Output] {
    await withTaskGroup(of: (Int, Output).self) { group in
        var outputs: [Int: Output] = [:]
        var next = 0
        func start() {
            guard next < items.count else { return }
            let (index, item) = (next, items[next])
            next += 1
            group.addTask { (index, await body(item)) }
        }
        for _ in 0..<limit { start() }
        while let (index, output) = await group.next() {
            outputs[index] = output
            start()
        }
        return items.indices.compactMap { outputs[$0] }
    }
}

/// The verdicts decided so far in one phase, by pod uid: each pod's log is read once it is Ready (again
/// only while it lacks the start-up line), and only for pods the migration created.
struct Verdicts {
    private var decided: [String: NodeVerdict] = [:]
    /// A final batch: each of its nodes already proved the mode in its canary batch, from the same configuration
    /// text. One pod's log shows that the original ConfigMap reaches the pods; after it, a pod on the current
    /// template that is Ready and has never restarted proves its node again without its log being read.
    let sampling: Bool
    private var sampled = false
    /// A log that lacked the start-up line is read again after this long, not on every event of the phase.
    let rereadAfter: Duration
    /// The last pending verdict of each such pod, and when its log may be read again.
    private var rereads: [String: (verdict: NodeVerdict, at: ContinuousClock.Instant)] = [:]

    /// A final batch whose sample has not shown the mode yet: read one log, not every one.
    var needsSample: Bool { sampling && !sampled }

    init(sampling: Bool = false, rereadAfter: Duration) {
        self.sampling = sampling
        self.rereadAfter = rereadAfter
    }

    /// The verdict without reading the log; nil when the pod's log must be read now.
    mutating func judge(_ pod: PodSummary) -> NodeVerdict? {
        if let verdict = decided[pod.uid] { return verdict }
        if let status = pod.status {
            if case .failed = status { decided[pod.uid] = status }
            return status
        }
        // A pod older than the migration was never restarted by it: Ready and not restarting is its proof.
        guard pod.createdByMigration, !(sampling && sampled) else {
            decided[pod.uid] = .verified
            return .verified
        }
        if let reread = rereads[pod.uid], ContinuousClock.now < reread.at { return reread.verdict }
        return nil
    }

    mutating func judge(_ pod: PodSummary, log: Result<String, KubeAPIError>, mode: ProxyMode) -> NodeVerdict {
        switch log {
        case .success(let log):
            let verdict = NodeVerdict.judgeLog(log, node: pod.node, pod: pod.name, mode: mode)
            if case .pending = verdict {
                rereads[pod.uid] = (verdict, .now + rereadAfter)
                return verdict
            }
            if verdict == .verified { sampled = true }
            decided[pod.uid] = verdict
            return verdict
        case .failure(let error):
            return .pending("node \(pod.node): the log of pod \(pod.name) cannot be read yet (\(error))")
        }
    }
}
