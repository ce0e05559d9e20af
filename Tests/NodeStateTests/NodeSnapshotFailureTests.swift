import Foundation
import NodeState
import Testing

@testable import KPSwitch

/// The real adapter with one operation made to fail, to see what a failed capture leaves behind.
private struct FailingIPSetSave: NodeNetfilterAccess {
    let real: NodeNetfilter

    func isInstalled(_ program: String) -> Bool { real.isInstalled(program) }
    func saveIPTables(_ variant: IPTablesVariant, to descriptor: Int32) async throws(NodeStateError) {
        try await real.saveIPTables(variant, to: descriptor)
    }
    func restoreIPTables(_ variant: IPTablesVariant, from descriptor: Int32) async throws(NodeStateError) {
        try await real.restoreIPTables(variant, from: descriptor)
    }
    func testIPTables(_ variant: IPTablesVariant, from descriptor: Int32) async throws(NodeStateError) {
        try await real.testIPTables(variant, from: descriptor)
    }
    func saveIPSets(to descriptor: Int32) async throws(NodeStateError) {
        // `ipset save` of a set name that does not exist fails the way a broken ipset would.
        try await real.runner.run(["ipset", "save", "kpsw-no-such-set"], output: .fileDescriptor(descriptor)).check()
    }
    func restoreIPSets(saved: String) async throws(NodeStateError) { try await real.restoreIPSets(saved: saved) }
    func createMissingIPSets(saved: String) async throws(NodeStateError) -> [String] {
        try await real.createMissingIPSets(saved: saved)
    }
    func destroyIPSets(_ names: [String]) async throws(NodeStateError) { try await real.destroyIPSets(names) }
    func listNFTTables(_ tables: [NFTTable], to descriptor: Int32) async throws(NodeStateError) {
        try await real.listNFTTables(tables, to: descriptor)
    }
    func linkAddressesJSON(_ name: String) async throws(NodeStateError) -> String? {
        try await real.linkAddressesJSON(name)
    }
    func planCleanup(of footprint: KubeProxyFootprint) async throws(NodeStateError) -> LeftoverCleanup {
        try await real.planCleanup(of: footprint)
    }
    func apply(_ cleanup: LeftoverCleanup) async throws(NodeStateError) { try await real.apply(cleanup) }
}

@Suite("node snapshot failures", .enabled(if: TestNamespace.unavailable == nil, "\(TestNamespace.unavailable ?? "")"))
struct NodeSnapshotFailureTests {
    @Test("a failed capture leaves no bundle and the error names the file")
    func failedCapture() async throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("kpsw-fail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }
        try await TestNamespace.with { ns in
            let node = FailingIPSetSave(real: NodeNetfilter(runner: ns.runner))
            let host = HostIdentity(name: "node-1", kernel: "6.1.0", isRoot: true)
            await #expect { try await BundleSnapshot(node: node, ipvs: Adapters.localNodeIPVS(), host: host).take(into: out) } throws: { error in
                let message = (error as? KPSwitchError)?.message ?? ""
                return message.contains("no bundle was written") && message.contains("ipset.rules")
                    && message.contains("kpsw-no-such-set")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
    }

    @Test("without root, a node snapshot refuses before writing anything")
    func notRoot() async throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("kpsw-noroot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }
        let host = HostIdentity(name: "node-1", kernel: "6.1.0", isRoot: false)
        await #expect { try await BundleSnapshot(node: NodeNetfilter(), ipvs: Adapters.localNodeIPVS(), host: host).take(into: out) } throws: { error in
            (error as? KPSwitchError)?.message.contains("needs root") == true
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
    }
}
