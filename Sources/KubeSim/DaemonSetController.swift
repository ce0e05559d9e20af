import Foundation

/// The DaemonSet controller of kube-controller-manager, reduced to what rollouts show: one pod per eligible node,
/// ControllerRevisions per template, RollingUpdate within maxUnavailable/maxSurge, OnDelete left to the user,
/// and status counts computed from the pods the way pkg/controller/daemon computes them.
struct DaemonSetController {
    let store: ObjectStore

    func reconcileAll() {
        let sets = store.list(.daemonSets, filter: ObjectFilter()).items.map(\.object)
        let uids = Set(sets.compactMap { $0[path: ["metadata", "uid"]]?.stringValue })
        collectOrphans(liveOwners: uids)
        let nodes = store.list(.nodes, filter: ObjectFilter()).items.map(\.object)
        for ds in sets { reconcile(ds, nodes: nodes) }
    }

    /// The garbage collector's part: pods and revisions whose owning DaemonSet is gone are deleted.
    private func collectOrphans(liveOwners: Set<String>) {
        for resource in [ResourceType.pods, .controllerRevisions] {
            for item in store.list(resource, filter: ObjectFilter()).items {
                let owners = item.object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []
                guard let owner = owners.first(where: { $0["kind"]?.stringValue == "DaemonSet" }),
                    let uid = owner["uid"]?.stringValue, !liveOwners.contains(uid)
                else { continue }
                store.deleteIfPresent(resource, namespace: item.object[path: ["metadata", "namespace"]]?.stringValue,
                                      name: item.object[path: ["metadata", "name"]]?.stringValue ?? "")
            }
        }
    }

    /// `controller-revision-hash`: a short, stable, label-safe hash of the pod template.
    static func templateHash(_ template: JSONValue) -> String {
        var hash: UInt32 = 2166136261
        for byte in template.serialized() { hash = (hash ^ UInt32(byte)) &* 16777619 }
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(String(hash).map { alphabet[Int(String($0)) ?? 0] })
    }

    static func scaled(_ value: JSONValue?, of total: Int, default fallback: Int) -> Int {
        switch value {
        case .int(let i): return Int(i)
        case .string(let s) where s.hasSuffix("%"):
            let percent = Double(s.dropLast()) ?? 0
            return Int((percent * Double(total) / 100).rounded(.up))
        case .string(let s): return Int(s) ?? fallback
        default: return fallback
        }
    }

    static func nodeMatches(_ node: JSONValue, template: JSONValue) -> Bool {
        let labels = node[path: ["metadata", "labels"]]?.objectValue ?? [:]
        for (key, value) in template[path: ["spec", "nodeSelector"]]?.objectValue ?? [:] where labels[key] != value {
            return false
        }
        // Taints with NoSchedule/NoExecute need a toleration; kube-proxy tolerates everything (operator Exists).
        let tolerations = template[path: ["spec", "tolerations"]]?.arrayValue ?? []
        for taint in node[path: ["spec", "taints"]]?.arrayValue ?? [] {
            let effect = taint["effect"]?.stringValue ?? ""
            guard effect == "NoSchedule" || effect == "NoExecute" else { continue }
            let tolerated = tolerations.contains { t in
                (t["operator"]?.stringValue == "Exists" && (t["key"] == nil || t["key"] == taint["key"]))
                    || (t["key"] == taint["key"] && t["value"] == taint["value"])
            }
            if !tolerated { return false }
        }
        return true
    }

    static func isAvailable(_ pod: JSONValue) -> Bool {
        (pod[path: ["status", "conditions"]]?.arrayValue ?? []).contains {
            $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
        }
    }

    private func reconcile(_ ds: JSONValue, nodes: [JSONValue]) {
        guard let namespace = ds[path: ["metadata", "namespace"]]?.stringValue,
            let name = ds[path: ["metadata", "name"]]?.stringValue,
            let uid = ds[path: ["metadata", "uid"]]?.stringValue,
            let template = ds[path: ["spec", "template"]]
        else { return }
        let generation = ds[path: ["metadata", "generation"]]?.intValue ?? 1
        let hash = DaemonSetController.templateHash(template)
        ensureRevision(ds, template: template, hash: hash)

        let selector = LabelSelector(matchLabels: ds[path: ["spec", "selector", "matchLabels"]]?.objectValue ?? [:])
        let pods = store.list(.pods, filter: ObjectFilter(namespace: namespace, labels: selector)).items.map(\.object)
            .filter { pod in
                (pod[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains { $0["uid"]?.stringValue == uid }
            }
        let eligible = nodes.filter { DaemonSetController.nodeMatches($0, template: template) }
        let eligibleNames = Set(eligible.compactMap { $0[path: ["metadata", "name"]]?.stringValue })
        var podsByNode: [String: [JSONValue]] = [:]
        for pod in pods {
            let node = pod[path: ["spec", "nodeName"]]?.stringValue ?? ""
            if !eligibleNames.contains(node) || pod[path: ["status", "phase"]]?.stringValue == "Failed" {
                deletePod(pod)
            } else {
                podsByNode[node, default: []].append(pod)
            }
        }
        func isNew(_ pod: JSONValue) -> Bool { pod[path: ["metadata", "labels", "controller-revision-hash"]]?.stringValue == hash }

        let desired = eligibleNames.count
        let strategy = ds[path: ["spec", "updateStrategy", "type"]]?.stringValue ?? "RollingUpdate"
        let nodeNames = eligibleNames.sorted()
        for node in nodeNames where (podsByNode[node] ?? []).isEmpty {
            if let pod = createPod(ds, template: template, hash: hash, generation: generation, node: node) {
                podsByNode[node] = [pod]
            }
        }
        if strategy == "RollingUpdate" {
            let rolling = ds[path: ["spec", "updateStrategy", "rollingUpdate"]]
            var maxSurge = DaemonSetController.scaled(rolling?["maxSurge"], of: desired, default: 0)
            var maxUnavailable = DaemonSetController.scaled(rolling?["maxUnavailable"], of: desired, default: 1)
            if maxSurge == 0 && maxUnavailable == 0 { maxUnavailable = 1 }
            if maxSurge > 0 { maxUnavailable = 0 }
            maxSurge = max(0, maxSurge)
            if maxSurge == 0 {
                var unavailable = 0
                var candidates: [JSONValue] = []
                for node in nodeNames {
                    let onNode = podsByNode[node] ?? []
                    let new = onNode.first(where: isNew)
                    let old = onNode.first { !isNew($0) }
                    if let old {
                        if !DaemonSetController.isAvailable(old) {
                            unavailable += 1
                            deletePod(old)
                        } else {
                            candidates.append(old)
                        }
                    } else if !(new.map(DaemonSetController.isAvailable) ?? false) {
                        unavailable += 1
                    }
                }
                for old in candidates where unavailable < maxUnavailable {
                    unavailable += 1
                    deletePod(old)
                }
            } else {
                var surging = 0
                for node in nodeNames {
                    let onNode = podsByNode[node] ?? []
                    let olds = onNode.filter { !isNew($0) }
                    guard !olds.isEmpty else { continue }
                    if let new = onNode.first(where: isNew) {
                        if DaemonSetController.isAvailable(new) { olds.forEach(deletePod) } else { surging += 1 }
                    } else if !olds.contains(where: DaemonSetController.isAvailable) {
                        olds.forEach(deletePod)
                    } else if surging < maxSurge {
                        surging += 1
                        _ = createPod(ds, template: template, hash: hash, generation: generation, node: node)
                    }
                }
            }
        }
        updateStatus(ds, hash: hash, generation: generation, nodeNames: nodeNames, namespace: namespace, selector: selector, uid: uid)
    }

    private func updateStatus(
        _ ds: JSONValue, hash: String, generation: Int64, nodeNames: [String], namespace: String, selector: LabelSelector, uid: String
    ) {
        let pods = store.list(.pods, filter: ObjectFilter(namespace: namespace, labels: selector)).items.map(\.object)
            .filter { pod in
                (pod[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains { $0["uid"]?.stringValue == uid }
            }
        var byNode: [String: [JSONValue]] = [:]
        for pod in pods { byNode[pod[path: ["spec", "nodeName"]]?.stringValue ?? "", default: []].append(pod) }
        var current = 0, ready = 0, available = 0, updated = 0
        for node in nodeNames {
            let onNode = byNode[node] ?? []
            guard !onNode.isEmpty else { continue }
            current += 1
            // With a surge both pods may exist; the controller counts the new one when there is one.
            let pod = onNode.first { $0[path: ["metadata", "labels", "controller-revision-hash"]]?.stringValue == hash } ?? onNode[0]
            if DaemonSetController.isAvailable(pod) {
                ready += 1
                available += 1
            }
            if pod[path: ["metadata", "labels", "controller-revision-hash"]]?.stringValue == hash { updated += 1 }
        }
        let misscheduled = byNode.keys.filter { !nodeNames.contains($0) }.count
        var status: JSONValue = [
            "currentNumberScheduled": .int(Int64(current)), "desiredNumberScheduled": .int(Int64(nodeNames.count)),
            "numberMisscheduled": .int(Int64(misscheduled)), "numberReady": .int(Int64(ready)),
            "numberAvailable": .int(Int64(available)), "updatedNumberScheduled": .int(Int64(updated)),
            "observedGeneration": .int(generation),
        ]
        if nodeNames.count - available > 0 { status["numberUnavailable"] = .int(Int64(nodeNames.count - available)) }
        if available == 0 { status["numberAvailable"] = nil }
        if updated == 0 { status["updatedNumberScheduled"] = nil }
        store.modifyIfPresent(.daemonSets, namespace: namespace, name: ds[path: ["metadata", "name"]]?.stringValue ?? "") {
            stored in
            // Only write the status computed for the generation we read; a newer spec gets its own pass.
            guard stored[path: ["metadata", "generation"]]?.intValue == generation else { return stored }
            var next = stored
            next["status"] = status
            return next
        }
    }

    private func ensureRevision(_ ds: JSONValue, template: JSONValue, hash: String) {
        guard let namespace = ds[path: ["metadata", "namespace"]]?.stringValue,
            let name = ds[path: ["metadata", "name"]]?.stringValue,
            let uid = ds[path: ["metadata", "uid"]]?.stringValue
        else { return }
        let revisions = store.list(.controllerRevisions, filter: ObjectFilter(namespace: namespace)).items.map(\.object)
            .filter { ($0[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains { $0["uid"]?.stringValue == uid } }
        let maxRevision = revisions.compactMap { $0["revision"]?.intValue }.max() ?? 0
        let revisionName = "\(name)-\(hash)"
        if let existing = revisions.first(where: { $0[path: ["metadata", "name"]]?.stringValue == revisionName }) {
            // A rollback to an older template makes its revision the newest again.
            if (existing["revision"]?.intValue ?? 0) < maxRevision {
                store.modifyIfPresent(.controllerRevisions, namespace: namespace, name: revisionName) { r in
                    var u = r
                    u["revision"] = .int(maxRevision + 1)
                    return u
                }
            }
            return
        }
        var labels = ds[path: ["spec", "selector", "matchLabels"]]?.objectValue ?? [:]
        labels["controller-revision-hash"] = .string(hash)
        var data = template
        data["$patch"] = "replace"
        let revision: JSONValue = [
            "apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": ["name": .string(revisionName), "namespace": .string(namespace), "labels": .object(labels),
                         "annotations": ["deprecated.daemonset.template.generation": .string(String(ds[path: ["metadata", "generation"]]?.intValue ?? 1))],
                         "ownerReferences": [owner(ds)]],
            "data": ["spec": ["template": data]],
            "revision": .int(maxRevision + 1),
        ]
        store.createIfAbsent(.controllerRevisions, revision)
        let limit = Int(ds[path: ["spec", "revisionHistoryLimit"]]?.intValue ?? 10)
        let sorted = revisions.sorted { ($0["revision"]?.intValue ?? 0) < ($1["revision"]?.intValue ?? 0) }
        if sorted.count > limit {
            for old in sorted.prefix(sorted.count - limit) {
                store.deleteIfPresent(.controllerRevisions, namespace: namespace, name: old[path: ["metadata", "name"]]?.stringValue ?? "")
            }
        }
    }

    private func owner(_ ds: JSONValue) -> JSONValue {
        ["apiVersion": "apps/v1", "kind": "DaemonSet", "name": ds[path: ["metadata", "name"]] ?? "",
         "uid": ds[path: ["metadata", "uid"]] ?? "", "controller": true, "blockOwnerDeletion": true]
    }

    private func createPod(_ ds: JSONValue, template: JSONValue, hash: String, generation: Int64, node: String) -> JSONValue? {
        guard let name = ds[path: ["metadata", "name"]]?.stringValue,
            let namespace = ds[path: ["metadata", "namespace"]]?.stringValue
        else { return nil }
        var labels = template[path: ["metadata", "labels"]]?.objectValue ?? [:]
        labels["controller-revision-hash"] = .string(hash)
        labels["pod-template-generation"] = .string(String(generation))
        var metadata: JSONValue = [
            "name": .string("\(name)-\(Names.randomSuffix())"), "generateName": .string("\(name)-"),
            "namespace": .string(namespace), "labels": .object(labels), "ownerReferences": [owner(ds)],
        ]
        if let annotations = template[path: ["metadata", "annotations"]] { metadata["annotations"] = annotations }
        var spec = template["spec"] ?? [:]
        spec["nodeName"] = .string(node)
        spec["affinity"] = ["nodeAffinity": ["requiredDuringSchedulingIgnoredDuringExecution": ["nodeSelectorTerms": [
            ["matchFields": [["key": "metadata.name", "operator": "In", "values": [.string(node)]]]],
        ]]]]
        let waiting: [JSONValue] = (spec["containers"]?.arrayValue ?? []).map { c in
            ["name": c["name"] ?? "", "image": c["image"] ?? "", "imageID": "", "ready": false, "restartCount": 0,
             "started": false, "state": ["waiting": ["reason": "ContainerCreating"]]]
        }
        let pod: JSONValue = ["apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec,
                              "status": ["phase": "Pending", "qosClass": "BestEffort", "containerStatuses": .array(waiting),
                                         "conditions": [["type": "PodScheduled", "status": "True", "lastProbeTime": .null,
                                                         "lastTransitionTime": .string(Timestamps.rfc3339(Date()))]]]]
        return store.createIfAbsent(.pods, pod)
    }

    private func deletePod(_ pod: JSONValue) {
        store.deleteIfPresent(.pods, namespace: pod[path: ["metadata", "namespace"]]?.stringValue,
                              name: pod[path: ["metadata", "name"]]?.stringValue ?? "")
    }
}
