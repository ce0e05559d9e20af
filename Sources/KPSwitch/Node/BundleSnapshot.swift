import Foundation
import NodeState
import Snapshot

/// What a snapshot captures: the node kpswitch runs on, the cluster's kube-proxy objects, or both.
public enum SnapshotScope: String, Sendable {
    case node
    case cluster
    case all

    var includesNode: Bool { self != .cluster }
    var includesCluster: Bool { self != .node }
}

/// Takes a snapshot: every capture source of the scope into one bundle, or no bundle at all.
///
/// `all` is node + cluster and fails, writing nothing, when either part cannot be taken: a bundle
/// missing a part would later pass for a complete record. The error names the part, why, and how to
/// take the other part alone.
public struct BundleSnapshot: Sendable {
    let host: HostIdentity
    let scope: SnapshotScope
    let captures: [any BundleCapture]

    /// The standard sources of `scope`. Cluster: kube-proxy's DaemonSet and ConfigMaps under
    /// `cluster/`. Node: iptables per backend and family, kube-proxy's nft tables, ipsets, sysctls,
    /// kube-ipvs0 and the IPVS table.
    public init(
        scope: SnapshotScope, node: any NodeNetfilterAccess, ipvs: any NodeIPVSAccess, cluster: ClusterAccess,
        host: HostIdentity, sysctlRoot: String = "/proc/sys"
    ) {
        // The cluster first: it is the part that most often cannot be reached, and failing there
        // costs nothing on the node.
        var captures: [any BundleCapture] = []
        if scope.includesCluster {
            captures.append(ClusterCapture(access: cluster))
        }
        if scope.includesNode {
            captures += Self.nodeCaptures(node: node, ipvs: ipvs, sysctlRoot: sysctlRoot)
        }
        self.init(host: host, scope: scope, captures: captures)
    }

    /// A node-scope snapshot.
    public init(
        node: any NodeNetfilterAccess, ipvs: any NodeIPVSAccess, host: HostIdentity, sysctlRoot: String = "/proc/sys"
    ) {
        self.init(host: host, scope: .node, captures: Self.nodeCaptures(node: node, ipvs: ipvs, sysctlRoot: sysctlRoot))
    }

    init(host: HostIdentity, scope: SnapshotScope, captures: [any BundleCapture]) {
        self.host = host
        self.scope = scope
        self.captures = captures
    }

    static func nodeCaptures(
        node: any NodeNetfilterAccess, ipvs: any NodeIPVSAccess, sysctlRoot: String
    ) -> [any BundleCapture] {
        var captures: [any BundleCapture] = IPTablesVariant.all.map { IPTablesCapture(node: node, variant: $0) }
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
        captures.append(IPVSCapture(ipvs: ipvs))
        return captures
    }

    /// Writes `<host>-<UTC time>` under `parent`. Any failed capture discards the whole bundle and
    /// the error names the file that failed.
    public func take(into parent: URL, at time: Date = Date()) async throws(KPSwitchError) -> SnapshotReport {
        if scope.includesNode {
            do {
                try host.requireRoot(for: "A node snapshot")
            } catch {
                throw scope == .all ? Self.partFailed(error, failed: .node) : error
            }
        }
        let stamp = Self.stamps(time)
        let writer: BundleWriter
        do {
            writer = try BundleWriter(parent: parent, name: "\(host.name)-\(stamp.compact)")
        } catch {
            throw KPSwitchError(error, while: "Creating the snapshot bundle")
        }
        var skipped: [BundleManifest.Skipped] = []
        var inCluster = false
        do {
            for capture in captures {
                inCluster = capture is ClusterCapture
                skipped += try await capture.capture(into: writer)
            }
            inCluster = false
            let manifest = try writer.commit(
                header: .init(
                    kpswitchVersion: KPSwitchVersion.current, host: host.name, kernel: host.kernel, scope: scope.rawValue,
                    createdAt: stamp.rfc3339),
                skipped: skipped)
            return SnapshotReport(bundle: writer.url.path, manifest: manifest)
        } catch let error as KPSwitchError {
            writer.discard()
            let stopped = KPSwitchError(
                status: error.status, message: "Snapshot failed, no bundle was written. \(error.message)",
                remediation: error.remediation, runbook: error.runbook)
            guard scope == .all else { throw stopped }
            throw Self.partFailed(stopped, failed: inCluster ? .cluster : .node)
        } catch let error as SnapshotError {
            writer.discard()
            throw KPSwitchError(error, while: "Snapshot failed, no bundle was written")
        } catch {
            writer.discard()
            throw KPSwitchError(status: .runtimeError, message: "Snapshot failed, no bundle was written: \(error)")
        }
    }

    /// `--scope all` failed in one part (`.node` or `.cluster`): say so, and how to take the other alone.
    static func partFailed(_ error: KPSwitchError, failed: SnapshotScope) -> KPSwitchError {
        let other: SnapshotScope = failed == .node ? .cluster : .node
        let how = other == .node ? "as root on the node" : "with a kubeconfig that reaches the cluster"
        return KPSwitchError(
            status: error.status,
            message: "--scope all takes the node and the cluster part, and the \(failed.rawValue) part failed: \(error.message)",
            remediation: [error.remediation, "To take the \(other.rawValue) part alone, run 'kpswitch snapshot --scope \(other.rawValue)' \(how)."]
                .compactMap { $0 }.joined(separator: " "),
            runbook: error.runbook)
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
