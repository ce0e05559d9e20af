import NodeState

/// kube-proxy refuses nftables mode below kernel 5.13 ("kube-proxy in nftables mode requires kernel %s or
/// later", pkg/proxy/nftables/supported.go).
struct NFTablesKernel: PreflightCheck {
    let name: CheckName = "NFTablesKernel"
    let scope: CheckScope = .node
    let node: any NodeInspector
    static let minimum = KernelRelease(major: 5, minor: 13)

    func run() async -> [Finding] {
        if let skip = Finding.cannotRun(on: node) { return [skip] }
        do {
            let kernel = try await node.kernelRelease()
            if kernel < Self.minimum {
                return [.error(
                    "kernel \(kernel) is older than 5.13; kube-proxy in nftables mode requires kernel 5.13 or later",
                    subject: "kernel", remediation: "Upgrade the node's kernel, or keep this node pool on iptables.")]
            }
            return [.note("kernel \(kernel)", subject: "kernel")]
        } catch {
            return [.couldNotRead("the kernel release", error)]
        }
    }
}

/// The host's nft, which operators use to inspect the rules; upstream advises against nftables mode on
/// nodes whose nft is older than 1.0.1.
struct NFTablesVersion: PreflightCheck {
    let name: CheckName = "NFTablesVersion"
    let scope: CheckScope = .node
    let node: any NodeInspector
    static let minimum = ToolVersion([1, 0, 1])

    func run() async -> [Finding] {
        if let skip = Finding.cannotRun(on: node) { return [skip] }
        do {
            guard let version = try await node.toolVersion("nft") else {
                return [.skipped("nft is not installed on this node, so its version cannot be checked")]
            }
            if version < Self.minimum {
                return [.error(
                    "nft \(version) is older than 1.0.1", subject: "nft",
                    remediation: "Upgrade the nftables package to 1.0.1 or later.")]
            }
            return [.note("nft \(version)", subject: "nft")]
        } catch {
            return [.couldNotRead("nft's version", error)]
        }
    }
}

/// Whether the kernel accepts an nftables table, asked through nft's dry run: the transaction reaches the
/// kernel and is rolled back, so nothing is left behind.
struct NFTablesUsable: PreflightCheck {
    let name: CheckName = "NFTablesUsable"
    let scope: CheckScope = .node
    let node: any NodeInspector

    func run() async -> [Finding] {
        if let skip = Finding.cannotRun(on: node, needsPrivilege: true) { return [skip] }
        do {
            guard try await node.toolVersion("nft") != nil else {
                return [.skipped("nft is not installed on this node, so nf_tables cannot be probed")]
            }
            try await node.nftablesDryRun()
            return [.note("the kernel accepted a scratch nftables table (dry run, rolled back)", subject: "nf_tables")]
        } catch {
            return [.error(
                "the kernel refused a scratch nftables table: \(error)", subject: "nf_tables",
                remediation: "Load nf_tables ('modprobe nf_tables') or use a kernel built with CONFIG_NF_TABLES.")]
        }
    }
}
