import Foundation
import Synchronization

/// The API server's brain: authentication, authorization, the REST verbs over the store, faults and counters.
/// The HTTP layer only moves bytes; the controllers act through the same store so watches see their writes.
final class SimulatedCluster: Sendable {
    let scenario: Scenario
    let store: ObjectStore
    let authorizer: Authorizer
    let tokenUser: UserInfo
    let token: String
    let faults: FaultInjector
    let kubelet: KubeletSimulator
    private let counters = Mutex<[String: Int]>([:])
    private let changes: ChangeTracker

    init(scenario: Scenario) throws {
        self.scenario = scenario
        let changes = ChangeTracker()
        self.changes = changes
        store = ObjectStore(historyLimit: scenario.historyLimit) { resource in changes.mark(resource.plural) }
        token = scenario.tokenUser.token ?? SimulatedCluster.randomToken()
        tokenUser = UserInfo(name: scenario.tokenUser.name, groups: ["system:authenticated"])
        authorizer = Authorizer(rulesByUser: [scenario.tokenUser.name: scenario.tokenUser.rules])
        faults = FaultInjector(errors: scenario.faults.errors)
        faults.latency = scenario.faults.latency
        kubelet = KubeletSimulator(scenario: scenario)
        try ClusterSeeder(scenario: scenario, store: store, kubelet: kubelet).seed()
    }

    /// Takes and clears the set of resources written since the last call (the controllers' work queue).
    func takeChanges() -> Set<String> { changes.take() }

    var requestCounts: [String: Int] { counters.withLock { $0 } }

    func resetCounts() { counters.withLock { $0.removeAll() } }

    private func count(verb: String, resource: String) {
        counters.withLock {
            $0[verb, default: 0] += 1
            $0["\(verb) \(resource)", default: 0] += 1
            $0["total", default: 0] += 1
        }
    }

    func user(bearer header: String?, certificateUser: UserInfo?) -> UserInfo? {
        if let header {
            guard header.hasPrefix("Bearer "), String(header.dropFirst(7)) == token else { return nil }
            return tokenUser
        }
        return certificateUser ?? .anonymous
    }

    // MARK: Routing

    func handle(_ request: APIRequest) -> APIResponse {
        if let core = EventsV1.coreRequest(request) { return EventsV1.response(handle(core)) }
        let segments = request.path.split(separator: "/").map(String.init)
        switch segments.first {
        case "api", "apis":
            break
        default:
            return handleNonResource(request)
        }
        let isCore = segments[0] == "api"
        let groupVersionLength = isCore ? 2 : 3
        if segments.count < groupVersionLength {
            return handleNonResource(request)
        }
        let group = isCore ? "" : segments[1]
        let version = segments[groupVersionLength - 1]
        var rest = Array(segments.dropFirst(groupVersionLength))
        if rest.isEmpty { return handleNonResource(request) }

        var namespace: String? = nil
        if rest[0] == "namespaces", rest.count >= 3,
            let r = ResourceType.find(group: group, version: version, plural: rest[2]), r.namespaced
        {
            namespace = rest[1]
            rest.removeFirst(2)
        }
        guard let resource = ResourceType.find(group: group, version: version, plural: rest[0]) else {
            return .error(.notFoundPath())
        }
        let name = rest.count > 1 ? rest[1] : nil
        let subresource = rest.count > 2 ? rest[2] : nil
        if let subresource, resource.subresources[subresource] == nil { return .error(.notFoundPath()) }
        if rest.count > 3 { return .error(.notFoundPath()) }

        let verb: String
        switch (request.method, name) {
        case ("GET", nil): verb = ["true", "1"].contains(request.query["watch"] ?? "") ? "watch" : "list"
        case ("GET", _): verb = "get"
        case ("POST", nil): verb = "create"
        case ("PUT", .some): verb = "update"
        case ("PATCH", .some): verb = "patch"
        case ("DELETE", nil): verb = "deletecollection"
        case ("DELETE", .some): verb = "delete"
        case ("POST", .some) where resource == .pods && subresource == "eviction": verb = "create"
        default: return .error(.methodNotAllowed(request.method))
        }
        count(verb: verb, resource: resource.plural + (subresource.map { "/" + $0 } ?? ""))

        let attributes = RequestAttributes(
            verb: verb, group: group, resource: resource.plural, subresource: subresource ?? "", name: name ?? "",
            namespace: namespace ?? "", isResourceRequest: true)
        if !authorizer.allows(request.user, attributes) {
            return .error(.forbidden(user: request.user.name, verb: verb, resource: resource,
                                     subresource: subresource, name: name, namespace: namespace))
        }
        if let fault = faults.injectedError(verb: verb, resource: resource.plural) { return .error(fault) }

        let call = Call(request: request, resource: resource, namespace: namespace, name: name, subresource: subresource)
        do {
            switch verb {
            case "get": return try get(call)
            case "list": return try list(call)
            case "watch": return try watch(call)
            case "create": return try create(call)
            case "update": return try update(call)
            case "patch": return try patch(call)
            case "delete": return try delete(call)
            default: return try deleteCollection(call)
            }
        } catch {
            return .error(error)
        }
    }

    struct Call {
        let request: APIRequest
        let resource: ResourceType
        let namespace: String?
        let name: String?
        let subresource: String?
    }

    private func handleNonResource(_ request: APIRequest) -> APIResponse {
        count(verb: "get", resource: "nonresource")
        let attributes = RequestAttributes(verb: request.method == "GET" ? "get" : request.method.lowercased(),
                                           path: request.path, isResourceRequest: false)
        if !authorizer.allows(request.user, attributes) {
            return .error(.forbiddenPath(user: request.user.name, verb: attributes.verb, path: request.path))
        }
        guard request.method == "GET" else { return .error(.methodNotAllowed(request.method)) }
        if let document = Discovery.document(path: request.path, kubernetesVersion: scenario.kubernetesVersion) {
            return .json(status: 200, body: document)
        }
        switch request.path {
        case "/healthz", "/livez", "/readyz": return .text(status: 200, contentType: "text/plain; charset=utf-8", body: "ok")
        case "/openapi/v2":
            // An empty OpenAPI v2 document (zero protobuf bytes): kubectl's client-side validation then knows no
            // schema and skips it, as for a type without one; without this document `kubectl replace` refuses to run.
            return .text(status: 200, contentType: "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", body: "")
        default: return .error(.notFoundPath())
        }
    }

    // MARK: Reads

    private func get(_ call: Call) throws(APIError) -> APIResponse {
        let name = call.name ?? ""
        guard let object = store.get(call.resource, namespace: call.namespace, name: name) else {
            throw APIError.notFound(call.resource, name: name)
        }
        if call.subresource == "log" {
            return .text(status: 200, contentType: "text/plain",
                         body: try kubelet.log(pod: object, container: call.request.query["container"],
                                               previous: call.request.query["previous"] == "true",
                                               tailLines: call.request.query["tailLines"].flatMap { Int($0) }))
        }
        return .json(status: 200, body: Tables.render(object, resource: call.resource, accept: call.request.accept, listMetadata: nil) ?? object)
    }

    private func filter(_ call: Call) throws(APIError) -> ObjectFilter {
        var filter = ObjectFilter(namespace: call.namespace)
        if let text = call.request.query["labelSelector"], !text.isEmpty { filter.labels = try LabelSelector(parsing: text) }
        if let text = call.request.query["fieldSelector"], !text.isEmpty { filter.fields = try FieldSelector(parsing: text) }
        return filter
    }

    private func list(_ call: Call) throws(APIError) -> APIResponse {
        if call.resource.isVirtual { throw APIError.methodNotAllowed("GET") }
        var startAfter: String? = nil
        var tokenRV: Int64? = nil
        if let token = call.request.query["continue"], !token.isEmpty {
            guard let data = Data(base64Encoded: token), let decoded = ContinueToken.decode(Array(data)),
                let rv = decoded["rv"]?.intValue, let start = decoded["start"]?.stringValue
            else {
                throw APIError.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
            }
            tokenRV = rv
            startAfter = start
            if rv < store.compactedThrough {
                // kube-apiserver answers 410 Expired and offers a token that continues, inconsistently, from now.
                let fresh: JSONValue = ["rv": .int(store.currentResourceVersion), "start": .string(start)]
                var status = APIError.expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new "
                        + "list without the continue parameter, or use the continue token in this response to retrieve "
                        + "the remainder of the results. Continuing with the provided token results in an inconsistent list "
                        + "- objects that were created, modified, or deleted between the time the first chunk was returned "
                        + "and now may show up in the list.").status
                status["metadata"] = ["continue": .string(Data(fresh.serialized()).base64EncodedString())]
                return .json(status: 410, body: status)
            }
        }
        let limit = call.request.query["limit"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
        let (page, remaining, currentRV) = store.page(call.resource, filter: try filter(call), after: startAfter, limit: limit)
        let listRV = tokenRV ?? currentRV
        var metadata: JSONValue = ["resourceVersion": .string(String(listRV))]
        if remaining > 0, let last = page.last {
            let token: JSONValue = ["rv": .int(listRV), "start": .string(last.key)]
            metadata["continue"] = .string(Data(token.serialized()).base64EncodedString())
            metadata["remainingItemCount"] = .int(Int64(remaining))
        }
        let objects = page.map { item -> JSONValue in
            var o = item.object
            o["kind"] = nil
            o["apiVersion"] = nil
            return o
        }
        if let table = Tables.renderList(objects, resource: call.resource, accept: call.request.accept, listMetadata: metadata) {
            return .json(status: 200, body: table)
        }
        return .json(status: 200, body: [
            "kind": .string(call.resource.listKind), "apiVersion": .string(call.resource.groupVersion),
            "metadata": metadata, "items": .array(objects),
        ])
    }

    private func watch(_ call: Call) throws(APIError) -> APIResponse {
        let rvText = call.request.query["resourceVersion"] ?? ""
        let sendInitial = call.request.query["sendInitialEvents"] == "true"
        let start: ObjectStore.WatchStart
        if rvText.isEmpty || rvText == "0" || sendInitial {
            start = .currentState
        } else if let rv = Int64(rvText) {
            start = .after(rv)
        } else {
            throw APIError.badRequest("resourceVersion: Invalid value: \"\(rvText)\": must be a valid resource version")
        }
        var timeout: Duration? = nil
        if let t = call.request.query["timeoutSeconds"], let seconds = Int(t), seconds > 0 { timeout = .seconds(seconds) }
        return .watch(WatchPlan(
            resource: call.resource, filter: try filter(call), start: start,
            bookmarks: call.request.query["allowWatchBookmarks"] == "true",
            initialEventsEnd: sendInitial, timeout: timeout, accept: call.request.accept))
    }

    // MARK: Writes

    private func body(_ call: Call) throws(APIError) -> JSONValue {
        if call.request.contentType.hasPrefix(KubeProtobuf.contentType) {
            guard call.resource.isVirtual, let review = KubeProtobuf.decodeReview(call.request.body, resource: call.resource) else {
                throw APIError(code: 415, reason: "UnsupportedMediaType",
                               message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml")
            }
            return review
        }
        let jsonError: Error
        do {
            return try JSONValue.parse(call.request.body)
        } catch {
            jsonError = error
        }
        // kubectl sends JSON; YAML bodies are accepted too, as kube-apiserver does.
        let text = String(decoding: call.request.body, as: UTF8.self)
        do {
            if let first = try JSONValue.parseYAMLDocuments(text).first, first.objectValue != nil { return first }
        } catch {
            throw APIError.badRequest("the object provided is unrecognized or malformed: \(jsonError)")
        }
        throw APIError.badRequest("the object provided is unrecognized or malformed: \(jsonError)")
    }

    private func checkIdentity(_ object: JSONValue, _ call: Call) throws(APIError) {
        if let kind = object["kind"]?.stringValue, !kind.isEmpty, kind != call.resource.kind, call.subresource == nil {
            throw APIError.badRequest("the API version in the data (\(object["apiVersion"]?.stringValue ?? "")) does not match the expected API version (\(call.resource.groupVersion))")
        }
        if let ns = object[path: ["metadata", "namespace"]]?.stringValue, !ns.isEmpty, ns != (call.namespace ?? "") {
            throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
    }

    private func create(_ call: Call) throws(APIError) -> APIResponse {
        var object = try body(call)
        try checkIdentity(object, call)
        if call.resource.isVirtual { return .json(status: 201, body: review(object, call)) }
        object["kind"] = .string(call.resource.kind)
        object["apiVersion"] = .string(call.resource.groupVersion)
        if let namespace = call.namespace {
            object[path: ["metadata", "namespace"]] = .string(namespace)
            if store.get(.namespaces, namespace: nil, name: namespace) == nil {
                throw APIError.notFound(.namespaces, name: namespace)
            }
        }
        if (object[path: ["metadata", "name"]]?.stringValue ?? "").isEmpty {
            guard let prefix = object[path: ["metadata", "generateName"]]?.stringValue, !prefix.isEmpty else {
                throw APIError.invalid(call.resource, name: "", field: "metadata.name",
                                       message: "Required value: name or generateName is required")
            }
            object[path: ["metadata", "name"]] = .string(prefix + Names.randomSuffix())
        }
        for field in ["resourceVersion", "uid", "creationTimestamp", "deletionTimestamp"] {
            object[path: ["metadata", field]] = nil
        }
        object = Defaults.forCreate(object, resource: call.resource)
        if call.request.query["dryRun"] == "All" { return .json(status: 201, body: object) }
        return .json(status: 201, body: try store.create(call.resource, object))
    }

    /// Carries the server-owned fields over from the stored object and applies the status-subresource split.
    private func merge(update proposed: JSONValue, onto current: JSONValue, _ call: Call) throws(APIError) -> JSONValue {
        var object = proposed
        let name = call.name ?? ""
        if let sentName = object[path: ["metadata", "name"]]?.stringValue, sentName != name {
            throw APIError.badRequest("the name of the object (\(sentName)) does not match the name on the URL (\(name))")
        }
        if let sentRV = object[path: ["metadata", "resourceVersion"]]?.stringValue, !sentRV.isEmpty,
            sentRV != current[path: ["metadata", "resourceVersion"]]?.stringValue
        {
            throw APIError.conflict(call.resource, name: name)
        }
        object["kind"] = .string(call.resource.kind)
        object["apiVersion"] = .string(call.resource.groupVersion)
        object[path: ["metadata", "name"]] = .string(name)
        if let namespace = call.namespace { object[path: ["metadata", "namespace"]] = .string(namespace) }
        for field in ["uid", "creationTimestamp", "resourceVersion", "deletionTimestamp", "generation"] {
            object[path: ["metadata", field]] = current[path: ["metadata", field]]
        }
        if call.resource.hasStatusSubresource {
            if call.subresource == "status" {
                var onlyStatus = current
                onlyStatus["status"] = object["status"]
                object = onlyStatus
            } else {
                object["status"] = current["status"]
            }
        }
        if current[path: ["metadata", "generation"]] != nil, object["spec"] != current["spec"] {
            let generation = current[path: ["metadata", "generation"]]?.intValue ?? 0
            object[path: ["metadata", "generation"]] = .int(generation + 1)
            // The DaemonSet strategy records the template generation in this annotation (PrepareForUpdate).
            if call.resource == .daemonSets, object[path: ["spec", "template"]] != current[path: ["spec", "template"]] {
                object[path: ["metadata", "annotations", "deprecated.daemonset.template.generation"]] = .string(String(generation + 1))
            }
        }
        return Defaults.forUpdate(object, resource: call.resource)
    }

    private func update(_ call: Call) throws(APIError) -> APIResponse {
        let proposed = try body(call)
        try checkIdentity(proposed, call)
        let dryRun = call.request.query["dryRun"] == "All"
        if dryRun {
            guard let current = store.get(call.resource, namespace: call.namespace, name: call.name ?? "") else {
                throw APIError.notFound(call.resource, name: call.name ?? "")
            }
            return .json(status: 200, body: try merge(update: proposed, onto: current, call))
        }
        let result = try store.modify(call.resource, namespace: call.namespace, name: call.name ?? "") {
            (current) throws(APIError) -> JSONValue in try merge(update: proposed, onto: current, call)
        }
        return .json(status: 200, body: result)
    }

    private func patch(_ call: Call) throws(APIError) -> APIResponse {
        guard let type = PatchType(contentType: call.request.contentType) else {
            throw APIError.unsupportedMediaType(call.request.contentType)
        }
        let patch = try body(call)
        let dryRun = call.request.query["dryRun"] == "All"
        let transform = { (current: JSONValue) throws(APIError) -> JSONValue in
            let patched = try type.apply(patch, to: current)
            guard patched.objectValue != nil else { throw APIError.badRequest("the patch did not produce an object") }
            return try self.merge(update: patched, onto: current, call)
        }
        if dryRun {
            guard let current = store.get(call.resource, namespace: call.namespace, name: call.name ?? "") else {
                throw APIError.notFound(call.resource, name: call.name ?? "")
            }
            return .json(status: 200, body: try transform(current))
        }
        return .json(status: 200, body: try store.modify(call.resource, namespace: call.namespace, name: call.name ?? "", transform))
    }

    private func delete(_ call: Call) throws(APIError) -> APIResponse {
        let name = call.name ?? ""
        let options = call.request.body.isEmpty ? JSONValue.object([:]) : try body(call)
        let wantRV = options[path: ["preconditions", "resourceVersion"]]?.stringValue
        let wantUID = options[path: ["preconditions", "uid"]]?.stringValue
        let precondition = { (current: JSONValue) throws(APIError) -> Void in
            if let wantUID, let uid = current[path: ["metadata", "uid"]]?.stringValue, wantUID != uid {
                throw APIError.conflictPrecondition(call.resource, name: name,
                    message: "Precondition failed: UID in precondition: \(wantUID), UID in object meta: \(uid)")
            }
            if let wantRV, let rv = current[path: ["metadata", "resourceVersion"]]?.stringValue, wantRV != rv {
                throw APIError.conflictPrecondition(call.resource, name: name,
                    message: "Precondition failed: ResourceVersion in precondition: \(wantRV), ResourceVersion in object meta: \(rv)")
            }
        }
        if call.request.query["dryRun"] == "All" {
            guard let current = store.get(call.resource, namespace: call.namespace, name: name) else {
                throw APIError.notFound(call.resource, name: name)
            }
            try precondition(current)
            return .json(status: 200, body: current)
        }
        let deleted = try store.delete(call.resource, namespace: call.namespace, name: name, precondition: precondition)
        if call.resource == .namespaces { deleteContents(ofNamespace: name) }
        if call.resource == .pods || call.resource == .namespaces { return .json(status: 200, body: deleted) }
        var details = APIError.details(call.resource, name: name)
        details["uid"] = deleted[path: ["metadata", "uid"]]
        return .json(status: 200, body: ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success", "details": details])
    }

    private func deleteContents(ofNamespace namespace: String) {
        for resource in ResourceType.all where resource.namespaced && !resource.isVirtual {
            for item in store.list(resource, filter: ObjectFilter(namespace: namespace)).items {
                let name = item.object[path: ["metadata", "name"]]?.stringValue ?? ""
                store.deleteIfPresent(resource, namespace: namespace, name: name)
            }
        }
    }

    private func deleteCollection(_ call: Call) throws(APIError) -> APIResponse {
        let items = store.list(call.resource, filter: try filter(call)).items
        var deleted: [JSONValue] = []
        for item in items {
            let name = item.object[path: ["metadata", "name"]]?.stringValue ?? ""
            if let object = store.deleteIfPresent(call.resource, namespace: call.namespace, name: name) { deleted.append(object) }
        }
        return .json(status: 200, body: [
            "kind": .string(call.resource.listKind), "apiVersion": .string(call.resource.groupVersion),
            "metadata": ["resourceVersion": .string(String(store.currentResourceVersion))], "items": .array(deleted),
        ])
    }

    // MARK: Access reviews

    private func review(_ object: JSONValue, _ call: Call) -> JSONValue {
        var result = object
        result["kind"] = .string(call.resource.kind)
        result["apiVersion"] = .string(call.resource.groupVersion)
        if result["metadata"] == nil { result["metadata"] = ["creationTimestamp": .null] }
        let user = call.request.user
        if call.resource == .selfSubjectRulesReviews {
            let namespace = object[path: ["spec", "namespace"]]?.stringValue ?? ""
            let rules = authorizer.rules(for: user, namespace: namespace)
            result["status"] = [
                "resourceRules": .array(rules.filter { $0.nonResourceURLs.isEmpty }.map { rule in
                    var r: JSONValue = ["verbs": .array(rule.verbs.map(JSONValue.string)),
                                        "apiGroups": .array(rule.apiGroups.map(JSONValue.string)),
                                        "resources": .array(rule.resources.map(JSONValue.string))]
                    if !rule.resourceNames.isEmpty { r["resourceNames"] = .array(rule.resourceNames.map(JSONValue.string)) }
                    return r
                }),
                "nonResourceRules": .array(rules.filter { !$0.nonResourceURLs.isEmpty }.map { rule in
                    ["verbs": .array(rule.verbs.map(JSONValue.string)),
                     "nonResourceURLs": .array(rule.nonResourceURLs.map(JSONValue.string))]
                }),
                "incomplete": false,
            ]
            return result
        }
        let attributes: RequestAttributes
        if let r = object[path: ["spec", "resourceAttributes"]] {
            attributes = RequestAttributes(
                verb: r["verb"]?.stringValue ?? "", group: r["group"]?.stringValue ?? "",
                resource: r["resource"]?.stringValue ?? "", subresource: r["subresource"]?.stringValue ?? "",
                name: r["name"]?.stringValue ?? "", namespace: r["namespace"]?.stringValue ?? "", isResourceRequest: true)
        } else {
            let n = object[path: ["spec", "nonResourceAttributes"]]
            attributes = RequestAttributes(verb: n?["verb"]?.stringValue ?? "", path: n?["path"]?.stringValue ?? "",
                                           isResourceRequest: false)
        }
        let allowed = authorizer.allows(user, attributes)
        var status: JSONValue = ["allowed": .bool(allowed)]
        if allowed {
            status["reason"] = user.groups.contains(SimulatorPKI.adminGroup)
                ? "" : .string("RBAC: allowed by ClusterRoleBinding \"kube-sim-\(user.name)\" of ClusterRole \"kube-sim-\(user.name)\" to User \"\(user.name)\"")
            if user.groups.contains(SimulatorPKI.adminGroup) { status["reason"] = nil }
        }
        result["status"] = status
        return result
    }

    private static func randomToken() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var rng = SystemRandomNumberGenerator()
        let a = String((0..<6).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        let b = String((0..<16).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        return "\(a).\(b)"
    }
}

enum Names {
    /// The five-character suffix generateName and controllers use (consonants and digits, as k8s.io/apimachinery).
    static func randomSuffix(length: Int = 5) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        var rng = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }
}

/// The resources written since the controllers last looked.
final class ChangeTracker: Sendable {
    private let set = Mutex<Set<String>>([])

    func mark(_ resource: String) { _ = set.withLock { $0.insert(resource) } }

    func take() -> Set<String> {
        set.withLock { s in
            let result = s
            s.removeAll()
            return result
        }
    }
}

enum ContinueToken {
    /// The token's JSON, or nil when it is not a token this server issued (answered 400 like kube-apiserver).
    static func decode(_ bytes: [UInt8]) -> JSONValue? {
        do {
            return try JSONValue.parse(bytes)
        } catch {
            return nil
        }
    }
}
