import Foundation
import NodeState
import Snapshot

/// What node snapshots, restores and cleanups need from the node. `NodeNetfilter` is the real one;
/// tests substitute it only to inject failures.
public protocol NodeNetfilterAccess: Sendable {
    func isInstalled(_ program: String) -> Bool
    func saveIPTables(_ variant: IPTablesVariant, to descriptor: Int32) async throws(NodeStateError)
    func restoreIPTables(_ variant: IPTablesVariant, from descriptor: Int32) async throws(NodeStateError)
    func testIPTables(_ variant: IPTablesVariant, from descriptor: Int32) async throws(NodeStateError)
    func saveIPSets(to descriptor: Int32) async throws(NodeStateError)
    func restoreIPSets(saved: String) async throws(NodeStateError)
    func createMissingIPSets(saved: String) async throws(NodeStateError) -> [String]
    func destroyIPSets(_ names: [String]) async throws(NodeStateError)
    func listNFTTables(_ tables: [NFTTable], to descriptor: Int32) async throws(NodeStateError)
    func linkAddressesJSON(_ name: String) async throws(NodeStateError) -> String?
    func planCleanup(of footprint: KubeProxyFootprint) async throws(NodeStateError) -> LeftoverCleanup
    func apply(_ cleanup: LeftoverCleanup) async throws(NodeStateError)
}

extension NodeNetfilter: NodeNetfilterAccess {}

/// Facts about the machine kpswitch runs on, read once.
public struct HostIdentity: Sendable, Equatable {
    public let name: String
    public let kernel: String
    public let isRoot: Bool

    public init(name: String, kernel: String, isRoot: Bool) {
        self.name = name
        self.kernel = kernel
        self.isRoot = isRoot
    }

    /// This machine, from uname(2) and the effective user id.
    public static func current() -> HostIdentity {
        var info = utsname()
        uname(&info)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return HostIdentity(name: field(info.nodename), kernel: field(info.release), isRoot: geteuid() == 0)
    }

    func requireRoot(for action: String) throws(KPSwitchError) {
        guard !isRoot else { return }
        throw KPSwitchError(
            status: .runtimeError,
            message: "\(action) needs root: iptables-save, ipset and nft read the kernel's tables only with CAP_NET_ADMIN.",
            remediation: "Run it with sudo on the node.")
    }
}

extension KPSwitchError {
    init(_ error: NodeStateError, while action: String) {
        self.init(status: .runtimeError, message: "\(action): \(error.message)", remediation: error.remediation)
    }

    init(_ error: SnapshotError, while action: String) {
        self.init(status: .runtimeError, message: "\(action): \(error.message)", remediation: error.remediation)
    }
}

extension Adapters {
    /// The node's iptables, ipset, nft and links, through its own tools.
    public static func localNetfilter() -> any NodeNetfilterAccess {
        NodeNetfilter(runner: CommandRunner())
    }
}
