/// One REST resource the simulator serves, with what discovery says about it.
struct ResourceType: Sendable, Hashable {
    let group: String
    let version: String
    let plural: String
    let singular: String
    let kind: String
    let namespaced: Bool
    let verbs: [String]
    let shortNames: [String]
    let categories: [String]
    /// Subresources served under `<name>/<sub>`, with the kind they return.
    let subresources: [String: String]

    var groupVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// The name kube-apiserver uses in messages: `configmaps`, `daemonsets.apps`.
    var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }
    var listKind: String { kind + "List" }

    static let allVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    static let namespaces = ResourceType(
        group: "", version: "v1", plural: "namespaces", singular: "namespace", kind: "Namespace",
        namespaced: false, verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
        shortNames: ["ns"], categories: [], subresources: ["status": "Namespace"])
    static let configMaps = ResourceType(
        group: "", version: "v1", plural: "configmaps", singular: "configmap", kind: "ConfigMap",
        namespaced: true, verbs: allVerbs, shortNames: ["cm"], categories: [], subresources: [:])
    static let pods = ResourceType(
        group: "", version: "v1", plural: "pods", singular: "pod", kind: "Pod", namespaced: true,
        verbs: allVerbs, shortNames: ["po"], categories: ["all"],
        subresources: ["log": "Pod", "status": "Pod"])
    static let nodes = ResourceType(
        group: "", version: "v1", plural: "nodes", singular: "node", kind: "Node", namespaced: false,
        verbs: allVerbs, shortNames: ["no"], categories: [], subresources: ["status": "Node"])
    static let services = ResourceType(
        group: "", version: "v1", plural: "services", singular: "service", kind: "Service", namespaced: true,
        verbs: allVerbs, shortNames: ["svc"], categories: ["all"], subresources: ["status": "Service"])
    static let events = ResourceType(
        group: "", version: "v1", plural: "events", singular: "event", kind: "Event", namespaced: true,
        verbs: allVerbs, shortNames: ["ev"], categories: [], subresources: [:])
    static let serviceAccounts = ResourceType(
        group: "", version: "v1", plural: "serviceaccounts", singular: "serviceaccount", kind: "ServiceAccount",
        namespaced: true, verbs: allVerbs, shortNames: ["sa"], categories: [], subresources: [:])
    static let daemonSets = ResourceType(
        group: "apps", version: "v1", plural: "daemonsets", singular: "daemonset", kind: "DaemonSet",
        namespaced: true, verbs: allVerbs, shortNames: ["ds"], categories: ["all"],
        subresources: ["status": "DaemonSet"])
    static let deployments = ResourceType(
        group: "apps", version: "v1", plural: "deployments", singular: "deployment", kind: "Deployment",
        namespaced: true, verbs: allVerbs, shortNames: ["deploy"], categories: ["all"],
        subresources: ["status": "Deployment"])
    static let controllerRevisions = ResourceType(
        group: "apps", version: "v1", plural: "controllerrevisions", singular: "controllerrevision",
        kind: "ControllerRevision", namespaced: true, verbs: allVerbs, shortNames: [], categories: [],
        subresources: [:])
    static let endpointSlices = ResourceType(
        group: "discovery.k8s.io", version: "v1", plural: "endpointslices", singular: "endpointslice",
        kind: "EndpointSlice", namespaced: true, verbs: allVerbs, shortNames: [], categories: [],
        subresources: [:])
    static let leases = ResourceType(
        group: "coordination.k8s.io", version: "v1", plural: "leases", singular: "lease", kind: "Lease",
        namespaced: true, verbs: allVerbs, shortNames: [], categories: [], subresources: [:])
    static let customResourceDefinitions = ResourceType(
        group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions",
        singular: "customresourcedefinition", kind: "CustomResourceDefinition", namespaced: false, verbs: allVerbs,
        shortNames: ["crd", "crds"], categories: ["api-extensions"], subresources: ["status": "CustomResourceDefinition"])
    static let selfSubjectAccessReviews = ResourceType(
        group: "authorization.k8s.io", version: "v1", plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview", kind: "SelfSubjectAccessReview", namespaced: false,
        verbs: ["create"], shortNames: [], categories: [], subresources: [:])
    static let selfSubjectRulesReviews = ResourceType(
        group: "authorization.k8s.io", version: "v1", plural: "selfsubjectrulesreviews",
        singular: "selfsubjectrulesreview", kind: "SelfSubjectRulesReview", namespaced: false,
        verbs: ["create"], shortNames: [], categories: [], subresources: [:])

    /// Every resource, in discovery order.
    static let all: [ResourceType] = [
        namespaces, configMaps, pods, nodes, services, events, serviceAccounts,
        daemonSets, deployments, controllerRevisions, endpointSlices, leases, customResourceDefinitions,
        selfSubjectAccessReviews, selfSubjectRulesReviews, EventsV1.resource,
    ]

    /// The group versions, in the order kube-apiserver lists them (core first).
    static var groupVersions: [(group: String, version: String)] {
        var seen: [String] = []
        var result: [(String, String)] = []
        for r in all where !seen.contains(r.groupVersion) {
            seen.append(r.groupVersion)
            result.append((r.group, r.version))
        }
        return result
    }

    static func find(group: String, version: String, plural: String) -> ResourceType? {
        all.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    /// Whether writes to the main resource leave `status` alone (a status subresource exists).
    var hasStatusSubresource: Bool { subresources["status"] != nil }
    /// Whether the server stores the object without a backing store (reviews are computed, not kept).
    var isVirtual: Bool { group == "authorization.k8s.io" }
}
