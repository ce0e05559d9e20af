import Foundation
import Testing
@testable import ProxyConfig

/// Every runbook section ProxyConfig's refusals point at exists, so an operator never follows a dead link.
@Suite("runbook anchors")
struct RunbookAnchorTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// GitHub's heading anchors: lower case, spaces to hyphens, punctuation other than - and _ dropped.
    static func anchors(in file: String) throws -> Set<String> {
        let text = try String(contentsOf: root.appendingPathComponent("Runbooks/\(file)"), encoding: .utf8)
        return Set(text.split(separator: "\n").filter { $0.hasPrefix("#") }.map { line in
            line.drop(while: { $0 == "#" }).trimmingCharacters(in: .whitespaces).lowercased()
                .compactMap { c -> String? in
                    c == " " ? "-" : (c.isLetter || c.isNumber || c == "-" || c == "_" ? String(c) : nil)
                }.joined()
        })
    }

    @Test("each flavour kpswitch refuses links to its procedure",
          arguments: KubeProxyFlavour.allCases.filter { !$0.isMigratable })
    func refusal(_ flavour: KubeProxyFlavour) throws {
        let runbook = try #require(FlavourDetection.procedure(for: flavour)?.runbook)
        #expect(try Self.anchors(in: runbook.file).contains(runbook.anchor), "\(flavour): \(runbook.file)#\(runbook.anchor)")
    }

    @Test("each runbook section named in ProxyConfig's sources exists")
    func sources() throws {
        let directory = Self.root.appendingPathComponent("Sources/ProxyConfig")
        var named: Set<String> = []
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            var rest = text[...]
            while let start = rest.range(of: ".migrate(\"") {
                rest = rest[start.upperBound...]
                if let end = rest.firstIndex(of: "\"") { named.insert(String(rest[..<end])) }
            }
        }
        #expect(named.count >= 5)
        let anchors = try Self.anchors(in: "migrate.md")
        #expect(named.subtracting(anchors).isEmpty, "missing sections: \(named.subtracting(anchors).sorted())")
    }
}
