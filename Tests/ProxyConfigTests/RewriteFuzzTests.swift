import Foundation
import Testing

@testable import ProxyConfig

/// A small deterministic PRNG (SplitMix64), so every run mutates the same way and a failure reproduces.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Rewrite fuzzing")
struct RewriteFuzzTests {
    static let junk: [String] = ["#", ":", " ", "\t", "'", "\"", "{", "}", "[", "]", ",", "&a ", "*a", "!!str ", "|", ">", "-", "?", "\r", "\n", "\r\n", "\u{FEFF}", "é", "---\n", "...\n", "\\"]

    /// One random change of the kind operators (and editors) make to a configuration.
    static func mutate(_ text: String, _ random: inout SplitMix64) -> String {
        var lines = text.components(separatedBy: "\n")
        let index = Int.random(in: 0..<max(lines.count, 1), using: &random)
        switch Int.random(in: 0..<11, using: &random) {
        case 0:
            let indent = String(repeating: " ", count: Int.random(in: 0...6, using: &random))
            lines.insert(indent + "# fuzz comment", at: index)
        case 1:
            if index < lines.count { lines[index] += [" # note", "\t# tab note", " #"][Int.random(in: 0..<3, using: &random)] }
        case 2:
            if index < lines.count, let colon = lines[index].range(of: ": ") {
                let value = lines[index][colon.upperBound...]
                if !value.isEmpty, !value.contains("\"") {
                    let quote = Bool.random(using: &random) ? "\"" : "'"
                    lines[index] = lines[index][..<colon.upperBound] + quote + value + quote
                }
            }
        case 3:
            if index + 1 < lines.count { lines.swapAt(index, index + 1) }
        case 4:
            lines = lines.map { line in
                let spaces = line.prefix { $0 == " " }.count
                return String(repeating: " ", count: spaces * 2) + line.dropFirst(spaces)
            }
        case 5:
            return lines.joined(separator: "\r\n")
        case 6:
            var scalars = Array(text.unicodeScalars)
            let position = Int.random(in: 0...scalars.count, using: &random)
            scalars.insert(contentsOf: junk[Int.random(in: 0..<junk.count, using: &random)].unicodeScalars, at: position)
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            return String(view)
        case 7:
            if index < lines.count { lines.remove(at: index) }
        case 8:
            if index < lines.count { lines.insert(lines[index], at: index) }
        case 9:
            lines.insert("", at: index)
        default:
            if index < lines.count, let colon = lines[index].range(of: ": ") {
                let key = lines[index][..<colon.lowerBound]
                let value = lines[index][colon.upperBound...]
                lines[index] = key + ": {nested: " + value + "}"
            }
        }
        return lines.joined(separator: "\n")
    }

    static func seeds() throws -> [String] {
        try Corpus.accepted.map(\.1) + [
            Support.configText(fixture: "kubeadm-v1.34-kube-proxy-configmap.yaml", key: "config.conf"),
            Support.configText(fixture: "eks-kube-proxy-config.yaml", key: "config"),
        ]
    }

    static let editSets: [[ConfigEdit]] = [
        [ConfigEdit(path: ["mode"], value: .string("ipvs"))],
        [ConfigEdit(path: ["mode"], value: .string("nftables")), ConfigEdit(path: ["featureGates", "NFTablesProxyMode"], value: .bool(true))],
        [ConfigEdit(path: ["mode"], value: .string("ipvs")), ConfigEdit(path: ["ipvs", "scheduler"], value: .string("wlc")),
         ConfigEdit(path: ["ipvs", "strictARP"], value: .bool(true))],
        [ConfigEdit(path: ["mode"], value: .string("iptables"))],
    ]

    @Test("thousands of mutated configurations: no crash, and every accepted rewrite changes only the intended keys")
    func mutatedConfigurations() throws {
        var random = SplitMix64(seed: 0x6B70_7377_6974_6368)
        let seeds = try Self.seeds()
        var accepted = 0
        var refused = 0
        let rounds = 3000
        for round in 0..<rounds {
            var text = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...3, using: &random) { text = Self.mutate(text, &random) }
            let edits = Self.editSets[Int.random(in: 0..<Self.editSets.count, using: &random)]
            let rewrite: ConfigRewrite
            do {
                rewrite = try ConfigRewrite(of: text, applying: edits)
            } catch {
                #expect(!error.description.isEmpty)
                refused += 1
                continue
            }
            accepted += 1
            try Support.verify(rewrite, edits: edits)
        }
        // Most mutations keep a valid configuration; a fuzz run that refuses nearly everything proves nothing.
        #expect(accepted > rounds / 3, "accepted \(accepted), refused \(refused)")
    }
}
