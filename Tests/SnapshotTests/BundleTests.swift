import Foundation
import Testing

@testable import Snapshot

@Suite("snapshot bundle")
struct BundleTests {
    let header = BundleManifest.Header(
        kpswitchVersion: "0.1.0", host: "node-1", kernel: "6.1.0", scope: "node", createdAt: "2026-11-26T10:15:00Z")

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kpsw-bundle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func permissions(_ url: URL) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int)
    }

    func writeBundle(in parent: URL) async throws -> URL {
        let writer = try BundleWriter(parent: parent, name: "node-1-20261126T101500Z")
        try writer.write("iptables-nft-v4.rules", contents: Data("*nat\nCOMMIT\n".utf8))
        try await writer.withFile("ipset.rules") { descriptor in
            _ = "create KUBE-X hash:ip\n".withCString { write(descriptor, $0, strlen($0)) }
        }
        try writer.write("cluster/kube-proxy-configmap.json", contents: Data("{}".utf8))
        try writer.commit(header: header, skipped: [.init(name: "ipvs.json", reason: "no IPVS")])
        return writer.url
    }

    @Test("a committed bundle has its manifest, 0700 directories, 0600 files and no staging left")
    func layout() async throws {
        let parent = try scratch()
        defer { try? FileManager.default.removeItem(at: parent) }
        let url = try await writeBundle(in: parent)
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["node-1-20261126T101500Z"])
        #expect(try permissions(url) == 0o700)
        #expect(try permissions(url.appendingPathComponent("cluster")) == 0o700)
        for name in ["manifest.json", "iptables-nft-v4.rules", "ipset.rules", "cluster/kube-proxy-configmap.json"] {
            #expect(try permissions(url.appendingPathComponent(name)) == 0o600, "\(name)")
        }
        let bundle = try SnapshotBundle.open(url)
        #expect(bundle.manifest.files.map(\.name) == ["cluster/kube-proxy-configmap.json", "ipset.rules", "iptables-nft-v4.rules"])
        #expect(bundle.manifest.host == "node-1")
        #expect(bundle.manifest.formatVersion == 1)
        #expect(bundle.manifest.skipped == [.init(name: "ipvs.json", reason: "no IPVS")])
        // SHA-256 of "*nat\nCOMMIT\n", computed independently with sha256sum.
        let rules = try #require(bundle.manifest.files.first { $0.name == "iptables-nft-v4.rules" })
        #expect(rules.sha256 == "082bd0fb997c9c406f1cdce5a67e68aa62d353e206e0874b87dc2132f0c421d7")
        #expect(rules.size == 12)
        #expect(bundle.verify().isEmpty)
    }

    @Test("a changed, deleted or added file fails verification, naming the file",
          arguments: ["modify", "delete", "add"])
    func tamper(_ how: String) async throws {
        let parent = try scratch()
        defer { try? FileManager.default.removeItem(at: parent) }
        let url = try await writeBundle(in: parent)
        let target = url.appendingPathComponent("ipset.rules")
        switch how {
        case "modify": try Data("create KUBE-Y hash:ip\n".utf8).write(to: target)
        case "delete": try FileManager.default.removeItem(at: target)
        default: try Data("x".utf8).write(to: url.appendingPathComponent("extra.rules"))
        }
        let problems = try SnapshotBundle.open(url).verify()
        #expect(problems.count == 1)
        let problem = try #require(problems.first)
        switch how {
        case "modify":
            #expect(problem.file == "ipset.rules")
            guard case .modified = problem.kind else { Issue.record("expected modified, got \(problem)"); return }
        case "delete": #expect(problem == BundleProblem(file: "ipset.rules", kind: .missing))
        default: #expect(problem == BundleProblem(file: "extra.rules", kind: .unlisted))
        }
        #expect(problem.description.hasPrefix(problem.file + ":"))
    }

    @Test("a failed capture leaves no bundle and no staging directory")
    func failedCaptureLeavesNothing() async throws {
        struct CaptureFailed: Error {}
        let parent = try scratch()
        defer { try? FileManager.default.removeItem(at: parent) }
        do {
            let writer = try BundleWriter(parent: parent, name: "node-1-x")
            try writer.write("a.rules", contents: Data("a".utf8))
            try await writer.withFile("b.rules") { _ in throw CaptureFailed() }
            Issue.record("the capture error was swallowed")
        } catch is CaptureFailed {}
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)
    }

    @Test("file names that would escape the bundle are refused", arguments: ["../x", "/etc/passwd", "a/../b", "", "a//b"])
    func escapingNames(_ name: String) throws {
        let parent = try scratch()
        defer { try? FileManager.default.removeItem(at: parent) }
        let writer = try BundleWriter(parent: parent, name: "b")
        #expect(throws: SnapshotError.self) { try writer.write(name, contents: Data()) }
    }

    @Test("a bundle directory that exists is never overwritten")
    func existingBundle() throws {
        let parent = try scratch()
        defer { try? FileManager.default.removeItem(at: parent) }
        try FileManager.default.createDirectory(at: parent.appendingPathComponent("b"), withIntermediateDirectories: true)
        #expect(throws: SnapshotError.self) { try BundleWriter(parent: parent, name: "b") }
    }

    @Test("a damaged manifest is reported as such")
    func damagedManifest() async throws {
        let parent = try scratch()
        defer { try? FileManager.default.removeItem(at: parent) }
        let url = try await writeBundle(in: parent)
        try Data("{".utf8).write(to: url.appendingPathComponent("manifest.json"))
        #expect { try SnapshotBundle.open(url) } throws: { error in
            (error as? SnapshotError)?.file == "manifest.json"
        }
    }
}
