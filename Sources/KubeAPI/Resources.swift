/// core/v1 ConfigMap.
public struct ConfigMap: KubeResource {
    public static let resource = APIResource(group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true)
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }

    public var data: [String: String] {
        get { json["data"]?.stringMap ?? [:] }
        set { json["data"] = .stringMap(newValue) }
    }
}

/// apps/v1 DaemonSet.
public struct DaemonSet: KubeResource {
    public static let resource = APIResource(group: "apps", version: "v1", plural: "daemonsets", kind: "DaemonSet", namespaced: true)
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }

    /// `RollingUpdate` or `OnDelete`.
    public var updateStrategyType: String? {
        get { json[path: ["spec", "updateStrategy", "type"]]?.stringValue }
        set { json[path: ["spec", "updateStrategy", "type"]] = newValue.map(JSONValue.string) }
    }

    public var templateAnnotations: [String: String] {
        get { json[path: ["spec", "template", "metadata", "annotations"]]?.stringMap ?? [:] }
        set { json[path: ["spec", "template", "metadata", "annotations"]] = .stringMap(newValue) }
    }

    /// The pod template's volumes, as JSON: kpswitch repoints the config volume without modelling the rest.
    public var templateVolumes: [JSONValue] {
        get { json[path: ["spec", "template", "spec", "volumes"]]?.arrayValue ?? [] }
        set { json[path: ["spec", "template", "spec", "volumes"]] = .array(newValue) }
    }

    public var templateContainers: [JSONValue] {
        get { json[path: ["spec", "template", "spec", "containers"]]?.arrayValue ?? [] }
        set { json[path: ["spec", "template", "spec", "containers"]] = .array(newValue) }
    }

    public var observedGeneration: Int? { json[path: ["status", "observedGeneration"]]?.intValue }
    public var desiredNumberScheduled: Int { json[path: ["status", "desiredNumberScheduled"]]?.intValue ?? 0 }
    public var updatedNumberScheduled: Int { json[path: ["status", "updatedNumberScheduled"]]?.intValue ?? 0 }
    public var numberAvailable: Int { json[path: ["status", "numberAvailable"]]?.intValue ?? 0 }
    public var numberReady: Int { json[path: ["status", "numberReady"]]?.intValue ?? 0 }
}

/// core/v1 Pod.
public struct Pod: KubeResource {
    public static let resource = APIResource(group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true)
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }

    public var nodeName: String? { json[path: ["spec", "nodeName"]]?.stringValue }
    public var phase: String? { json[path: ["status", "phase"]]?.stringValue }

    /// The `Ready` condition is `True`.
    public var isReady: Bool {
        (json[path: ["status", "conditions"]]?.arrayValue ?? []).contains {
            $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
        }
    }

    public var containerNames: [String] {
        (json[path: ["spec", "containers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }
}

/// core/v1 Node.
public struct Node: KubeResource {
    public static let resource = APIResource(group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false)
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }

    public var kernelVersion: String? { json[path: ["status", "nodeInfo", "kernelVersion"]]?.stringValue }
    public var osImage: String? { json[path: ["status", "nodeInfo", "osImage"]]?.stringValue }
    public var kubeletVersion: String? { json[path: ["status", "nodeInfo", "kubeletVersion"]]?.stringValue }

    public var internalIP: String? {
        (json[path: ["status", "addresses"]]?.arrayValue ?? [])
            .first { $0["type"]?.stringValue == "InternalIP" }?["address"]?.stringValue
    }

    public var isReady: Bool {
        (json[path: ["status", "conditions"]]?.arrayValue ?? []).contains {
            $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
        }
    }
}

/// core/v1 Service.
public struct Service: KubeResource {
    public static let resource = APIResource(group: "", version: "v1", plural: "services", kind: "Service", namespaced: true)
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }

    public var clusterIP: String? { json[path: ["spec", "clusterIP"]]?.stringValue }
    public var type: String? { json[path: ["spec", "type"]]?.stringValue }
}

/// discovery.k8s.io/v1 EndpointSlice.
public struct EndpointSlice: KubeResource {
    public static let resource = APIResource(
        group: "discovery.k8s.io", version: "v1", plural: "endpointslices", kind: "EndpointSlice", namespaced: true)
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }

    /// Addresses of all endpoints, in order.
    public var addresses: [String] {
        (json["endpoints"]?.arrayValue ?? []).flatMap { ($0["addresses"]?.arrayValue ?? []).compactMap(\.stringValue) }
    }
}

/// coordination.k8s.io/v1 Lease.
public struct Lease: KubeResource {
    public static let resource = APIResource(
        group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true)
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }

    public var holderIdentity: String? {
        get { json[path: ["spec", "holderIdentity"]]?.stringValue }
        set { json[path: ["spec", "holderIdentity"]] = newValue.map(JSONValue.string) }
    }

    public var leaseDurationSeconds: Int? {
        get { json[path: ["spec", "leaseDurationSeconds"]]?.intValue }
        set { json[path: ["spec", "leaseDurationSeconds"]] = newValue.map { .int(Int64($0)) } }
    }

    /// MicroTime, RFC 3339 with microseconds.
    public var acquireTime: String? {
        get { json[path: ["spec", "acquireTime"]]?.stringValue }
        set { json[path: ["spec", "acquireTime"]] = newValue.map(JSONValue.string) }
    }

    public var renewTime: String? {
        get { json[path: ["spec", "renewTime"]]?.stringValue }
        set { json[path: ["spec", "renewTime"]] = newValue.map(JSONValue.string) }
    }

    public var leaseTransitions: Int? {
        get { json[path: ["spec", "leaseTransitions"]]?.intValue }
        set { json[path: ["spec", "leaseTransitions"]] = newValue.map { .int(Int64($0)) } }
    }
}

/// authorization.k8s.io/v1 SelfSubjectAccessReview: "may I do this?" asked as the current user.
public struct SelfSubjectAccessReview: KubeResource {
    public static let resource = APIResource(
        group: "authorization.k8s.io", version: "v1", plural: "selfsubjectaccessreviews",
        kind: "SelfSubjectAccessReview", namespaced: false)
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }

    /// A review of `verb` on `resource` (in `group`, `namespace`, optionally one `name`).
    public init(verb: String, group: String = "", resource: String, namespace: String? = nil, name: String? = nil) {
        var attributes: JSONValue = ["verb": .string(verb), "group": .string(group), "resource": .string(resource)]
        if let namespace { attributes["namespace"] = .string(namespace) }
        if let name { attributes["name"] = .string(name) }
        self.init(json: [
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": ["resourceAttributes": attributes],
        ])
    }

    public var allowed: Bool { json[path: ["status", "allowed"]]?.boolValue ?? false }
    public var denied: Bool { json[path: ["status", "denied"]]?.boolValue ?? false }
    public var reason: String? { json[path: ["status", "reason"]]?.stringValue }
}

/// core/v1 Event.
public struct Event: KubeResource {
    public static let resource = APIResource(group: "", version: "v1", plural: "events", kind: "Event", namespaced: true)
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }

    public var reason: String? { json["reason"]?.stringValue }
    public var message: String? { json["message"]?.stringValue }
    /// `Normal` or `Warning`.
    public var type: String? { json["type"]?.stringValue }
    public var involvedObjectName: String? { json[path: ["involvedObject", "name"]]?.stringValue }
    public var involvedObjectKind: String? { json[path: ["involvedObject", "kind"]]?.stringValue }
}

/// events.k8s.io/v1 Event (client-go's `eventsv1.Event`): what a controller reports about an object.
public struct EventsV1Event: KubeResource {
    public static let resource = APIResource(
        group: "events.k8s.io", version: "v1", plural: "events", kind: "Event", namespaced: true)
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}
