import Foundation
import Testing

/// The malformed-kubeconfig corpus of KubeAPITests, through the binary: each is invalid input, exit 2,
/// one message naming the file (KubeAPITests asserts the field for each).
@Suite("malformed kubeconfigs through the CLI")
struct KubeconfigErrorTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("KubeAPITests/Fixtures/kubeconfigs")

    static var fixtures: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test("the corpus is there") func corpusPresent() { #expect(Self.fixtures.count >= 20) }

    @Test("exit 2 naming the file", arguments: fixtures)
    func refused(_ fixture: String) throws {
        let path = Self.corpus.appendingPathComponent(fixture).path
        let result = try KPSwitchBinary.run(["advise", "--kubeconfig", path, "-o", "json"])
        #expect(result.status == 2, "\(fixture): \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["exitCode"] as? Int == 2)
        #expect((object["message"] as? String)?.contains(fixture) == true, "\(fixture): \(object["message"] ?? "")")
    }
}
