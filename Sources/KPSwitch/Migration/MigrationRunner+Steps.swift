import Foundation
import KubeAPI

/// apps/v1 ControllerRevision: the newest one names the DaemonSet's current template hash.
struct ControllerRevision: KubeResource {
    static let resource = APIResource(group: "apps", version: "v1", plural: "controllerrevisions", kind: "ControllerRevision", namespaced: true)
    var json: JSONValue
    init(json: JSONValue) { self.json = json }
}

/// Each step, idempotent: it first looks at what is there, does nothing when its result is already in
/// place (a re-run after a crash), and refuses to overwrite anything it did not expect.
extension MigrationRunner {
    func perform(_ step: MigrationStep) async throws(StepFailure) {
        switch step {
        case .acquireLock:
            // The Lease is taken before the first record is written; this step only proves it is still held.
            do throws(KPSwitchError) { try await lock.check() } catch { throw StepFailure(message: error.message) }
        case .backUp:
            try await checkOriginalsUnchanged()
            try await snapshotNodes()
        case .createStagedConfig: try await createStagedConfig()
        case .pointDaemonSetAtStaged:
            let staged: (updateStrategy: JSONValue, template: JSONValue)
            do throws(KPSwitchError) {
                staged = try DaemonSetChange.staged(
                    state.originalDaemonSet, stagedConfigMap: state.target.stagedConfigMap, configPath: state.target.configPath,
                    cleanup: state.record.plan.cleanup)
            } catch {
                throw StepFailure(message: error.message)
            }
            try await writeDaemonSet(updateStrategy: staged.updateStrategy, template: staged.template)
        case .replacePods(_, let nodes): try await replacePods(on: nodes)
        case .verifyNodes(_, let nodes, let mode): try await verify(nodes: nodes, mode: mode)
        case .writeOriginalConfig, .editConfigInPlace: try await writeConfig(editedData, over: state.originalConfigMap.data)
        case .pointDaemonSetAtOriginal:
            try await writeDaemonSet(updateStrategy: DaemonSetChange.onDelete, template: state.originalDaemonSet.template)
        case .restoreDaemonSet:
            try await writeDaemonSet(updateStrategy: state.originalDaemonSet.updateStrategy, template: state.originalDaemonSet.template)
            try await awaitSettled()
        case .restoreOriginalDaemonSet:
            try await writeDaemonSet(updateStrategy: state.originalDaemonSet.updateStrategy, template: state.originalDaemonSet.template)
        case .restartDaemonSet:
            try await writeDaemonSet(
                updateStrategy: state.originalDaemonSet.updateStrategy,
                template: DaemonSetChange.restarted(state.originalDaemonSet.template, at: state.startedAt))
        case .awaitRollout(let mode): try await awaitRollout(mode: mode)
        case .deleteStagedConfig: try await deleteStagedConfig()
        case .cleanNodes(let mode): try await cleanNodes(mode: mode)
        case .releaseLock:
            do throws(KPSwitchError) { try await lock.release() } catch { throw StepFailure(message: error.message) }
        case .restoreOriginalConfig: try await writeConfig(state.originalConfigMap.data, over: editedData)
        }
    }

    var editedData: [String: String] {
        var data = state.originalConfigMap.data
        data[state.originalConfigMap.key] = state.target.configText
        return data
    }

    private var configMapRef: String { "ConfigMap \(namespace)/\(state.originalConfigMap.name)" }
    private var daemonSetRef: String { "DaemonSet \(namespace)/\(state.originalDaemonSet.name)" }

    /// Every request of a step goes through here: waits out the API server's absence (APIAvailability.swift).
    func api<T: Sendable>(_ body: () async throws(KubeAPIError) -> T) async throws(StepFailure) -> T {
        switch try await apiResult(body) {
        case .success(let value): return value
        case .failure(let error): throw StepFailure(error)
        }
    }

    // MARK: - Objects

    /// Nothing changed between the plan (read before the Lease was taken) and now.
    func checkOriginalsUnchanged() async throws(StepFailure) {
        let configMap = try await api { () async throws(KubeAPIError) in
            try await client.get(ConfigMap.self, name: state.originalConfigMap.name, namespace: namespace)
        }
        guard configMap.data == state.originalConfigMap.data else {
            throw StepFailure.conflict("\(configMapRef) changed since the plan was made (resourceVersion \(state.originalConfigMap.resourceVersion) -> \(configMap.resourceVersion ?? "?")); kpswitch changed nothing. Run migrate again to plan from what is there now.")
        }
        let daemonSet = try await getDaemonSet()
        guard DaemonSetChange.matches(
            daemonSet, updateStrategy: state.originalDaemonSet.updateStrategy, template: state.originalDaemonSet.template)
        else {
            throw StepFailure.conflict("\(daemonSetRef) changed since the plan was made (generation \(state.originalDaemonSet.generation) -> \(daemonSet.generation ?? 0)); kpswitch changed nothing. Run migrate again.")
        }
    }

    /// Every node writes its bundle before the first change; the record keeps what each reported, so a
    /// resumed run shows it. A node without a bundle fails the step (nothing is changed yet) unless ignored.
    func snapshotNodes() async throws(StepFailure) {
        guard let plan = state.nodeSnapshot else {
            progress("node snapshot: none taken (--no-node-snapshot); no node has a bundle to restore from")
            return
        }
        // A fresh survey per try: a survey keeps the failures it met.
        var report = await NodeSnapshots.take(survey: ClusterSurvey(client: client, namespace: namespace), options: plan.options, id: plan.id, keptIn: MigrationState.configMapName)
        // The agents' requests do not wait out a flaky API server as the steps' do: a node that failed gets
        // two more tries (same id, so its files are simply written again).
        for attempt in 1...2 where !report.notSnapshotted.isEmpty {
            logger.debug("node snapshot: retrying \(report.notSnapshotted.count) nodes (attempt \(attempt + 1))")
            try? await Task.sleep(for: .seconds(attempt))
            report = report.merging(await NodeSnapshots.take(
                survey: ClusterSurvey(client: client, namespace: namespace), options: plan.options, id: plan.id, keptIn: MigrationState.configMapName,
                only: Set(report.notSnapshotted.map(\.node))))
        }
        state.nodeSnapshot?.report = report
        let missing = report.notSnapshotted
        progress("node snapshot \(plan.id): \(report.nodes.count - missing.count) of \(report.nodes.count) nodes snapshotted")
        guard !missing.isEmpty, !plan.ignoreFailures else { return }
        let first = missing[0]
        throw StepFailure(message: "\(AcrossNodes.which(missing.map(\.node), of: report.nodes.count)) could not be snapshotted (\(first.node): \(first.reason ?? "no reason given")); kpswitch changed nothing. Fix what kept the agents from running and migrate again, or pass --ignore-preflight-errors=\(NodeSnapshots.checkName) to migrate without their bundles. See Runbooks/preflight.md#nodesnapshot.")
    }

    /// Idempotent: a node already clean has nothing left to remove. A node whose agent could not run gets two
    /// more tries, as in the back-up's node snapshot; a refused one (its image lacks ipvsadm and ip) does not.
    func cleanNodes(mode: ProxyMode) async throws(StepFailure) {
        let running = state.record.plan.to
        // The agent settings migrate was started with (kept beside the node snapshot's id).
        let options = state.nodeSnapshot?.options ?? NodeAgentOptions()
        var report = await NodeCleanups.clean(
            mode: mode, running: running, nodes: nil, dryRun: false, survey: ClusterSurvey(client: client, namespace: namespace), options: options)
        for attempt in 1...2 {
            let retry = report.notCleaned.filter { $0.reason?.hasPrefix(NodeCleanupReport.Node.agentFailurePrefix) == true }.map(\.node)
            guard !retry.isEmpty else { break }
            logger.debug("node cleanup: retrying \(retry.count) nodes (attempt \(attempt + 1))")
            try? await Task.sleep(for: .seconds(attempt))
            report = report.merging(await NodeCleanups.clean(
                mode: mode, running: running, nodes: retry, dryRun: false, survey: ClusterSurvey(client: client, namespace: namespace),
                options: options))
        }
        let missing = report.notCleaned
        progress("node cleanup: \(report.nodes.count - missing.count) of \(report.nodes.count) nodes cleaned of \(mode.rawValue) leftovers")
        guard !missing.isEmpty else { return }
        let each = missing.map { node in
            "\(node.node): \(node.reason ?? "no reason given")\(node.command.map { "; run as root on it: \($0)" } ?? "")"
        }
        throw StepFailure(message: "\(AcrossNodes.which(missing.map(\.node), of: report.nodes.count)) could not be cleaned (\(each.joined(separator: " | ")))")
    }

    func getDaemonSet() async throws(StepFailure) -> DaemonSet {
        try await api { () async throws(KubeAPIError) in
            try await client.get(DaemonSet.self, name: state.originalDaemonSet.name, namespace: namespace)
        }
    }

    func createStagedConfig() async throws(StepFailure) {
        var staged = ConfigMap(name: state.target.stagedConfigMap, namespace: namespace)
        staged.labels = ["app.kubernetes.io/managed-by": "kpswitch"]
        staged.data = editedData
        let object = staged
        switch try await apiResult({ () async throws(KubeAPIError) in try await client.create(object) }) {
        case .success:
            return
        case .failure(let error) where error.kind == .alreadyExists:
            // Also a create of ours that reached the server before the connection broke: read back.
            var existing = try await api { () async throws(KubeAPIError) in
                try await client.get(ConfigMap.self, name: state.target.stagedConfigMap, namespace: namespace)
            }
            if existing.data == editedData { return }
            guard existing.labels["app.kubernetes.io/managed-by"] == "kpswitch" else {
                throw StepFailure.conflict("ConfigMap \(namespace)/\(state.target.stagedConfigMap) already exists and was not made by kpswitch; kpswitch overwrote nothing. Rename or delete it, then run kpswitch migrate --resume.")
            }
            existing.data = editedData
            let update = existing
            _ = try await api { () async throws(KubeAPIError) in try await client.update(update) }
        case .failure(let error):
            throw StepFailure(error)
        }
    }

    func deleteStagedConfig() async throws(StepFailure) {
        try await deleteOnce { () async throws(KubeAPIError) in
            try await client.delete(ConfigMap.self, name: state.target.stagedConfigMap, namespace: namespace)
        }
    }

    /// A delete sent again after the connection broke may find its first attempt done: 404 is success.
    func deleteOnce(_ body: () async throws(KubeAPIError) -> Void) async throws(StepFailure) {
        switch try await apiResult(body) {
        case .success: return
        case .failure(let error) where error.kind == .notFound: return
        case .failure(let error): throw StepFailure(error)
        }
    }

    /// Writes `data` into kube-proxy's ConfigMap when it still holds `expected` (or is already `data`), with
    /// its resourceVersion: a 409 or any other content means someone else changed it.
    func writeConfig(_ data: [String: String], over expected: [String: String], retries: Int = 3) async throws(StepFailure) {
        var configMap = try await api { () async throws(KubeAPIError) in
            try await client.get(ConfigMap.self, name: state.originalConfigMap.name, namespace: namespace)
        }
        if configMap.data == data {
            state.applied.configMapResourceVersion = configMap.resourceVersion
            return
        }
        guard configMap.data == expected || force else {
            throw StepFailure.conflict(changedMessage(configMap))
        }
        configMap.data = data
        let update = configMap
        switch try await apiResult({ () async throws(KubeAPIError) in try await client.update(update) }) {
        case .success(let written):
            state.applied.configMapResourceVersion = written.resourceVersion
        case .failure(let error) where error.kind == .conflict:
            // A retried PUT whose first attempt landed also answers 409, and so does a change to the object's
            // metadata only: look again; the data decides whether it is someone else's change.
            let current = try await api { () async throws(KubeAPIError) in
                try await client.get(ConfigMap.self, name: state.originalConfigMap.name, namespace: namespace)
            }
            if current.data == data {
                state.applied.configMapResourceVersion = current.resourceVersion
                return
            }
            guard current.data == expected || force, retries > 0 else { throw StepFailure.conflict(changedMessage(current)) }
            try await writeConfig(data, over: expected, retries: retries - 1)
        case .failure(let error):
            throw StepFailure(error)
        }
    }

    func changedMessage(_ configMap: ConfigMap) -> String {
        let keys = Set(configMap.data.keys).union(state.originalConfigMap.data.keys)
            .filter { configMap.data[$0] != state.originalConfigMap.data[$0] && configMap.data[$0] != editedData[$0] }.sorted()
        return "\(configMapRef) was changed by someone else during the migration (resourceVersion \(configMap.resourceVersion ?? "?"); key(s) \(keys.joined(separator: ", ")) hold neither the original nor kpswitch's text). kpswitch overwrote nothing and stopped."
    }

    /// Writes the DaemonSet's update strategy and template when its spec is the one kpswitch last wrote (or
    /// recorded as the original), with its resourceVersion. The spec is compared, not the generation: any
    /// change to it by someone else is theirs to keep. A 409 caused by the controller's status updates (they
    /// change the resourceVersion too) is retried after reading again, as client-go's RetryOnConflict does.
    func writeDaemonSet(updateStrategy: JSONValue, template: JSONValue) async throws(StepFailure) {
        for _ in 0..<5 {
            let daemonSet = try await getDaemonSet()
            if DaemonSetChange.matches(daemonSet, updateStrategy: updateStrategy, template: template)
                || Fingerprint(daemonSet.json) == Fingerprint(updateStrategy: updateStrategy, template: template)
            {
                // Already in place: a re-run, or a write whose process died before recording it.
                recordApplied(daemonSet)
                return
            }
            guard isAsKPSwitchLeftIt(daemonSet) || force else {
                throw StepFailure.conflict(daemonSetChangedMessage(daemonSet))
            }
            let updated = DaemonSetChange.applying(daemonSet, updateStrategy: updateStrategy, template: template)
            switch try await apiResult({ () async throws(KubeAPIError) in try await client.update(updated) }) {
            case .success(let written):
                recordApplied(written)
                return
            case .failure(let error) where error.kind == .conflict:
                continue
            case .failure(let error):
                throw StepFailure(error)
            }
        }
        throw StepFailure(message: "\(daemonSetRef) kept changing under kpswitch's write (409 Conflict five times); nothing of anyone else's was overwritten.")
    }

    func recordApplied(_ daemonSet: DaemonSet) {
        state.applied.daemonSetGeneration = daemonSet.generation
        state.applied.daemonSetUpdateStrategy = daemonSet.json[path: ["spec", "updateStrategy"]]
        state.applied.daemonSetTemplate = daemonSet.json[path: ["spec", "template"]]
    }

    /// The DaemonSet's spec is what kpswitch last wrote (the original before any write), or one of
    /// kpswitch's own specs written by a process that died before recording it. Going forward, the original
    /// spec is not one of them: a DaemonSet put back by someone else (a GitOps sync, say) is their change.
    func isAsKPSwitchLeftIt(_ daemonSet: DaemonSet, rollingBack: Bool? = nil) -> Bool {
        let strategy = state.applied.daemonSetUpdateStrategy ?? state.originalDaemonSet.updateStrategy
        let template = state.applied.daemonSetTemplate ?? state.originalDaemonSet.template
        if DaemonSetChange.matches(daemonSet, updateStrategy: strategy, template: template) { return true }
        let original = state.originalDaemonSet
        var own = [
            Fingerprint(updateStrategy: original.updateStrategy, template: DaemonSetChange.restarted(original.template, at: state.startedAt)),
            Fingerprint(updateStrategy: DaemonSetChange.onDelete, template: original.template),
        ]
        if rollingBack ?? (state.record.rollback != nil) {
            own.append(Fingerprint(updateStrategy: original.updateStrategy, template: original.template))
        }
        do throws(KPSwitchError) {
            let staged = try DaemonSetChange.staged(
                original, stagedConfigMap: state.target.stagedConfigMap, configPath: state.target.configPath, cleanup: state.record.plan.cleanup)
            own.append(Fingerprint(updateStrategy: staged.updateStrategy, template: staged.template))
        } catch {
            // The recorded template has no such volume: no staged spec can exist either.
        }
        return own.contains(Fingerprint(daemonSet.json))
    }

    func daemonSetChangedMessage(_ daemonSet: DaemonSet) -> String {
        "\(daemonSetRef) was changed by someone else during the migration (its update strategy or pod template is neither the recorded original nor what kpswitch wrote; generation \(daemonSet.generation ?? 0)). kpswitch overwrote nothing and stopped."
    }

    /// While migrating forward, kube-proxy's ConfigMap must hold the original (or, once kpswitch wrote it,
    /// the edited) data: checked before each batch and the rollout, so someone else's edit stops the run early.
    func checkConfigMapUnchanged() async throws(StepFailure) {
        guard state.record.rollback == nil, !force else { return }
        let configMap = try await api { () async throws(KubeAPIError) in
            try await client.get(ConfigMap.self, name: state.originalConfigMap.name, namespace: namespace)
        }
        let written = state.record.done.contains { $0 == .writeOriginalConfig || $0 == .editConfigInPlace }
        guard configMap.data != (written ? editedData : state.originalConfigMap.data) else { return }
        throw StepFailure.conflict(changedMessage(configMap))
    }

    /// While migrating forward, a DaemonSet spec kpswitch did not write stops the run at the next look,
    /// not only at kpswitch's next write: pods would otherwise keep being replaced from someone else's template.
    func checkDaemonSetUnchanged(_ daemonSet: DaemonSet) throws(StepFailure) {
        guard state.record.rollback == nil, !force, !isAsKPSwitchLeftIt(daemonSet) else { return }
        throw StepFailure.conflict(daemonSetChangedMessage(daemonSet))
    }

    // MARK: - Pods

    /// Deletes each node's kube-proxy pod that is not on the current template, then waits until every
    /// node has one that is. A node already replaced is left alone, so a re-run replaces nothing twice.
    ///
    /// Rolling a canary migration back after its final batches began, a pod on the current (original) template
    /// may have started from the edited ConfigMap: its log decides, and one showing the other mode (or
    /// crash-looping) is replaced once; one already in the old mode (replaced before a kill) is left alone.
    func replacePods(on nodes: [String]) async throws(StepFailure) {
        try await checkConfigMapUnchanged()
        let watch = try await openWatch()
        var changes = watch.changes.makeAsyncIterator()
        var revision: (generation: Int, hash: String)?
        let wanted = Set(nodes)
        let judging = state.record.rollback != nil && state.record.attempted.contains(.pointDaemonSetAtOriginal)
        var verdicts = Verdicts(rereadAfter: pollInterval)
        // Nodes whose pod was deleted (or found in the old mode) by this run, and the pods it deleted.
        var handled = Set<String>()
        var replaced = Set<String>()
        var deleted = false
        while true {
            var waitingFor: String?
            if let hash = try await currentRevision(watch, cache: &revision)?.1 {
                let pods = watch.snapshot.pods.filter { !replaced.contains($0.uid) }
                if !deleted {
                    let stale = pods.filter { !$0.isCurrent(hash) }
                    if stale.count > 1, !watch.selector.isEmpty, stale.allSatisfy({ wanted.contains($0.node) }) {
                        // The batch is every pod left on another template: one request replaces them all.
                        try await deleteStalePods(selector: watch.selector, notOn: hash)
                        handled.formUnion(stale.map(\.node))
                    } else {
                        let batch = stale.filter { wanted.contains($0.node) }
                        try await deletePods(batch.map(\.name))
                        handled.formUnion(batch.map(\.node))
                    }
                    deleted = true
                }
                if judging {
                    let unjudged = pods.filter { $0.isCurrent(hash) && wanted.contains($0.node) && !handled.contains($0.node) }
                    var wrong: [PodSummary] = []
                    for (pod, verdict) in zip(unjudged, await judge(unjudged, mode: state.record.plan.from, &verdicts)) {
                        switch verdict {
                        case .verified: handled.insert(pod.node)
                        case .failed: wrong.append(pod)
                        case .pending(let reason): waitingFor = reason
                        }
                    }
                    try await deletePods(wrong.map(\.name))
                    replaced.formUnion(wrong.map(\.uid))
                    handled.formUnion(wrong.map(\.node))
                }
                let missing = wanted.subtracting(pods.filter { $0.isCurrent(hash) && !replaced.contains($0.uid) }.map(\.node))
                if missing.isEmpty, waitingFor == nil { return }
                try checkDeadline(waitingFor ?? "new kube-proxy pods on \(missing.sorted().prefix(5).joined(separator: ", "))")
            } else {
                try checkDeadline("the DaemonSet controller to observe \(daemonSetRef)")
            }
            try await next(watch, &changes)
        }
    }

    func deletePod(_ name: String) async throws(StepFailure) {
        try await deleteOnce { () async throws(KubeAPIError) in try await client.delete(Pod.self, name: name, namespace: namespace) }
    }

    /// Deletes `concurrentRequests` at a time; one that fails is deleted again through `deletePod`, alone, so an outage is
    /// waited for (and reported) once and any other error stops the step as before.
    func deletePods(_ names: [String]) async throws(StepFailure) {
        let (client, namespace) = (client, namespace)
        let outcomes = await concurrently(names, limit: Self.concurrentRequests) { name -> Bool in
            do throws(KubeAPIError) {
                try await client.delete(Pod.self, name: name, namespace: namespace)
                return true
            } catch {
                return error.kind == .notFound
            }
        }
        for (name, deleted) in zip(names, outcomes) where !deleted { try await deletePod(name) }
    }

    /// Deletes, in one request, every pod of the DaemonSet's `selector` whose template hash is not `hash`.
    func deleteStalePods(selector: String, notOn hash: String) async throws(StepFailure) {
        let stale = "\(selector),controller-revision-hash!=\(hash)"
        try await deleteOnce { () async throws(KubeAPIError) in
            try await client.deleteCollection(Pod.self, namespace: namespace, labelSelector: stale)
        }
    }

    func readLog(_ pod: PodSummary) async -> Result<String, KubeAPIError> {
        do throws(KubeAPIError) {
            return .success(try await client.logs(pod: pod.name, namespace: namespace, container: state.originalDaemonSet.container))
        } catch {
            return .failure(error)
        }
    }

    /// Every listed node's current pod is Ready, not restarting, and logs the mode's start-up line. In a final
    /// batch one pod's log is read (`Verdicts.sampling`), and the original ConfigMap is checked again once the
    /// batch is verified: unchanged, the batch's pods started from the text their nodes proved in the canary batches.
    func verify(nodes: [String], mode: ProxyMode) async throws(StepFailure) {
        let watch = try await openWatch()
        var changes = watch.changes.makeAsyncIterator()
        var revision: (generation: Int, hash: String)?
        let finalBatch = state.record.rollback == nil && state.record.done.contains(.pointDaemonSetAtOriginal)
        var verdicts = Verdicts(sampling: finalBatch, rereadAfter: pollInterval)
        var verified = Set<String>()
        let wanted = Set(nodes)
        while true {
            var waitingFor = "the DaemonSet controller to observe \(daemonSetRef)"
            if let hash = try await currentRevision(watch, cache: &revision)?.1 {
                waitingFor = "kube-proxy to start in \(mode.rawValue) mode"
                let pods = Dictionary(
                    watch.snapshot.pods.filter { $0.isCurrent(hash) && wanted.contains($0.node) }.map { ($0.node, $0) },
                    uniquingKeysWith: { first, _ in first })
                var started: [PodSummary] = []
                for node in nodes where !verified.contains(node) {
                    guard let pod = pods[node] else {
                        waitingFor = "a new kube-proxy pod on node \(node)"
                        continue
                    }
                    started.append(pod)
                }
                for (pod, verdict) in zip(started, await judge(started, mode: mode, &verdicts)) {
                    switch verdict {
                    case .verified: verified.insert(pod.node)
                    case .failed(let reason): throw StepFailure(message: reason)
                    case .pending(let reason): waitingFor = reason
                    }
                }
                if verified.count == wanted.count {
                    if finalBatch { try await checkConfigMapUnchanged() }
                    try await verifyProgrammed(nodes: nodes, mode: mode)
                    return
                }
            }
            try checkDeadline(waitingFor)
            try await next(watch, &changes)
        }
    }

    /// The DaemonSet's rollout (kubectl's rule), then every pod proves `mode`. With an OnDelete strategy
    /// kpswitch replaces the pods itself, one at a time; during a rollback a pod still showing the other
    /// mode (one restarted from the edited configuration) is replaced once.
    func awaitRollout(mode: ProxyMode) async throws(StepFailure) {
        try await checkConfigMapUnchanged()
        let watch = try await openWatch()
        var changes = watch.changes.makeAsyncIterator()
        var revision: (generation: Int, hash: String)?
        var verdicts = Verdicts(rereadAfter: pollInterval)
        var replaced = Set<String>()
        let rollingBack = state.record.rollback != nil
        var lastLine = ""
        var lastPrinted = ContinuousClock.now - .seconds(1)
        while true {
            guard let current = try await currentRevision(watch, cache: &revision) else {
                try checkDeadline("the DaemonSet controller to observe \(daemonSetRef)")
                try await next(watch, &changes)
                continue
            }
            let (daemonSet, hash) = current
            let pods = watch.snapshot.pods
            var verified = 0
            var pending = 0
            var wrong: [PodSummary] = []
            var waitingFor = "the rollout of \(daemonSetRef)"
            let onTemplate = pods.filter { $0.isCurrent(hash) }
            let stale = pods.filter { !$0.isCurrent(hash) }
            for (pod, verdict) in zip(onTemplate, await judge(onTemplate, mode: mode, &verdicts)) {
                switch verdict {
                case .verified:
                    verified += 1
                case .pending(let reason):
                    pending += 1
                    waitingFor = reason
                case .failed(let reason):
                    guard rollingBack else { throw StepFailure(message: reason) }
                    // Deleted already, its DELETED event not yet seen: its successor is what is judged.
                    if replaced.contains(pod.uid) {
                        pending += 1
                        continue
                    }
                    wrong.append(pod)
                }
            }
            let desired = daemonSet.desiredNumberScheduled
            // One pod at a time, and only while no other is starting, so at most one node is without kube-proxy.
            if pending == 0, Set(pods.map(\.node)).count >= desired,
                let pod = wrong.first ?? (daemonSet.updateStrategyType == "OnDelete" ? stale.min(by: { $0.node < $1.node }) : nil),
                !replaced.contains(pod.uid)
            {
                replaced.insert(pod.uid)
                try await deletePod(pod.name)
            }
            let counts = "updated \(daemonSet.updatedNumberScheduled) / verified \(verified) / total \(desired)"
            // At most one line a second, and one when the counts reach the total.
            if counts != lastLine, ContinuousClock.now - lastPrinted >= .seconds(1) || verified >= desired {
                progress("rollout: \(counts), elapsed \(BatchProgress.format(elapsed()))")
                lastLine = counts
                lastPrinted = .now
            }
            if stale.isEmpty, verified >= desired, daemonSet.updatedNumberScheduled >= desired, daemonSet.numberAvailable >= desired {
                try await verifyProgrammed(nodes: Set(onTemplate.map(\.node)).sorted(), mode: mode)
                return
            }
            try checkDeadline(waitingFor)
            try await next(watch, &changes)
        }
    }
}

/// A DaemonSet's update strategy type and pod template as kpswitch compares them with its own writes: the
/// whole template, except that the init containers count by name, since the API server defaults fields of
/// the one kpswitch adds (terminationMessagePath, imagePullPolicy, resources). Everything else came from
/// the server in the first place, so any other difference is someone else's change.
struct Fingerprint: Equatable {
    let strategy: String?
    let template: JSONValue?

    init(_ daemonSet: JSONValue) {
        strategy = daemonSet[path: ["spec", "updateStrategy", "type"]]?.stringValue
        var template = daemonSet[path: ["spec", "template"]]
        if let inits = template?[path: ["spec", "initContainers"]]?.arrayValue {
            template?[path: ["spec", "initContainers"]] = .array(inits.map { $0["name"] ?? .null })
        }
        self.template = template
    }

    init(updateStrategy: JSONValue, template: JSONValue) {
        self.init(["spec": ["updateStrategy": updateStrategy, "template": template]])
    }
}
