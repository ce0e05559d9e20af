import Foundation
import NodeState
import Snapshot

/// Takes a node-scope snapshot: every capture source into one bundle, or no bundle at all.
public struct NodeSnapshot: Sendable {
    let host: HostIdentity
    let captures: [any NodeCapture]

    /// The standard sources: iptables per backend and family, kube-proxy's nft tables, ipsets,
    /// sysctls, kube-ipvs0 and (marked as not built) the IPVS table.
    public init(node: any NodeNetfilterAccess, host: HostIdentity, sysctlRoot: String = "/proc/sys") {
        var captures: [any NodeCapture] = IPTablesVariant.all.map { IPTablesCapture(node: node, variant: $0) }
        captures.append(
            ToolCapture(node: node, file: BundleLayout.nftables, program: "nft") { node, fd throws(NodeStateError) in
                try await node.listNFTTables(KubeProxyFootprint.nftables.nftTables, to: fd)
            })
        captures.append(
            ToolCapture(node: node, file: BundleLayout.ipsets, program: "ipset") { node, fd throws(NodeStateError) in
                try await node.saveIPSets(to: fd)
            })
        captures.append(SysctlCapture { Sysctls.read(root: sysctlRoot) })
        captures.append(KubeIPVS0Capture(node: node))
        captures.append(IPVSNotBuiltCapture())
        self.init(host: host, captures: captures)
    }

    init(host: HostIdentity, captures: [any NodeCapture]) {
        self.host = host
        self.captures = captures
    }

    /// Writes `<host>-<UTC time>` under `parent`. Any failed capture discards the whole bundle and
    /// the error names the file that failed.
    public func take(into parent: URL, at time: Date = Date()) async throws(KPSwitchError) -> SnapshotReport {
        try host.requireRoot(for: "A node snapshot")
        let stamp = Self.stamps(time)
        let writer: BundleWriter
        do {
            writer = try BundleWriter(parent: parent, name: "\(host.name)-\(stamp.compact)")
        } catch {
            throw KPSwitchError(error, while: "Creating the snapshot bundle")
        }
        var skipped: [BundleManifest.Skipped] = []
        do {
            for capture in captures {
                skipped += try await capture.capture(into: writer)
            }
            let manifest = try writer.commit(
                header: .init(
                    kpswitchVersion: KPSwitchVersion.current, host: host.name, kernel: host.kernel, scope: "node",
                    createdAt: stamp.rfc3339),
                skipped: skipped)
            return SnapshotReport(bundle: writer.url.path, manifest: manifest)
        } catch let error as KPSwitchError {
            writer.discard()
            throw KPSwitchError(
                status: error.status, message: "Snapshot failed, no bundle was written. \(error.message)",
                remediation: error.remediation, runbook: error.runbook)
        } catch let error as SnapshotError {
            writer.discard()
            throw KPSwitchError(error, while: "Snapshot failed, no bundle was written")
        } catch {
            writer.discard()
            throw KPSwitchError(status: .runtimeError, message: "Snapshot failed, no bundle was written: \(error)")
        }
    }

    static func stamps(_ time: Date) -> (compact: String, rfc3339: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: time)
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        let year = String(format: "%04d", c.year ?? 0)
        let compact = "\(year)\(two(c.month))\(two(c.day))T\(two(c.hour))\(two(c.minute))\(two(c.second))Z"
        let rfc = "\(year)-\(two(c.month))-\(two(c.day))T\(two(c.hour)):\(two(c.minute)):\(two(c.second))Z"
        return (compact, rfc)
    }
}

/// What `kpswitch snapshot` wrote.
public struct SnapshotReport: Report {
    public static let kind = "Snapshot"

    public let bundle: String
    public let manifest: BundleManifest

    private enum CodingKeys: String, CodingKey { case bundle, manifest }
}
