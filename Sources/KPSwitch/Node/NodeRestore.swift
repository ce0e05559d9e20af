import Foundation
import IPVS
import NodeState
import Snapshot

/// Puts a node bundle back: ipsets first (rules match on them), then each iptables store from its
/// own file with its own `-restore`, then the IPVS table. The bundle is verified, and every file
/// checked, before anything is touched.
public struct NodeRestore: Sendable {
    let node: any NodeNetfilterAccess
    let ipvs: any NodeIPVSAccess
    let host: HostIdentity

    public init(node: any NodeNetfilterAccess, ipvs: any NodeIPVSAccess, host: HostIdentity) {
        self.node = node
        self.ipvs = ipvs
        self.host = host
    }

    public func run(bundle path: String, force: Bool, dryRun: Bool) async throws(KPSwitchError) -> RestoreReport {
        try host.requireRoot(for: "A node restore")
        let bundle = try SnapshotInspection.open(path)
        try SnapshotInspection.requireIntact(bundle)
        let manifest = bundle.manifest
        guard manifest.scope == "node" || manifest.scope == "all" else {
            throw KPSwitchError(
                status: .usageError, message: "Bundle \(path) has scope \(manifest.scope): it holds no node state.",
                remediation: "Restore a node bundle here; cluster objects are put back by 'kpswitch rollback'.")
        }
        guard manifest.host == host.name || force else {
            throw KPSwitchError(
                status: .runtimeError,
                message: "Bundle \(path) was taken on \(manifest.host), not on this host (\(host.name)).",
                remediation: "Restore it on \(manifest.host), or pass --force if this node really should get its rules.")
        }
        var steps: [RestoreReport.Step] = []
        if bundle.contains(BundleLayout.ipsets) {
            steps.append(.init(file: BundleLayout.ipsets, command: "ipset restore -exist (existing sets flushed first)"))
        }
        let variants = IPTablesVariant.all.filter { bundle.contains(BundleLayout.iptables($0)) }
        for variant in variants {
            guard node.isInstalled(variant.restoreProgram) else {
                throw KPSwitchError(
                    status: .runtimeError,
                    message: "Bundle \(path) holds \(BundleLayout.iptables(variant)), but \(variant.restoreProgram) is not installed; nothing was changed.",
                    remediation: "Install the iptables package that provides \(variant.restoreProgram).")
            }
            steps.append(.init(file: BundleLayout.iptables(variant), command: variant.restoreProgram))
        }
        let ipvsTable = try await ipvsTable(in: bundle)
        if let ipvsTable {
            steps.append(.init(
                file: BundleLayout.ipvsJSON,
                command: "IPVS netlink: \(ipvsTable.entries.count) virtual servers put back (same-key ones replaced, others left alone)"))
        }
        let savedSets: String?
        do {
            savedSets = bundle.contains(BundleLayout.ipsets)
                ? String(decoding: try bundle.contents(of: BundleLayout.ipsets), as: UTF8.self) : nil
        } catch {
            throw KPSwitchError(error, while: "Reading \(BundleLayout.ipsets)")
        }
        // Every file is checked by its own tool before the first change, so a bad file stops the
        // restore while the node is still as it was. iptables-nft-restore --test resolves --match-set
        // against the kernel, so the bundle's sets the node lacks are created empty for the test (no
        // rule references a set that does not exist) and destroyed again unless the restore goes on.
        var created: [String] = []
        do {
            if let savedSets, !variants.isEmpty { created = try await node.createMissingIPSets(saved: savedSets) }
        } catch {
            throw KPSwitchError(error, while: "Creating the bundle's missing ipsets to test the iptables files")
        }
        do {
            for variant in variants {
                try await withDescriptor(bundle, BundleLayout.iptables(variant)) { fd throws(NodeStateError) in
                    try await node.testIPTables(variant, from: fd)
                }
            }
        } catch {
            try await removeSets(created)
            throw error
        }
        if dryRun {
            try await removeSets(created)
        } else {
            if let savedSets {
                do {
                    try await node.restoreIPSets(saved: savedSets)
                } catch {
                    throw KPSwitchError(error, while: "Restoring \(BundleLayout.ipsets)")
                }
            }
            for variant in variants {
                try await withDescriptor(bundle, BundleLayout.iptables(variant)) { fd throws(NodeStateError) in
                    try await node.restoreIPTables(variant, from: fd)
                }
            }
            if let ipvsTable, !ipvsTable.entries.isEmpty {
                do throws(IPVSError) {
                    try await ipvs.put(ipvsTable)
                } catch {
                    throw KPSwitchError(
                        status: .runtimeError, message: "Restoring \(BundleLayout.ipvsJSON): \(error)",
                        remediation: "iptables and ipsets are already restored; fix the cause and run the restore again (it is idempotent).")
                }
            }
        }
        return RestoreReport(bundle: path, host: manifest.host, dryRun: dryRun, steps: steps)
    }

    private func removeSets(_ names: [String]) async throws(KPSwitchError) {
        do {
            try await node.destroyIPSets(names)
        } catch {
            throw KPSwitchError(error, while: "Destroying the empty ipsets created to test the iptables files (\(names.joined(separator: ", ")))")
        }
    }

    /// The bundle's IPVS table, decoded and checked before any change; a non-empty one needs ip_vs
    /// loaded (or built in), which kpswitch does not do by itself.
    private func ipvsTable(in bundle: SnapshotBundle) async throws(KPSwitchError) -> IPVSTable? {
        guard bundle.contains(BundleLayout.ipvsJSON) else { return nil }
        let table: IPVSTable
        do {
            table = try IPVSTableFile.decode(try bundle.contents(of: BundleLayout.ipvsJSON)).table()
        } catch let error as SnapshotError {
            throw KPSwitchError(error, while: "Reading \(BundleLayout.ipvsJSON)")
        } catch {
            throw KPSwitchError(
                status: .runtimeError, message: "Bundle \(bundle.url.path): \(error); nothing was changed.",
                remediation: "Use an intact bundle written by 'kpswitch snapshot'.")
        }
        guard !table.entries.isEmpty else { return table }
        let state: ModuleState
        do {
            state = try await ipvs.moduleState()
        } catch {
            throw KPSwitchError(error, while: "Reading the kernel's module lists")
        }
        guard state == .loaded || state == .builtin else {
            throw KPSwitchError(
                status: .runtimeError,
                message: "Bundle \(bundle.url.path) holds \(table.entries.count) IPVS virtual servers, but ip_vs is \(state == .absent ? "not in this kernel" : "not loaded"); nothing was changed.",
                remediation: "Load IPVS with its schedulers (modprobe ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh) and run the restore again.",
                runbook: Runbook(file: "preflight.md", anchor: "ipvskernelsupport"))
        }
        return table
    }

    private func withDescriptor(
        _ bundle: SnapshotBundle, _ name: String, _ body: (Int32) async throws(NodeStateError) -> Void
    ) async throws(KPSwitchError) {
        let descriptor = open(bundle.url.appendingPathComponent(name).path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw KPSwitchError(
                status: .runtimeError, message: "Cannot open \(name) in \(bundle.url.path): \(String(cString: strerror(errno))).",
                remediation: "Run as root; the bundle's files are 0600.")
        }
        defer { close(descriptor) }
        do {
            try await body(descriptor)
        } catch {
            throw KPSwitchError(error, while: "Restoring \(name)")
        }
    }
}

/// What `kpswitch restore` did, or would do with `--dry-run`.
public struct RestoreReport: Report {
    public static let kind = "Restore"

    public struct Step: Encodable, Sendable {
        public let file: String
        public let command: String

        private enum CodingKeys: String, CodingKey { case file, command }
    }

    public let bundle: String
    public let host: String
    public let dryRun: Bool
    public let steps: [Step]

    private enum CodingKeys: String, CodingKey { case bundle, host, dryRun, steps }
}
