/// An error answered as a `kind: Status` body, shaped the way kube-apiserver writes it.
struct APIError: Error, Sendable {
    let code: Int
    let reason: String
    let message: String
    var details: JSONValue? = nil
    var retryAfterSeconds: Int? = nil

    var status: JSONValue {
        var body: JSONValue = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .int(Int64(code)),
        ]
        if reason.isEmpty { body["reason"] = nil }
        if let details { body["details"] = details }
        return body
    }

    static func details(_ resource: ResourceType, name: String?) -> JSONValue {
        var d: JSONValue = ["kind": .string(resource.plural)]
        if !resource.group.isEmpty { d["group"] = .string(resource.group) }
        if let name, !name.isEmpty { d["name"] = .string(name) }
        return d
    }

    static func notFound(_ resource: ResourceType, name: String) -> APIError {
        APIError(
            code: 404, reason: "NotFound", message: "\(resource.qualifiedName) \"\(name)\" not found",
            details: details(resource, name: name))
    }

    static func alreadyExists(_ resource: ResourceType, name: String) -> APIError {
        APIError(
            code: 409, reason: "AlreadyExists", message: "\(resource.qualifiedName) \"\(name)\" already exists",
            details: details(resource, name: name))
    }

    static func conflict(_ resource: ResourceType, name: String) -> APIError {
        APIError(
            code: 409, reason: "Conflict",
            message: "Operation cannot be fulfilled on \(resource.qualifiedName) \"\(name)\": "
                + "the object has been modified; please apply your changes to the latest version and try again",
            details: details(resource, name: name))
    }

    static func conflictPrecondition(_ resource: ResourceType, name: String, message: String) -> APIError {
        APIError(
            code: 409, reason: "Conflict",
            message: "Operation cannot be fulfilled on \(resource.qualifiedName) \"\(name)\": \(message)",
            details: details(resource, name: name))
    }

    static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }

    static func invalid(_ resource: ResourceType, name: String, field: String, message: String) -> APIError {
        var d = details(resource, name: name)
        d["kind"] = .string(resource.kind)
        d["causes"] = [["reason": "FieldValueInvalid", "message": .string(message), "field": .string(field)]]
        return APIError(
            code: 422, reason: "Invalid",
            message: "\(resource.kind) \"\(name)\" is invalid: \(field): \(message)", details: d)
    }

    static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")

    static func notFoundPath() -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource",
                 details: [:])
    }

    static func methodNotAllowed(_ method: String) -> APIError {
        APIError(
            code: 405, reason: "MethodNotAllowed",
            message: "the server does not allow this method on the requested resource", details: [:])
    }

    static func unsupportedMediaType(_ type: String) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json")
    }

    static func tooManyRequests() -> APIError {
        APIError(
            code: 429, reason: "TooManyRequests", message: "Too many requests, please try again later.",
            details: ["retryAfterSeconds": 1], retryAfterSeconds: 1)
    }

    static func internalError(_ message: String) -> APIError {
        APIError(
            code: 500, reason: "InternalError", message: "Internal error occurred: \(message)",
            details: ["causes": [["message": .string(message)]]])
    }

    static func expired(_ message: String) -> APIError {
        APIError(code: 410, reason: "Expired", message: message)
    }

    static func forbidden(
        user: String, verb: String, resource: ResourceType, subresource: String?, name: String?, namespace: String?
    ) -> APIError {
        let resourceText = subresource.map { "\(resource.plural)/\($0)" } ?? resource.plural
        let subject = name.map { "\(resource.qualifiedName) \"\($0)\"" } ?? resource.qualifiedName
        let scope = namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
        return APIError(
            code: 403, reason: "Forbidden",
            message: "\(subject) is forbidden: User \"\(user)\" cannot \(verb) resource \"\(resourceText)\" "
                + "in API group \"\(resource.group)\" \(scope)",
            details: details(resource, name: name))
    }

    static func forbiddenPath(user: String, verb: String, path: String) -> APIError {
        APIError(
            code: 403, reason: "Forbidden",
            message: "forbidden: User \"\(user)\" cannot \(verb) path \"\(path)\"", details: [:])
    }
}
