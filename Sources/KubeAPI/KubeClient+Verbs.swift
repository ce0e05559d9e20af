import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// How a PATCH body is interpreted.
public enum PatchType: Sendable {
    /// RFC 7386 JSON merge patch.
    case merge
    /// Kubernetes strategic merge patch (built-in types only): lists merge by key, e.g. containers by name.
    case strategicMerge
    /// RFC 6902 JSON patch (a list of operations).
    case json

    var contentType: String {
        switch self {
        case .merge: return "application/merge-patch+json"
        case .strategicMerge: return "application/strategic-merge-patch+json"
        case .json: return "application/json-patch+json"
        }
    }
}

extension KubeClient {
    /// The namespace to use for `R`: none for cluster-scoped types, else `namespace` or the context's.
    func resolvedNamespace<R: KubeResource>(_ type: R.Type, _ namespace: String?) -> String? {
        R.resource.namespaced ? (namespace ?? config.namespace) : nil
    }

    /// GET one object.
    public func get<R: KubeResource>(_ type: R.Type, name: String, namespace: String? = nil) async throws(KubeAPIError) -> R {
        let ns = resolvedNamespace(type, namespace)
        let body = try await send(
            Request(
                method: .GET, path: R.resource.objectPath(namespace: ns, name: name), verb: "get",
                resource: ResourceRef(R.resource, namespace: ns, name: name)))
        return R(json: try decode(body, "get", ResourceRef(R.resource, namespace: ns, name: name)))
    }

    /// GET one object and return its body exactly as the API server sent it (checked to be JSON), for a
    /// record that must not be re-serialised, such as a snapshot bundle.
    public func getRaw<R: KubeResource>(_ type: R.Type, name: String, namespace: String? = nil) async throws(KubeAPIError) -> (object: R, body: Data) {
        let ns = resolvedNamespace(type, namespace)
        let ref = ResourceRef(R.resource, namespace: ns, name: name)
        let body = try await send(
            Request(method: .GET, path: R.resource.objectPath(namespace: ns, name: name), verb: "get", resource: ref))
        return (R(json: try decode(body, "get", ref)), Data(body.readableBytesView))
    }

    /// POST a new object; its namespace, else `namespace`, else the context's.
    public func create<R: KubeResource>(_ object: R, namespace: String? = nil, dryRun: Bool = false) async throws(KubeAPIError) -> R {
        let ns = resolvedNamespace(R.self, object.namespace ?? namespace)
        var json = object.json
        if let ns { json[path: ["metadata", "namespace"]] = .string(ns) }
        let ref = ResourceRef(R.resource, namespace: ns, name: object.name.isEmpty ? nil : object.name)
        let body = try await send(
            Request(
                method: .POST, path: R.resource.collectionPath(namespace: ns),
                query: dryRun ? [("dryRun", "All")] : [], body: try encode(json, "create", ref), verb: "create",
                resource: ref))
        return R(json: try decode(body, "create", ref))
    }

    /// PUT the whole object. Its `resourceVersion` is sent, so a stale copy fails with `.conflict`: read again and retry.
    public func update<R: KubeResource>(_ object: R, dryRun: Bool = false) async throws(KubeAPIError) -> R {
        let ns = resolvedNamespace(R.self, object.namespace)
        let ref = ResourceRef(R.resource, namespace: ns, name: object.name)
        let body = try await send(
            Request(
                method: .PUT, path: R.resource.objectPath(namespace: ns, name: object.name),
                query: dryRun ? [("dryRun", "All")] : [], body: try encode(object.json, "update", ref),
                verb: "update", resource: ref))
        return R(json: try decode(body, "update", ref))
    }

    /// PATCH one object. Not retried on failure: a patch need not be idempotent.
    public func patch<R: KubeResource>(
        _ type: R.Type, name: String, namespace: String? = nil, _ patch: JSONValue, type patchType: PatchType = .merge,
        dryRun: Bool = false
    ) async throws(KubeAPIError) -> R {
        let ns = resolvedNamespace(type, namespace)
        let ref = ResourceRef(R.resource, namespace: ns, name: name)
        let body = try await send(
            Request(
                method: .PATCH, path: R.resource.objectPath(namespace: ns, name: name),
                query: dryRun ? [("dryRun", "All")] : [], body: try encode(patch, "patch", ref),
                contentType: patchType.contentType, verb: "patch", resource: ref))
        return R(json: try decode(body, "patch", ref))
    }

    /// DELETE one object, optionally only if it still has `resourceVersion` (else `.conflict`).
    public func delete<R: KubeResource>(
        _ type: R.Type, name: String, namespace: String? = nil, resourceVersion: String? = nil
    ) async throws(KubeAPIError) {
        let ns = resolvedNamespace(type, namespace)
        let ref = ResourceRef(R.resource, namespace: ns, name: name)
        var body: Data?
        if let resourceVersion {
            let options: JSONValue = [
                "apiVersion": "v1", "kind": "DeleteOptions", "preconditions": ["resourceVersion": .string(resourceVersion)],
            ]
            body = try encode(options, "delete", ref)
        }
        _ = try await send(
            Request(
                method: .DELETE, path: R.resource.objectPath(namespace: ns, name: name), body: body, verb: "delete",
                resource: ref))
    }

    /// Deletes, in one request, every object of `R` the selectors match (the API's `deletecollection`).
    public func deleteCollection<R: KubeResource>(
        _ type: R.Type, namespace: String? = nil, labelSelector: String, fieldSelector: String? = nil
    ) async throws(KubeAPIError) {
        let ns = listNamespace(type, namespace)
        var query = [("labelSelector", labelSelector)]
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        _ = try await send(
            Request(
                method: .DELETE, path: R.resource.collectionPath(namespace: ns), query: query, verb: "deletecollection",
                resource: ResourceRef(R.resource, namespace: ns, name: nil)))
    }

    /// Asks the API server whether the current user may `verb` the `resource`.
    public func canI(
        _ verb: String, group: String = "", resource: String, namespace: String? = nil, name: String? = nil
    ) async throws(KubeAPIError) -> Bool {
        let review = SelfSubjectAccessReview(verb: verb, group: group, resource: resource, namespace: namespace, name: name)
        return try await create(review).allowed
    }

    /// The API server's `gitVersion` from `/version` (`v1.34.1`), as `kubectl version` shows it.
    public func serverVersion() async throws(KubeAPIError) -> String {
        let ref = ResourceRef(typeName: "version", namespace: nil, name: nil)
        let body = try await send(Request(method: .GET, path: "/version", verb: "get", resource: ref))
        guard let version = try decode(body, "get", ref)["gitVersion"]?.stringValue else {
            throw KubeAPIError(.unexpectedResponse, "get /version: the answer has no gitVersion.")
        }
        return version
    }

    /// A container's log, as `kubectl logs` prints it.
    public func logs(
        pod: String, namespace: String? = nil, container: String? = nil, tailLines: Int? = nil,
        sinceSeconds: Int? = nil
    ) async throws(KubeAPIError) -> String {
        let ns = resolvedNamespace(Pod.self, namespace)
        var query: [(String, String)] = []
        if let container { query.append(("container", container)) }
        if let tailLines { query.append(("tailLines", String(tailLines))) }
        if let sinceSeconds { query.append(("sinceSeconds", String(sinceSeconds))) }
        let ref = ResourceRef(typeName: "pods/log", namespace: ns, name: pod)
        let body = try await send(
            Request(
                method: .GET, path: Pod.resource.objectPath(namespace: ns, name: pod) + "/log", query: query,
                accept: "text/plain, */*", verb: "get", resource: ref))
        return String(buffer: body)
    }

    func decode(
        _ body: ByteBuffer, _ verb: String, _ ref: ResourceRef, keeping projection: JSONProjection = .all
    ) throws(KubeAPIError) -> JSONValue {
        do {
            return try JSONParser.parse(body.readableBytesView, keeping: projection)
        } catch {
            throw KubeAPIError(
                .unexpectedResponse, "\(verb) \(ref): the API server's answer is not JSON (\(body.readableBytes) bytes).")
        }
    }

    func encode(_ json: JSONValue, _ verb: String, _ ref: ResourceRef) throws(KubeAPIError) -> Data {
        do {
            return try json.encoded()
        } catch {
            throw KubeAPIError(.unexpectedResponse, "\(verb) \(ref): the object cannot be encoded as JSON (\(error)).")
        }
    }
}
