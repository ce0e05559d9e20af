import Foundation

/// The members of JSON objects a caller reads. The parser checks that the others are well-formed JSON and drops
/// them without building values, so a page of a thousand whole pods costs the few fields a verdict needs.
public indirect enum JSONProjection: Sendable {
    /// The whole value.
    case all
    /// Only these members of an object (of each object, in an array), each kept as its projection says.
    case only([String: JSONProjection])

    /// Both projections' members.
    public func union(_ other: JSONProjection) -> JSONProjection {
        guard case .only(let mine) = self, case .only(let theirs) = other else { return .all }
        return .only(mine.merging(theirs) { $0.union($1) })
    }

    /// The metadata every object of a list or watch needs: its identity and version (`KubeResource`).
    static let identity: JSONProjection = .only([
        "metadata": .only(["name": .all, "namespace": .all, "uid": .all, "resourceVersion": .all])
    ])
}

/// A JSON parser straight to `JSONValue`: the Codable route costs about a second per 500-object page in debug
/// builds, because every failed type probe throws.
struct JSONParser {
    struct Failure: Error {
        let offset: Int
        let problem: String
    }

    private let bytes: [UInt8]
    private var index = 0
    /// The members of the objects being parsed, innermost last: one buffer for every object, so that each
    /// object's dictionary is made once at its final size.
    private var members: [(String, JSONValue)] = []

    static func parse(_ input: some Collection<UInt8>, keeping projection: JSONProjection = .all) throws(Failure) -> JSONValue {
        var parser = JSONParser(bytes: Array(input))
        parser.skipWhitespace()
        let value = try parser.value(depth: 0, keeping: projection)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw Failure(offset: parser.index, problem: "trailing data") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private func fail(_ problem: String) -> Failure { Failure(offset: index, problem: problem) }

    private mutating func value(depth: Int, keeping projection: JSONProjection) throws(Failure) -> JSONValue {
        guard depth < 512 else { throw fail("nesting too deep") }
        guard index < bytes.count else { throw fail("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth, keeping: projection)
        case UInt8(ascii: "["): return try array(depth: depth, keeping: projection)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try number()
        }
    }

    /// Checks one value as `value` parses it, and builds nothing.
    private mutating func skipValue(depth: Int) throws(Failure) {
        guard depth < 512 else { throw fail("nesting too deep") }
        guard index < bytes.count else { throw fail("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            try elements(closing: UInt8(ascii: "}"), expected: "expected ',' or '}'") { parser throws(Failure) in
                guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "\"") else {
                    throw parser.fail("expected a key")
                }
                try parser.skipString()
                try parser.colon()
                try parser.skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "["):
            try elements(closing: UInt8(ascii: "]"), expected: "expected ',' or ']'") { parser throws(Failure) in
                try parser.skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try number()
        }
    }

    /// The elements of an object or array from its opening bracket to its closing one, each read by `element`.
    private mutating func elements(
        closing: UInt8, expected: String, _ element: (inout JSONParser) throws(Failure) -> Void
    ) throws(Failure) {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == closing {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == closing {
                index += 1
                return
            } else {
                throw fail(expected)
            }
        }
    }

    private mutating func colon() throws(Failure) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
        index += 1
        skipWhitespace()
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("unexpected end") }
        let matches = word.withUTF8Buffer { expected in
            bytes[index..<index + count].elementsEqual(expected)
        }
        guard matches else { throw fail("invalid literal") }
        index += count
    }

    private mutating func object(depth: Int, keeping projection: JSONProjection) throws(Failure) -> JSONValue {
        let base = members.count
        try elements(closing: UInt8(ascii: "}"), expected: "expected ',' or '}'") { parser throws(Failure) in
            guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "\"") else {
                throw parser.fail("expected a key")
            }
            let key = try parser.string()
            try parser.colon()
            switch projection {
            case .all:
                parser.members.append((key, try parser.value(depth: depth + 1, keeping: .all)))
            case .only(let kept):
                if let member = kept[key] {
                    parser.members.append((key, try parser.value(depth: depth + 1, keeping: member)))
                } else {
                    try parser.skipValue(depth: depth + 1)
                }
            }
        }
        var object: [String: JSONValue] = Dictionary(minimumCapacity: members.count - base)
        // A repeated key: the last one wins, as in Go's encoding/json.
        for (key, value) in members[base...] { object[key] = value }
        members.removeSubrange(base...)
        return .object(object)
    }

    private mutating func array(depth: Int, keeping projection: JSONProjection) throws(Failure) -> JSONValue {
        var values: [JSONValue] = []
        try elements(closing: UInt8(ascii: "]"), expected: "expected ',' or ']'") { parser throws(Failure) in
            values.append(try parser.value(depth: depth + 1, keeping: projection))
        }
        return .array(values)
    }

    /// Checks one string as `string` reads it, and builds nothing.
    private mutating func skipString() throws(Failure) {
        index += 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw fail("unterminated escape") }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"): _ = try hex4()
                default: throw fail("invalid escape")
                }
            default:
                index += 1
            }
        }
        throw fail("unterminated string")
    }

    private mutating func string() throws(Failure) -> String {
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") {
            index += 1
        }
        guard index < bytes.count else { throw fail("unterminated string") }
        if bytes[index] == UInt8(ascii: "\"") {
            defer { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        var scalars = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: scalars, as: UTF8.self)
            }
            if byte != UInt8(ascii: "\\") {
                scalars.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { throw fail("unterminated escape") }
            let escaped = bytes[index]
            index += 1
            switch escaped {
            case UInt8(ascii: "\""): scalars.append(0x22)
            case UInt8(ascii: "\\"): scalars.append(0x5C)
            case UInt8(ascii: "/"): scalars.append(0x2F)
            case UInt8(ascii: "b"): scalars.append(0x08)
            case UInt8(ascii: "f"): scalars.append(0x0C)
            case UInt8(ascii: "n"): scalars.append(0x0A)
            case UInt8(ascii: "r"): scalars.append(0x0D)
            case UInt8(ascii: "t"): scalars.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    else { throw fail("lone surrogate") }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid surrogate pair") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw fail("invalid escape")
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count,
            let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
        else { throw fail("invalid \\u escape") }
        index += 4
        return code
    }

    private mutating func number() throws(Failure) -> JSONValue {
        let start = index
        var integral = true
        while index < bytes.count {
            let byte = bytes[index]
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") {
                index += 1
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
                || byte == UInt8(ascii: "+")
            {
                integral = false
                index += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if integral, let value = Int64(text) { return .int(value) }
        guard !text.isEmpty, let value = Double(text) else { throw fail("invalid value") }
        return .double(value)
    }
}
