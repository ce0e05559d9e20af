import Foundation

/// The three patch formats kube-apiserver accepts for built-in types.
enum PatchType: Sendable {
    case jsonPatch, mergePatch, strategicMergePatch

    init?(contentType: String) {
        switch contentType.split(separator: ";").first.map({ $0.trimmingCharacters(in: .whitespaces) }) {
        case "application/json-patch+json": self = .jsonPatch
        case "application/merge-patch+json": self = .mergePatch
        case "application/strategic-merge-patch+json": self = .strategicMergePatch
        default: return nil
        }
    }

    func apply(_ patch: JSONValue, to original: JSONValue) throws(APIError) -> JSONValue {
        switch self {
        case .mergePatch: return Patches.mergePatch(original, patch)
        case .strategicMergePatch: return try Patches.strategicMerge(original, patch, path: [])
        case .jsonPatch: return try Patches.jsonPatch(original, patch)
        }
    }
}

enum Patches {
    /// RFC 7386.
    static func mergePatch(_ original: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let patchFields) = patch else { return patch }
        var result = original.objectValue ?? [:]
        for (key, value) in patchFields {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = mergePatch(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }

    /// Merge keys of the lists kube-proxy's objects carry (the `patchMergeKey` tags of k8s.io/api), keyed by the
    /// field name and, where a name is ambiguous, the field that holds it.
    static func mergeKey(field: String, parent: String?) -> String? {
        switch field {
        case "containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets",
            "resourceClaims", "containerStatuses", "initContainerStatuses":
            return "name"
        case "volumeMounts", "volumeDevices": return "mountPath"
        case "ports":
            // ContainerPort merges on containerPort; ServicePort on port.
            return parent == "spec" ? "port" : "containerPort"
        case "conditions": return "type"
        case "ownerReferences": return "uid"
        case "hostAliases": return "ip"
        case "topologySpreadConstraints": return "topologyKey"
        case "addresses": return parent == "status" ? "type" : nil
        default: return nil
        }
    }

    /// Lists of scalars whose strategy is `merge` (a union), such as metadata.finalizers.
    static let primitiveMergeLists: Set<String> = ["finalizers"]

    static func strategicMerge(_ original: JSONValue, _ patch: JSONValue, path: [String]) throws(APIError) -> JSONValue {
        guard case .object(var patchFields) = patch else { return patch }
        if let directive = patchFields["$patch"]?.stringValue {
            patchFields["$patch"] = nil
            switch directive {
            case "replace": return .object(patchFields.filter { !$0.key.hasPrefix("$") })
            case "delete": return .null
            case "merge": break
            default: throw APIError.badRequest("unknown patch type: \(directive)")
            }
        }
        var result = original.objectValue ?? [:]
        if let retain = patchFields.removeValue(forKey: "$retainKeys")?.arrayValue {
            let keep = Set(retain.compactMap(\.stringValue))
            result = result.filter { keep.contains($0.key) }
        }
        for (key, value) in patchFields {
            if key.hasPrefix("$setElementOrder/") { continue }
            if key.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(key.dropFirst("$deleteFromPrimitiveList/".count))
                let remove = value.arrayValue ?? []
                if let list = result[field]?.arrayValue {
                    result[field] = .array(list.filter { !remove.contains($0) })
                }
                continue
            }
            if value == .null {
                result[key] = nil
                continue
            }
            let existing = result[key] ?? .null
            switch value {
            case .object:
                let merged = try strategicMerge(existing, value, path: path + [key])
                result[key] = merged == .null ? nil : merged
            case .array(let items):
                result[key] = try mergeList(existing.arrayValue, items, field: key, parent: path.last)
            default:
                result[key] = value
            }
        }
        return .object(result)
    }

    private static func mergeList(_ original: [JSONValue]?, _ patch: [JSONValue], field: String, parent: String?) throws(APIError) -> JSONValue {
        if patch.contains(where: { $0["$patch"]?.stringValue == "replace" }) {
            return .array(patch.filter { $0["$patch"] == nil })
        }
        if primitiveMergeLists.contains(field) {
            var result = original ?? []
            for item in patch where !result.contains(item) { result.append(item) }
            return .array(result)
        }
        guard let key = mergeKey(field: field, parent: parent) else { return .array(patch) }
        var result = original ?? []
        for item in patch {
            guard let keyValue = item[key] else {
                throw APIError.badRequest("map: \(item.jsonString) does not contain declared merge key: \(key)")
            }
            let index = result.firstIndex { $0[key] == keyValue }
            if item["$patch"]?.stringValue == "delete" {
                if let index { result.remove(at: index) }
                continue
            }
            if let index {
                result[index] = try strategicMerge(result[index], item, path: [field])
            } else {
                result.append(try strategicMerge(.object([:]), item, path: [field]))
            }
        }
        return .array(result)
    }

    /// RFC 6902.
    static func jsonPatch(_ original: JSONValue, _ patch: JSONValue) throws(APIError) -> JSONValue {
        guard let operations = patch.arrayValue else {
            throw APIError.badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        }
        var document = original
        for operation in operations {
            guard let op = operation["op"]?.stringValue, let path = operation["path"]?.stringValue else {
                throw APIError.badRequest("the server rejected our request due to an error in our request")
            }
            let pointer = try parsePointer(path)
            switch op {
            case "add": document = try set(document, pointer, operation["value"] ?? .null, insert: true)
            case "replace":
                _ = try get(document, pointer)
                document = try set(document, pointer, operation["value"] ?? .null, insert: false)
            case "remove": document = try remove(document, pointer)
            case "move", "copy":
                guard let from = operation["from"]?.stringValue else { throw APIError.badRequest("missing from in \(op) operation") }
                let source = try parsePointer(from)
                let value = try get(document, source)
                if op == "move" { document = try remove(document, source) }
                document = try set(document, pointer, value, insert: true)
            case "test":
                if try get(document, pointer) != (operation["value"] ?? .null) {
                    throw APIError(code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request")
                }
            default: throw APIError.badRequest("Unexpected kind: \(op)")
            }
        }
        return document
    }

    private static func parsePointer(_ path: String) throws(APIError) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw APIError.badRequest("JSON pointer must start with '/': \(path)") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    private static func missing(_ pointer: [String]) -> APIError {
        APIError(code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request: missing path /\(pointer.joined(separator: "/"))")
    }

    private static func get(_ document: JSONValue, _ pointer: [String]) throws(APIError) -> JSONValue {
        var current = document
        for token in pointer {
            switch current {
            case .object(let o):
                guard let next = o[token] else { throw missing(pointer) }
                current = next
            case .array(let a):
                guard let i = Int(token), a.indices.contains(i) else { throw missing(pointer) }
                current = a[i]
            default: throw missing(pointer)
            }
        }
        return current
    }

    private static func set(_ document: JSONValue, _ pointer: [String], _ value: JSONValue, insert: Bool) throws(APIError) -> JSONValue {
        guard let token = pointer.first else { return value }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var o):
            if rest.isEmpty {
                o[token] = value
            } else {
                guard let child = o[token] else { throw missing(pointer) }
                o[token] = try set(child, rest, value, insert: insert)
            }
            return .object(o)
        case .array(var a):
            if rest.isEmpty {
                if token == "-" { a.append(value); return .array(a) }
                guard let i = Int(token), i >= 0, i <= a.count, insert || i < a.count else { throw missing(pointer) }
                if insert { a.insert(value, at: i) } else { a[i] = value }
                return .array(a)
            }
            guard let i = Int(token), a.indices.contains(i) else { throw missing(pointer) }
            a[i] = try set(a[i], rest, value, insert: insert)
            return .array(a)
        default:
            throw missing(pointer)
        }
    }

    private static func remove(_ document: JSONValue, _ pointer: [String]) throws(APIError) -> JSONValue {
        guard let token = pointer.first else { throw missing(pointer) }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var o):
            guard let child = o[token] else { throw missing(pointer) }
            o[token] = rest.isEmpty ? nil : try remove(child, rest)
            return .object(o)
        case .array(var a):
            guard let i = Int(token), a.indices.contains(i) else { throw missing(pointer) }
            if rest.isEmpty { a.remove(at: i) } else { a[i] = try remove(a[i], rest) }
            return .array(a)
        default:
            throw missing(pointer)
        }
    }
}
