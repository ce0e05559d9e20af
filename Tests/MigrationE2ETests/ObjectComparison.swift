import Foundation
@testable import KubeSim

/// How the tests judge "changed only what the mode needs" and "exactly as before".
enum ObjectComparison {
    /// The dotted key path of each line of a block-style YAML document (`ipvs.scheduler`), nil for lines that hold
    /// no key (blank, comments, list items, continuation lines).
    static func keyPaths(_ text: String) -> [(path: String?, line: String)] {
        var stack: [(indent: Int, key: String)] = []
        return text.components(separatedBy: "\n").map { line in
            let trimmed = line.drop { $0 == " " }
            let indent = line.count - trimmed.count
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), !trimmed.hasPrefix("- "),
                let colon = trimmed.firstIndex(of: ":")
            else { return (nil, line) }
            let key = String(trimmed[..<colon])
            guard !key.contains(" ") || key.hasPrefix("\"") else { return (nil, line) }
            while let last = stack.last, last.indent >= indent { stack.removeLast() }
            stack.append((indent, key))
            return (stack.map(\.key).joined(separator: "."), line)
        }
    }

    /// The key paths whose lines differ between two texts, and whether the texts are identical once those lines
    /// are taken out of both (so nothing else moved, no comment or spacing changed).
    static func changedKeys(from before: String, to after: String) -> Set<String> {
        let a = keyPaths(before), b = keyPaths(after)
        var changed = Set<String>()
        let aLines = Dictionary(a.compactMap { e in e.path.map { ($0, e.line) } }, uniquingKeysWith: { first, _ in first })
        let bLines = Dictionary(b.compactMap { e in e.path.map { ($0, e.line) } }, uniquingKeysWith: { first, _ in first })
        for key in Set(aLines.keys).union(bLines.keys) where aLines[key] != bLines[key] { changed.insert(key) }
        return changed
    }

    /// `text` without the lines of `keys`.
    static func removing(_ keys: Set<String>, from text: String) -> [String] {
        keyPaths(text).filter { $0.path.map { !keys.contains($0) } ?? true }.map(\.line)
    }

    /// The value of a top-level scalar, unquoted.
    static func scalar(_ key: String, in text: String) -> String? {
        for (path, line) in keyPaths(text) where path == key {
            let value = line.drop { $0 != ":" }.dropFirst().trimmingCharacters(in: .whitespaces)
            return value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }
        return nil
    }

    /// A parsed YAML document without the given key paths.
    static func parsed(_ text: String, removing keys: Set<String>) throws -> JSONValue {
        guard var document = try JSONValue.parseYAMLDocuments(text).first else { throw E2EFailure("empty YAML:\n\(text)") }
        for key in keys { document[path: key.components(separatedBy: ".")] = nil }
        return document
    }

    /// An object as a user compares it: the fields the API server owns removed (resourceVersion, generation and its
    /// annotation, managedFields, status).
    static func userOwned(_ object: JSONValue) -> JSONValue {
        var o = object
        o[path: ["metadata", "resourceVersion"]] = nil
        o[path: ["metadata", "generation"]] = nil
        o[path: ["metadata", "managedFields"]] = nil
        o[path: ["metadata", "annotations", "deprecated.daemonset.template.generation"]] = nil
        if o[path: ["metadata", "annotations"]]?.objectValue?.isEmpty == true { o[path: ["metadata", "annotations"]] = nil }
        o["status"] = nil
        return o
    }

    /// `kubectl rollout restart`'s mark: a restart (by kpswitch's rolling strategy or rollback) leaves it behind.
    static let restartedAt = "kubectl.kubernetes.io/restartedAt"

    /// A DaemonSet as a user compares it, with the restart mark taken out when `allowRestart`.
    static func userOwnedDaemonSet(_ object: JSONValue, allowRestart: Bool) -> JSONValue {
        var o = userOwned(object)
        if allowRestart {
            o[path: ["spec", "template", "metadata", "annotations", restartedAt]] = nil
            if o[path: ["spec", "template", "metadata", "annotations"]]?.objectValue?.isEmpty == true {
                o[path: ["spec", "template", "metadata", "annotations"]] = nil
            }
        }
        return o
    }

    /// The paths at which two JSON values differ, for failure messages.
    static func differences(_ a: JSONValue?, _ b: JSONValue?, at path: String = "") -> [String] {
        switch (a, b) {
        case (.object(let x)?, .object(let y)?):
            return Set(x.keys).union(y.keys).sorted().flatMap { differences(x[$0], y[$0], at: path + "." + $0) }
        case (.array(let x)?, .array(let y)?) where x.count == y.count:
            return zip(x, y).enumerated().flatMap { differences($0.element.0, $0.element.1, at: path + "[\($0.offset)]") }
        default:
            return a == b ? [] : ["\(path.isEmpty ? "." : path): \(describe(a)) → \(describe(b))"]
        }
    }

    private static func describe(_ value: JSONValue?) -> String {
        guard let value else { return "absent" }
        return String(decoding: value.serialized(), as: UTF8.self)
    }
}
