import Foundation
import IPVS
import NodeState
import Snapshot

/// One source of a snapshot bundle (node or cluster). Each writes its own bundle files or says why
/// it did not, so new sources slot in without touching the others.
protocol BundleCapture: Sendable {
    /// The bundle files this source is responsible for, for naming it in errors and skips.
    var files: [String] { get }
    /// Writes the files, or returns why not; throws only when the capture itself failed.
    func capture(into writer: BundleWriter) async throws(KPSwitchError) -> [BundleManifest.Skipped]
}

/// `<variant>-save`, streamed straight into the bundle; a store without tables leaves no file.
struct IPTablesCapture: BundleCapture {
    let node: any NodeNetfilterAccess
    let variant: IPTablesVariant

    var files: [String] { [BundleLayout.iptables(variant)] }

    func capture(into writer: BundleWriter) async throws(KPSwitchError) -> [BundleManifest.Skipped] {
        let name = BundleLayout.iptables(variant)
        guard node.isInstalled(variant.saveProgram) else {
            return [.init(name: name, reason: "\(variant.saveProgram) is not installed")]
        }
        let size: Int
        do {
            size = try await writer.withFile(name) { descriptor in
                try await node.saveIPTables(variant, to: descriptor)
                var info = stat()
                fstat(descriptor, &info)
                return Int(info.st_size)
            }
            if size == 0 { try writer.remove(name) }
        } catch let error as NodeStateError {
            throw KPSwitchError(error, while: "capturing \(name)")
        } catch let error as SnapshotError {
            throw KPSwitchError(error, while: "capturing \(name)")
        } catch {
            throw KPSwitchError(status: .runtimeError, message: "capturing \(name): \(error)")
        }
        return size == 0 ? [.init(name: name, reason: "no \(variant) tables on this node")] : []
    }
}

/// A whole-text capture from one tool (`nft list ruleset`, `ipset save`); an empty file is a fact.
struct ToolCapture: BundleCapture {
    let node: any NodeNetfilterAccess
    let file: String
    let program: String
    let save: @Sendable (any NodeNetfilterAccess, Int32) async throws(NodeStateError) -> Void

    var files: [String] { [file] }

    func capture(into writer: BundleWriter) async throws(KPSwitchError) -> [BundleManifest.Skipped] {
        guard node.isInstalled(program) else { return [.init(name: file, reason: "\(program) is not installed")] }
        do {
            try await writer.withFile(file) { descriptor in try await save(node, descriptor) }
        } catch let error as NodeStateError {
            throw KPSwitchError(error, while: "capturing \(file)")
        } catch let error as SnapshotError {
            throw KPSwitchError(error, while: "capturing \(file)")
        } catch {
            throw KPSwitchError(status: .runtimeError, message: "capturing \(file): \(error)")
        }
        return []
    }
}

/// The sysctls kube-proxy changes, as JSON (`null` for a key the kernel lacks).
struct SysctlCapture: BundleCapture {
    let read: @Sendable () -> [String: String?]

    var files: [String] { [BundleLayout.sysctls] }

    func capture(into writer: BundleWriter) async throws(KPSwitchError) -> [BundleManifest.Skipped] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try writer.write(BundleLayout.sysctls, contents: try encoder.encode(read()) + Data("\n".utf8))
        } catch let error as SnapshotError {
            throw KPSwitchError(error, while: "capturing \(BundleLayout.sysctls)")
        } catch {
            throw KPSwitchError(status: .runtimeError, message: "encoding \(BundleLayout.sysctls): \(error)")
        }
        return []
    }
}

/// `ip -json addr show dev kube-ipvs0`: the service IPs IPVS mode binds on the node.
struct KubeIPVS0Capture: BundleCapture {
    let node: any NodeNetfilterAccess

    var files: [String] { [BundleLayout.kubeIPVS0] }

    func capture(into writer: BundleWriter) async throws(KPSwitchError) -> [BundleManifest.Skipped] {
        do {
            guard let json = try await node.linkAddressesJSON("kube-ipvs0") else {
                return [.init(name: BundleLayout.kubeIPVS0, reason: "no kube-ipvs0 link on this node")]
            }
            try writer.write(BundleLayout.kubeIPVS0, contents: Data(json.utf8))
        } catch let error as NodeStateError {
            throw KPSwitchError(error, while: "capturing \(BundleLayout.kubeIPVS0)")
        } catch let error as SnapshotError {
            throw KPSwitchError(error, while: "capturing \(BundleLayout.kubeIPVS0)")
        } catch {
            throw KPSwitchError(status: .runtimeError, message: "capturing \(BundleLayout.kubeIPVS0): \(error)")
        }
        return []
    }
}

/// The IPVS table over generic netlink: `ipvs.json` (what restore puts back) and `ipvsadm.rules`
/// (the same table as `ipvsadm -S -n` text, which `ipvsadm -R` also accepts).
struct IPVSCapture: BundleCapture {
    let ipvs: any NodeIPVSAccess

    var files: [String] { [BundleLayout.ipvsJSON, BundleLayout.ipvsadm] }

    func capture(into writer: BundleWriter) async throws(KPSwitchError) -> [BundleManifest.Skipped] {
        let state: ModuleState
        do {
            state = try await ipvs.moduleState()
        } catch {
            throw KPSwitchError(error, while: "capturing \(BundleLayout.ipvsJSON) (reading the kernel's module lists)")
        }
        switch state {
        case .loaded, .builtin:
            break
        case .loadable:
            return skip("ip_vs is not loaded, so there is no IPVS table (kpswitch does not load it to look)")
        case .absent:
            return skip("this kernel has no ip_vs, so there is no IPVS table")
        }
        let table: IPVSTable
        do throws(IPVSError) {
            table = try await ipvs.table()
        } catch .unavailable(let reason) {
            return skip("no IPVS netlink family: \(reason)")
        } catch {
            throw KPSwitchError(status: .runtimeError, message: "capturing \(BundleLayout.ipvsJSON): \(error)")
        }
        do {
            try writer.write(BundleLayout.ipvsJSON, contents: try IPVSTableFile(table).encoded())
            try writer.write(BundleLayout.ipvsadm, contents: Data(IPVSSaveFormat.render(table).utf8))
        } catch let error as SnapshotError {
            throw KPSwitchError(error, while: "capturing \(error.file ?? BundleLayout.ipvsJSON)")
        } catch {
            throw KPSwitchError(status: .runtimeError, message: "capturing \(error)")
        }
        return []
    }

    private func skip(_ reason: String) -> [BundleManifest.Skipped] {
        files.map { .init(name: $0, reason: reason) }
    }
}
