import Foundation
import Testing

@testable import KubeAPI

@Suite("JSON parsing, whole and projected")
struct JSONParserTests {
    /// What a projection should leave of a value parsed whole: the reference the parser is held to.
    static func projected(_ value: JSONValue, _ projection: JSONProjection) -> JSONValue {
        guard case .only(let kept) = projection else { return value }
        switch value {
        case .object(let members):
            return .object(
                Dictionary(uniqueKeysWithValues: members.compactMap { key, member in kept[key].map { (key, projected(member, $0)) } }))
        case .array(let elements): return .array(elements.map { projected($0, projection) })
        default: return value
        }
    }

    /// A deterministic generator, so that a failing case can be run again.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let keys = ["metadata", "name", "spec", "status", "a\"b", "ünï", "x\\y", "line\nbreak", "", "items"]
    static let strings = ["", "plain", "quote \" and backslash \\", "tab\tnew\nline", "é ü 中文 😀", "\u{01}\u{1F}", "/slash/"]

    static func value(depth: Int, _ random: inout SplitMix) -> JSONValue {
        switch Int.random(in: 0..<(depth > 4 ? 6 : 9), using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .int(Int64.random(in: Int64.min...Int64.max, using: &random))
        case 3: return .double((Double(Int.random(in: -1000...1000, using: &random)) + 0.5) / 8)  // never integral: 1.0 encodes as 1
        case 4, 5: return .string(strings.randomElement(using: &random)!)
        case 6: return .array((0..<Int.random(in: 0..<5, using: &random)).map { _ in value(depth: depth + 1, &random) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0..<6, using: &random) {
                members[keys.randomElement(using: &random)!] = value(depth: depth + 1, &random)
            }
            return .object(members)
        }
    }

    static func projection(depth: Int, _ random: inout SplitMix) -> JSONProjection {
        if depth > 3 || Int.random(in: 0..<4, using: &random) == 0 { return .all }
        var kept: [String: JSONProjection] = [:]
        for key in keys where Bool.random(using: &random) { kept[key] = projection(depth: depth + 1, &random) }
        return .only(kept)
    }

    @Test("a projected parse is the whole parse less the members left out, on 2,000 generated documents")
    func projectionMatchesWholeParse() throws {
        var random = SplitMix(state: 17)
        for _ in 0..<2_000 {
            let document = Self.value(depth: 0, &random)
            let text = try document.encoded()
            let whole = try JSONParser.parse(Array(text))
            #expect(whole == document)
            let projection = Self.projection(depth: 0, &random)
            let kept = try JSONParser.parse(Array(text), keeping: projection)
            #expect(kept == Self.projected(whole, projection), "\(String(decoding: text, as: UTF8.self))")
        }
    }

    @Test("escapes and surrogate pairs, in kept and in skipped strings")
    func escapes() throws {
        let text = #"{"kept":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00","skipped":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}"#
        let json = try JSONParser.parse(Array(text.utf8), keeping: .only(["kept": .all]))
        #expect(json == ["kept": .string("a\"b\\c/d\u{08}\u{0C}\n\r\té😀")])
    }

    @Test(
        "malformed JSON fails whether the bad part is kept or skipped",
        arguments: [
            #"{"keep":1,"drop":[1,2}"#, #"{"keep":1,"drop":{"a" 1}}"#, #"{"keep":1,"drop":"\q"}"#,
            #"{"keep":1,"drop":"\u12G4"}"#, #"{"keep":1,"drop":"unterminated}"#, #"{"keep":1,"drop":tru}"#,
            #"{"keep":1,"drop":[1,]}"#, #"{"keep":1,"drop":{1:2}}"#, #"{"keep":1,"drop":-}"#, #"{"keep":1,"drop":1"#,
            #"{"keep":1,"drop":{}} trailing"#, #"{"keep":1,"drop":{},}"#,
        ])
    func malformed(_ text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(text.utf8)) }
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(text.utf8), keeping: .only(["keep": .all])) }
    }

    @Test("skipping is bounded by the same nesting limit as parsing")
    func deepSkipped() {
        let text = #"{"keep":1,"drop":"# + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}"
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(text.utf8), keeping: .only(["keep": .all])) }
    }

    @Test("a repeated key: the last one wins, kept or projected")
    func repeatedKeys() throws {
        let text = #"{"a":1,"b":{"c":1,"d":2},"a":2,"b":{"c":3}}"#
        #expect(try JSONParser.parse(Array(text.utf8)) == ["a": 2, "b": ["c": 3]])
        #expect(try JSONParser.parse(Array(text.utf8), keeping: .only(["b": .only(["d": .all])])) == ["b": [:]])
    }

    @Test("union keeps what either projection keeps; .all absorbs")
    func union() {
        let a: JSONProjection = .only(["metadata": .only(["name": .all]), "spec": .all])
        let b: JSONProjection = .only(["metadata": .only(["labels": .all]), "status": .only(["phase": .all])])
        let value: JSONValue = [
            "metadata": ["name": "n", "labels": ["k": "v"], "uid": "u"], "spec": ["x": 1], "status": ["phase": "Running", "podIP": "10.0.0.1"],
            "kind": "Pod",
        ]
        #expect(
            Self.projected(value, a.union(b)) == [
                "metadata": ["name": "n", "labels": ["k": "v"]], "spec": ["x": 1], "status": ["phase": "Running"],
            ])
        #expect(Self.projected(value, a.union(.all)) == value)
    }
}
