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

    /// Scans the sources for `.migrate("...")`, and `.rollback("...")`, the way both
    /// ProxyConfig's `RunbookReference` and KPSwitch's `Runbook` name a section, so a renamed heading fails here.
    @Test("each runbook section named in ProxyConfig's and KPSwitch's sources exists",
          arguments: ["migrate", "rollback"])
    func sources(_ runbook: String) throws {
        var named: Set<String> = []
        for module in ["Sources/ProxyConfig", "Sources/KPSwitch"] {
            let directory = Self.root.appendingPathComponent(module)
            guard let files = FileManager.default.enumerator(atPath: directory.path) else { continue }
            for case let file as String in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                var rest = text[...]
                while let start = rest.range(of: ".\(runbook)(\"") {
                    rest = rest[start.upperBound...]
                    if let end = rest.firstIndex(of: "\"") { named.insert(String(rest[..<end])) }
                }
            }
        }
        #expect(!named.isEmpty, "no section of \(runbook).md is named in the sources")
        let anchors = try Self.anchors(in: "\(runbook).md")
        #expect(named.subtracting(anchors).isEmpty, "missing sections of \(runbook).md: \(named.subtracting(anchors).sorted())")
    }
}
