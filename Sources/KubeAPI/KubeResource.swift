/// The REST coordinates of a resource type.
public struct APIResource: Sendable, Hashable {
    public let group: String
    public let version: String
    public let plural: String
    public let kind: String
    public let namespaced: Bool

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

    var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `configmaps` or `daemonsets.apps`, as kubectl and RBAC name it.
    var typeName: String { group.isEmpty ? plural : "\(plural).\(group)" }

    func collectionPath(namespace: String?) -> String {
        let root = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { return "\(root)/namespaces/\(namespace.pathEscaped)/\(plural)" }
        return "\(root)/\(plural)"
    }

    func objectPath(namespace: String?, name: String) -> String {
        collectionPath(namespace: namespace) + "/" + name.pathEscaped
    }
}

/// A Kubernetes object held as the JSON the server sent, with typed accessors for the fields kpswitch uses.
///
/// Objects are JSON rather than Codable structs so that GET → edit → PUT keeps every field, including ones
/// added by newer API servers: a struct would silently drop what it does not model.
public protocol KubeResource: Sendable {
    static var resource: APIResource { get }
    /// The whole object.
    var json: JSONValue { get set }
    init(json: JSONValue)
}

extension KubeResource {
    /// An empty object of this kind with `apiVersion`, `kind` and `metadata` set.
    public init(name: String, namespace: String? = nil) {
        var json: JSONValue = [
            "apiVersion": .string(Self.resource.apiVersion), "kind": .string(Self.resource.kind),
            "metadata": ["name": .string(name)],
        ]
        if let namespace, Self.resource.namespaced { json[path: ["metadata", "namespace"]] = .string(namespace) }
        self.init(json: json)
    }

    public var name: String {
        get { json[path: ["metadata", "name"]]?.stringValue ?? "" }
        set { json[path: ["metadata", "name"]] = .string(newValue) }
    }

    public var namespace: String? {
        get { json[path: ["metadata", "namespace"]]?.stringValue }
        set { json[path: ["metadata", "namespace"]] = newValue.map(JSONValue.string) }
    }

    /// Opaque: compare only for equality.
    public var resourceVersion: String? {
        get { json[path: ["metadata", "resourceVersion"]]?.stringValue }
        set { json[path: ["metadata", "resourceVersion"]] = newValue.map(JSONValue.string) }
    }

    public var uid: String? { json[path: ["metadata", "uid"]]?.stringValue }
    public var generation: Int? { json[path: ["metadata", "generation"]]?.intValue }
    public var creationTimestamp: String? { json[path: ["metadata", "creationTimestamp"]]?.stringValue }

    public var labels: [String: String] {
        get { json[path: ["metadata", "labels"]]?.stringMap ?? [:] }
        set { json[path: ["metadata", "labels"]] = .stringMap(newValue) }
    }

    public var annotations: [String: String] {
        get { json[path: ["metadata", "annotations"]]?.stringMap ?? [:] }
        set { json[path: ["metadata", "annotations"]] = .stringMap(newValue) }
    }

    var ref: ResourceRef { ResourceRef(Self.resource, namespace: namespace, name: name) }
}

/// Names a resource or collection in error messages: `daemonsets.apps kube-system/kube-proxy`.
struct ResourceRef: Sendable, CustomStringConvertible {
    let typeName: String
    let namespace: String?
    let name: String?

    init(_ resource: APIResource, namespace: String?, name: String?) {
        self.typeName = resource.typeName
        self.namespace = resource.namespaced ? namespace : nil
        self.name = name
    }

    init(typeName: String, namespace: String?, name: String?) {
        self.typeName = typeName
        self.namespace = namespace
        self.name = name
    }

    var description: String {
        switch (namespace, name) {
        case (let ns?, let name?): return "\(typeName) \(ns)/\(name)"
        case (nil, let name?): return "\(typeName) \(name)"
        case (let ns?, nil): return "\(typeName) in namespace \(ns)"
        case (nil, nil): return typeName
        }
    }
}

extension String {
    var pathEscaped: String {
        addingPercentEncoding(withAllowedCharacters: .kubePathAllowed) ?? self
    }
}

import Foundation

extension CharacterSet {
    static let kubePathAllowed: CharacterSet = {
        var set = CharacterSet.alphanumerics
        set.insert(charactersIn: "-._~:@")
        return set
    }()

    static let kubeQueryValueAllowed: CharacterSet = {
        var set = CharacterSet.alphanumerics
        set.insert(charactersIn: "-._~")
        return set
    }()
}
