import Foundation
import NodeState
import Snapshot

/// Puts a node bundle back: ipsets first (rules match on them), then each iptables store from its
/// own file with its own `-restore`. The bundle is verified before anything is touched.
public struct NodeRestore: Sendable {
    let node: any NodeNetfilterAccess
    let host: HostIdentity

    public init(node: any NodeNetfilterAccess, host: HostIdentity) {
        self.node = node
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
        for name in [BundleLayout.ipvsJSON, BundleLayout.ipvsadm] where bundle.contains(name) {
            throw KPSwitchError(
                status: .runtimeError,
                message: "Bundle \(path) holds \(name), and this build cannot restore the IPVS table yet (issue #6); nothing was changed.",
                remediation: "Use a kpswitch build with IPVS support, or restore the table with 'ipvsadm -R < \(BundleLayout.ipvsadm)'.")
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
        // Every file is checked by its own tool before the first change, so a bad file stops the
        // restore while the node is still untouched.
        for variant in variants {
            try await withDescriptor(bundle, BundleLayout.iptables(variant)) { fd throws(NodeStateError) in
                try await node.testIPTables(variant, from: fd)
            }
        }
        if !dryRun {
            if bundle.contains(BundleLayout.ipsets) {
                let saved: String
                do {
                    saved = String(decoding: try bundle.contents(of: BundleLayout.ipsets), as: UTF8.self)
                    try await node.restoreIPSets(saved: saved)
                } catch let error as NodeStateError {
                    throw KPSwitchError(error, while: "Restoring \(BundleLayout.ipsets)")
                } catch {
                    throw KPSwitchError(status: .runtimeError, message: "Restoring \(BundleLayout.ipsets): \(error)")
                }
            }
            for variant in variants {
                try await withDescriptor(bundle, BundleLayout.iptables(variant)) { fd throws(NodeStateError) in
                    try await node.restoreIPTables(variant, from: fd)
                }
            }
        }
        return RestoreReport(bundle: path, host: manifest.host, dryRun: dryRun, steps: steps)
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
