import Foundation

/// A parsed `labelSelector` query parameter (equality- and set-based requirements).
struct LabelSelector: Sendable {
    enum Requirement: Sendable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, [String])
        case notIn(String, [String])
        case exists(String)
        case doesNotExist(String)
    }

    var requirements: [Requirement]

    static let everything = LabelSelector(requirements: [])

    init(requirements: [Requirement]) { self.requirements = requirements }

    init(parsing text: String) throws(APIError) {
        var requirements: [Requirement] = []
        for term in LabelSelector.splitTerms(text) {
            let t = term.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            if let r = t.range(of: " notin ") ?? t.range(of: " notin(") {
                requirements.append(.notIn(String(t[..<r.lowerBound]).trimmingCharacters(in: .whitespaces),
                                           LabelSelector.values(String(t[r.upperBound...]))))
            } else if let r = t.range(of: " in ") ?? t.range(of: " in(") {
                requirements.append(.isIn(String(t[..<r.lowerBound]).trimmingCharacters(in: .whitespaces),
                                          LabelSelector.values(String(t[r.upperBound...]))))
            } else if let r = t.range(of: "!=") {
                requirements.append(.notEquals(String(t[..<r.lowerBound]), String(t[r.upperBound...])))
            } else if let r = t.range(of: "==") ?? t.range(of: "=") {
                requirements.append(.equals(String(t[..<r.lowerBound]), String(t[r.upperBound...])))
            } else if t.hasPrefix("!") {
                requirements.append(.doesNotExist(String(t.dropFirst())))
            } else if t.allSatisfy({ $0.isLetter || $0.isNumber || "-_./".contains($0) }) {
                requirements.append(.exists(t))
            } else {
                throw APIError.badRequest("unable to parse requirement: found '\(t)', expected: key, '=', '!=', 'in' or 'notin'")
            }
        }
        self.requirements = requirements
    }

    init(matchLabels: [String: JSONValue]) {
        requirements = matchLabels.sorted { $0.key < $1.key }.map { .equals($0.key, $0.value.stringValue ?? "") }
    }

    private static func splitTerms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for c in text {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if c == "," && depth == 0 {
                terms.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        terms.append(current)
        return terms
    }

    private static func values(_ text: String) -> [String] {
        text.trimmingCharacters(in: CharacterSet(charactersIn: " ()")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func matches(_ object: JSONValue) -> Bool {
        matches(labels: object[path: ["metadata", "labels"]]?.objectValue ?? [:])
    }

    func matches(labels: [String: JSONValue]) -> Bool {
        for requirement in requirements {
            switch requirement {
            case .equals(let k, let v): if labels[k]?.stringValue != v { return false }
            case .notEquals(let k, let v): if labels[k]?.stringValue == v { return false }
            case .isIn(let k, let vs): if !vs.contains(labels[k]?.stringValue ?? "\u{0}") { return false }
            case .notIn(let k, let vs): if let v = labels[k]?.stringValue, vs.contains(v) { return false }
            case .exists(let k): if labels[k] == nil { return false }
            case .doesNotExist(let k): if labels[k] != nil { return false }
            }
        }
        return true
    }
}

/// A parsed `fieldSelector` query parameter: `path=value`, `path==value`, `path!=value` over dotted field paths.
struct FieldSelector: Sendable {
    var requirements: [(path: [String], value: String, equal: Bool)]

    static let everything = FieldSelector(requirements: [])

    init(requirements: [(path: [String], value: String, equal: Bool)]) { self.requirements = requirements }

    init(parsing text: String) throws(APIError) {
        var requirements: [(path: [String], value: String, equal: Bool)] = []
        for term in text.split(separator: ",") {
            let t = String(term)
            if let r = t.range(of: "!=") {
                requirements.append((t[..<r.lowerBound].split(separator: ".").map(String.init), String(t[r.upperBound...]), false))
            } else if let r = t.range(of: "==") ?? t.range(of: "=") {
                requirements.append((t[..<r.lowerBound].split(separator: ".").map(String.init), String(t[r.upperBound...]), true))
            } else {
                throw APIError.badRequest("invalid selector: '\(text)'; can't understand '\(t)'")
            }
        }
        self.requirements = requirements
    }

    func matches(_ object: JSONValue) -> Bool {
        for r in requirements {
            let actual: String
            switch object[path: r.path] {
            case .string(let s): actual = s
            case .int(let i): actual = String(i)
            case .bool(let b): actual = String(b)
            default: actual = ""
            }
            if (actual == r.value) != r.equal { return false }
        }
        return true
    }
}

