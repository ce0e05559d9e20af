import Foundation
import Testing

@Suite("output plumbing")
struct OutputTests {
    static let unimplemented: [(arguments: [String], issue: Int)] = [
        (["snapshot", "--scope", "cluster"], 6), (["snapshot"], 6),
    ]

    @Test("verify, show and restore of a directory that is no bundle exit 1 naming manifest.json",
          arguments: [["snapshot", "verify", "/nonexistent"], ["snapshot", "show", "/nonexistent"], ["restore", "/nonexistent", "--dry-run"]])
    func notABundle(_ arguments: [String]) throws {
        let result = try KPSwitchBinary.run(arguments + ["-o", "json"])
        #expect(result.status == 1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["kind"] as? String == "Failure")
        #expect((object["message"] as? String)?.contains("/nonexistent/manifest.json cannot be read") == true)
    }

    @Test("an unimplemented command exits 1 and prints one parsable JSON failure document with -o json",
          arguments: unimplemented)
    func unimplementedAsJSON(_ item: (arguments: [String], issue: Int)) throws {
        let result = try KPSwitchBinary.run(item.arguments + ["-o", "json"])
        #expect(result.status == 1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["apiVersion"] as? String == "kpswitch/v1")
        #expect(object["kind"] as? String == "Failure")
        #expect(object["exitCode"] as? Int == 1)
        #expect((object["message"] as? String)?.contains("not implemented yet (issue #\(item.issue))") == true)
        #expect((object["runbook"] as? String)?.hasPrefix("Runbooks/troubleshooting.md#") == true)
    }

    @Test("text output goes to stderr, uncoloured when not on a terminal")
    func textFailure() throws {
        let result = try KPSwitchBinary.run(["snapshot", "--scope", "cluster"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("error: kpswitch snapshot"))
        #expect(!result.stderr.contains("\u{1B}["))
    }

    @Test("every runbook link the binary prints points at a heading that exists")
    func runbookAnchorsExist() throws {
        var links: [String] = []
        let failure = try KPSwitchBinary.run(["snapshot", "--scope", "cluster", "-o", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(failure.stdout.utf8)) as? [String: Any])
        links.append(try #require(object["runbook"] as? String))
        let preflight = try KPSwitchBinary.run(["preflight", "-o", "json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(preflight.stdout.utf8)) as? [String: Any])
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.count >= 9)
        links += checks.compactMap { $0["runbook"] as? String }
        for link in links {
            let parts = link.split(separator: "#").map(String.init)
            let file = Self.packageRoot.appendingPathComponent(parts[0])
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(Self.anchors(text).contains(parts[1]), "\(link): no such heading")
        }
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// GitHub's heading anchors: lower case, spaces to hyphens, punctuation other than - and _ dropped.
    static func anchors(_ markdown: String) -> Set<String> {
        Set(markdown.split(separator: "\n").filter { $0.hasPrefix("#") }.map { line in
            line.drop(while: { $0 == "#" }).trimmingCharacters(in: .whitespaces).lowercased()
                .compactMap { character -> String? in
                    if character == " " { return "-" }
                    return character.isLetter || character.isNumber || character == "-" || character == "_" ? String(character) : nil
                }.joined()
        })
    }
}

@Suite("logging")
struct LoggingTests {
    @Test("-v logs each check at debug level on stderr; without it stderr stays quiet and stdout is unchanged")
    func verbose() throws {
        let quiet = try KPSwitchBinary.run(["preflight", "--scope", "node", "--to", "nftables"])
        let verbose = try KPSwitchBinary.run(["preflight", "--scope", "node", "--to", "nftables", "-v"])
        #expect(quiet.stderr.isEmpty)
        #expect(verbose.stderr.contains("debug kpswitch.preflight: check=NFTablesKernel"))
        #expect(verbose.stdout == quiet.stdout)
    }
}
