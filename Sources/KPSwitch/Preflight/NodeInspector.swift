import NodeState

/// What node preflight needs to know about a node; NodeState's `LocalNode` answers for the node kpswitch
/// runs on. Every method is a query except `loadModule`, the one action, which `--load-modules` asks for.
public protocol NodeInspector: Sendable {
    var hostname: String { get }
    /// nil when this is not Linux, with the reason for the skipped checks.
    var notLinuxReason: String? { get }
    var isPrivileged: Bool { get }

    func kernelRelease() async throws -> KernelRelease
    func kernelModules() async throws -> KernelModules
    func loadModule(_ name: String) async throws
    /// The version a tool prints, or nil when the tool is not installed.
    func toolVersion(_ program: String) async throws -> ToolVersion?
    /// Asks the kernel to accept a scratch nftables table in a transaction that is rolled back (`nft --check`).
    func nftablesDryRun() async throws
    /// Chain names per iptables backend and family that holds any table; absent backends are left out.
    func iptablesChains() async throws -> [IPTablesChains]
    func linkExists(_ name: String) async throws -> Bool
    /// Addresses (without prefix length) per link, as `ip -o addr show` lists them.
    func interfaceAddresses() async throws -> [String: [String]]
    func ipsetNames() async throws -> [String]
    /// Tables as `nft list tables` names them: `ip kube-proxy`, `inet filter`.
    func nftablesTables() async throws -> [String]
    /// A sysctl by its dotted name (`net.ipv4.vs.conntrack`), or nil when the kernel lacks it.
    func sysctl(_ key: String) async -> String?
}
