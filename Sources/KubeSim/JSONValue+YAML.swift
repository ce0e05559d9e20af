import Foundation
import Yams

extension JSONValue {
    /// Reads every YAML document in `text` as JSON values, the way kubectl converts manifests.
    static func parseYAMLDocuments(_ text: String) throws -> [JSONValue] {
        try Yams.compose_all(yaml: text).map { try JSONValue(yaml: $0) }
    }

    init(yaml node: Node) throws {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.description) {
            case .null: self = .null
            case .bool: self = node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case .int: self = node.int.map { .int(Int64($0)) } ?? .string(scalar.string)
            case .float: self = node.float.map(JSONValue.double) ?? .string(scalar.string)
            // Timestamps stay strings: Kubernetes carries them as RFC 3339 text.
            default: self = .string(scalar.string)
            }
        case .mapping(let mapping):
            var dict: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { continue }
                dict[name] = try JSONValue(yaml: value)
            }
            self = .object(dict)
        case .sequence(let sequence):
            self = .array(try sequence.map { try JSONValue(yaml: $0) })
        case .alias:
            throw KubeSimError.scenario("YAML aliases are not supported in Kubernetes objects")
        }
    }
}
