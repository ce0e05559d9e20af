/// events.k8s.io/v1 Events, served as kube-apiserver serves them: the same objects as core v1 Events in
/// another shape, so an Event written through events.k8s.io is what `kubectl events` lists (kubectl reads
/// core v1, with `involvedObject.*` field selectors). Requests are converted to core v1 and back.
enum EventsV1 {
    static let resource = ResourceType(
        group: "events.k8s.io", version: "v1", plural: "events", singular: "event", kind: "Event",
        namespaced: true, verbs: ResourceType.allVerbs, shortNames: ["ev"], categories: [], subresources: [:])

    /// (events.k8s.io/v1 field, core v1 field), as the API server's conversion pairs them.
    static let fields: [(String, String)] = [
        ("regarding", "involvedObject"), ("note", "message"), ("reportingController", "reportingComponent"),
        ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"),
    ]

    /// The core v1 request for an events.k8s.io/v1 one; nil for any other request.
    static func coreRequest(_ request: APIRequest) -> APIRequest? {
        let prefix = "/apis/events.k8s.io/v1/"
        guard request.path.hasPrefix(prefix) else { return nil }
        var core = request
        core.path = "/api/v1/" + request.path.dropFirst(prefix.count)
        if let selector = request.query["fieldSelector"] {
            var converted = selector
            for (v1, legacy) in fields { converted = converted.replacingOccurrences(of: v1 + ".", with: legacy + ".") }
            converted = converted.replacingOccurrences(of: "reportingController=", with: "reportingComponent=")
            core.query["fieldSelector"] = converted
        }
        if !request.body.isEmpty, let object = try? JSONValue.parse(request.body), request.method != "PATCH" {
            core.body = toCore(object).serialized()
        }
        return core
    }

    /// The core v1 answer in events.k8s.io/v1's shape (Status bodies pass through unchanged).
    static func response(_ response: APIResponse) -> APIResponse {
        guard case .json(let status, let body) = response else { return response }
        switch body["kind"]?.stringValue {
        case "Event": return .json(status: status, body: toV1(body))
        case "EventList":
            var list = body
            list["apiVersion"] = .string("events.k8s.io/v1")
            list["items"] = .array((body["items"]?.arrayValue ?? []).map(toV1))
            return .json(status: status, body: list)
        default: return response
        }
    }

    static func toCore(_ event: JSONValue) -> JSONValue {
        var core = event
        core["apiVersion"] = .string("v1")
        for (v1, legacy) in fields {
            core[legacy] = event[v1]
            core[v1] = nil
        }
        return core
    }

    static func toV1(_ event: JSONValue) -> JSONValue {
        var v1 = event
        v1["apiVersion"] = .string("events.k8s.io/v1")
        for (name, legacy) in fields {
            v1[name] = event[legacy]
            v1[legacy] = nil
        }
        return v1
    }
}
