import IPVS
import NodeState

/// What node snapshots, restores and cleanups need of the node's IPVS. `LocalNodeIPVS` is the real
/// one; tests substitute it only to inject failures.
public protocol NodeIPVSAccess: Sendable {
    /// ip_vs's state. The table is read only when ip_vs is loaded or built in: resolving the IPVS
    /// netlink family makes kernels since about 5.16 load ip_vs (MODULE_ALIAS_GENL_FAMILY), and
    /// reading must not change the node.
    func moduleState() async throws(NodeStateError) -> ModuleState
    func table() async throws(IPVSError) -> IPVSTable
    /// Puts back each service of `table`: one with the same key is deleted first, so its settings and
    /// destinations become exactly the saved ones; services not in `table` are left alone.
    func put(_ table: IPVSTable) async throws(IPVSError)
    /// Deletes exactly these services (and their destinations).
    func delete(_ keys: [IPVSService.Key]) async throws(IPVSError)
    /// Addresses per link (`ip -o addr show`), to tell kube-proxy's services from others.
    func linkAddresses() async throws(NodeStateError) -> [String: [String]]
}

/// The node's IPVS over generic netlink, one handle per call (a handle is not safe to share).
struct LocalNodeIPVS: NodeIPVSAccess {
    let node: LocalNode

    func moduleState() async throws(NodeStateError) -> ModuleState {
        try node.kernelModules().state(of: "ip_vs")
    }

    func table() async throws(IPVSError) -> IPVSTable {
        try IPVSHandle().table()
    }

    func put(_ table: IPVSTable) async throws(IPVSError) {
        let handle = try IPVSHandle()
        try handle.deleteServices(table.entries.map(\.service.key))
        try handle.restore(table)
    }

    func delete(_ keys: [IPVSService.Key]) async throws(IPVSError) {
        try IPVSHandle().deleteServices(keys)
    }

    func linkAddresses() async throws(NodeStateError) -> [String: [String]] {
        try await node.interfaceAddresses()
    }
}

extension Adapters {
    /// The IPVS table of the node kpswitch runs on, for snapshot, restore and cleanup.
    public static func localNodeIPVS() -> any NodeIPVSAccess {
        LocalNodeIPVS(node: LocalNode())
    }
}
