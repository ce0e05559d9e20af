import Foundation
import Testing
import Yams

@testable import ProxyConfig

/// Fixture files, config texts and an independent semantic comparison for the tests.
enum Support {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// The KubeProxyConfiguration text of a ConfigMap fixture.
    static func configText(fixture name: String, key: String) throws -> String {
        let object = try #require(try Yams.load(yaml: fixture(name)) as? [String: Any])
        let data = try #require(object["data"] as? [String: Any])
        return try #require(data[key] as? String)
    }

    /// A YAML fixture as the API server's JSON, so decoding goes through the same path as KubeAPI's bytes.
    static func json(fromYAML yaml: String) throws -> Data {
        let node = try #require(try Yams.compose(yaml: yaml))
        return try JSONSerialization.data(withJSONObject: jsonObject(node), options: [.sortedKeys])
    }

    private static func jsonObject(_ node: Node) -> Any {
        switch node {
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for (key, value) in mapping { object[key.string ?? ""] = jsonObject(value) }
            return object
        case .sequence(let sequence):
            return sequence.map(jsonObject)
        case .scalar:
            switch node.tag.description {
            case Tag.Name.int.rawValue: return node.int ?? 0
            case Tag.Name.bool.rawValue: return node.bool ?? false
            case Tag.Name.null.rawValue: return NSNull()
            case Tag.Name.float.rawValue: return node.float ?? 0
            default: return node.string ?? ""
            }
        case .alias:
            return NSNull()
        }
    }

    /// A loaded YAML value, independent of ProxyConfig's own tree, for checking rewrites from outside.
    indirect enum Value: Equatable, CustomStringConvertible {
        case leaf(String)
        case map([String: Value])
        case list([Value])

        init(_ any: Any?) {
            switch any {
            case let dictionary as [String: Any]: self = .map(dictionary.mapValues { Value($0) })
            case let dictionary as [AnyHashable: Any]:
                self = .map(Dictionary(uniqueKeysWithValues: dictionary.map { ("\($0.key)", Value($0.value)) }))
            case let array as [Any]: self = .list(array.map { Value($0) })
            case let bool as Bool: self = .leaf("bool:\(bool)")
            case let int as Int: self = .leaf("int:\(int)")
            case let double as Double: self = .leaf("float:\(double)")
            case let string as String: self = .leaf("str:\(string)")
            case nil, is NSNull: self = .leaf("null")
            case let other?: self = .leaf("\(type(of: other)):\(other)")
            }
        }

        var description: String {
            switch self {
            case .leaf(let text): text
            case .map(let pairs): "{" + pairs.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
            case .list(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
            }
        }

        func setting(_ path: ArraySlice<String>, _ value: Value) -> Value {
            guard let key = path.first else { return value }
            var pairs: [String: Value] = [:]
            if case .map(let existing) = self { pairs = existing }
            pairs[key] = (pairs[key] ?? .map([:])).setting(path.dropFirst(), value)
            return .map(pairs)
        }
    }

    static func loaded(_ text: String) throws -> Value {
        let body = text.unicodeScalars.first == "\u{FEFF}" ? String(String.UnicodeScalarView(text.unicodeScalars.dropFirst())) : text
        return Value(try Yams.load(yaml: body))
    }

    static func expectedValue(_ edit: ConfigEdit) -> Value {
        switch edit.value {
        case .string(let text): .leaf("str:\(text)")
        case .bool(let flag): .leaf("bool:\(flag)")
        }
    }

    /// Lines removed from and inserted into `old` to make `new` (line breaks kept, so CRLF changes show).
    static func lineChanges(_ old: String, _ new: String) -> (removed: [String], inserted: [String]) {
        let before = splitLines(old)
        let after = splitLines(new)
        var removed: [String] = []
        var inserted: [String] = []
        for change in after.difference(from: before) {
            switch change {
            case .remove(_, let line, _): removed.append(line)
            case .insert(_, let line, _): inserted.append(line)
            }
        }
        return (removed, inserted)
    }

    private static func splitLines(_ text: String) -> [String] {
        var lines: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            current.unicodeScalars.append(scalar)
            if scalar == "\n" {
                lines.append(current)
                current = ""
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    /// Checks a rewrite from outside ProxyConfig: the loaded values differ from the original exactly by
    /// the edits, only lines naming an edited key change, and rewriting again changes nothing.
    static func verify(_ rewrite: ConfigRewrite, edits: [ConfigEdit], sourceLocation: SourceLocation = #_sourceLocation) throws {
        var expected = try loaded(rewrite.original)
        for edit in edits { expected = expected.setting(edit.path[...], expectedValue(edit)) }
        #expect(try loaded(rewrite.text) == expected, sourceLocation: sourceLocation)

        // A changed line either names an edited key, or is an old line with text appended: a flow
        // entry (`{a: 1, scheduler: lc}`) or the line break a last line needs before an inserted key.
        let changes = lineChanges(rewrite.original, rewrite.text)
        let names = Set(edits.flatMap(\.path))
        func namesKey(_ text: Substring) -> Bool { names.contains { text.contains($0) } }
        func content(_ line: String) -> Substring { line.prefix { $0 != "\n" && $0 != "\r\n" && $0 != "\r" } }
        for line in changes.removed {
            let extended = changes.inserted.contains { inserted in
                let new = Array(content(inserted))
                let old = Array(content(line))
                let prefix = zip(old, new).prefix { $0 == $1 }.count
                let suffix = old.count - prefix
                guard new.count >= old.count, Array(new.suffix(suffix)) == Array(old.suffix(suffix)) else { return false }
                let middle = String(new[prefix..<(new.count - suffix)])
                return middle.isEmpty || namesKey(middle[...])
            }
            #expect(namesKey(line[...]) || extended, "unexpected removed line: \(line.debugDescription)", sourceLocation: sourceLocation)
        }
        for line in changes.inserted {
            let rebroken = changes.removed.contains { content($0) == content(line) }
            #expect(namesKey(line[...]) || rebroken, "unexpected inserted line: \(line.debugDescription)", sourceLocation: sourceLocation)
        }
        #expect(changes.removed.count <= edits.count + 1, sourceLocation: sourceLocation)

        let again = try ConfigRewrite(of: rewrite.text, applying: edits)
        #expect(again.text == rewrite.text, "not idempotent", sourceLocation: sourceLocation)
        #expect(again.applied.isEmpty, sourceLocation: sourceLocation)
    }
}
