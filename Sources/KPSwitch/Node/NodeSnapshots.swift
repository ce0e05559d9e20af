import Foundation
import KubeAPI
import Logging

/// Every kube-proxy node's bundle, written on that node by its agent pod into
/// `/var/lib/kpswitch/snapshots/<id>/`; what comes back (file sizes, lines, counts) is kept in the ConfigMap
/// `kpswitch-snapshot-<id>`, or in the migration record. A node whose agent could not run is listed as not
/// snapshotted with the reason, never passed.
public struct NodeSnapshots: Sendable {
    public static let configMapPrefix = "kpswitch-snapshot-"
    /// The ConfigMap key holding `NodeSnapshotReport` as JSON.
    static let dataKey = "nodes.json"
    /// What `--ignore-preflight-errors` names to migrate past nodes without a bundle (Runbooks/preflight.md).
    public static let checkName: CheckName = "NodeSnapshot"

    let options: NodeAgentOptions

    public init(options: NodeAgentOptions) {
        self.options = options
    }

    /// `YYYYMMDD-HHMMSS-xxxx` (UTC): sorts by time, is a ConfigMap name's suffix and a directory name.
    static func newID(at time: Date = Date()) -> String {
        let stamp = BundleSnapshot.stamps(time).compact.lowercased()
        let digits = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        let suffix = String((0..<4).map { _ in digits.randomElement() ?? "0" })
        return "\(stamp.prefix(8))-\(stamp.dropFirst(9).prefix(6))-\(suffix)"
    }

    /// `kpswitch snapshot --scope nodes`: runs the agents and stores their reports in a ConfigMap.
    public func take(cluster access: ClusterAccess) async throws(KPSwitchError) -> NodeSnapshotReport {
        let options = options
        return try await access.withClient(logger: Logger(label: "kpswitch.snapshot")) { client in
            let report = await Self.take(
                survey: ClusterSurvey(client: client, namespace: access.namespace), options: options, id: Self.newID())
            try await Self.store(report, client: client, namespace: access.namespace)
            return report
        }
    }

    /// The agents' run for one id; a migration's back-up step records the result itself.
    /// - Parameter keptIn: the ConfigMap that will hold the report (`kpswitch-state` for a migration).
    ///   - only: the nodes to run agents on (a retry); the others are reported as not run.
    static func take(
        survey: ClusterSurvey, options: NodeAgentOptions, id: String, keptIn: String? = nil, only: Set<String>? = nil
    ) async -> NodeSnapshotReport {
        let createdAt = Timestamp.rfc3339(Date())
        let nodes: [NodeSnapshotReport.Node]
        var note: String?
        switch await NodeAgents(survey: survey, options: options, snapshot: id, only: only).gather() {
        case .notRun(let reason, let names):
            nodes = (names ?? []).map { .init(node: $0, reason: reason) }
            if names == nil { note = reason }
        case .ran(let names, let results, let leftOut):
            note = leftOut
            nodes = names.map { name in
                switch results[name] {
                case .success(let agent)?:
                    switch agent.snapshot {
                    case .success(let bundle)?: return .init(node: name, bundle: bundle)
                    case .failure(let error)?: return .init(node: name, reason: "its agent wrote no bundle: \(error.description)")
                    case nil: return .init(node: name, reason: "its agent was not asked for a bundle")
                    }
                case .failure(let failure)?: return .init(node: name, reason: "its agent could not run: \(failure.reason)")
                case nil: return .init(node: name, reason: "its agent could not run: no result")
                }
            }
        }
        return NodeSnapshotReport(
            id: id, namespace: survey.namespace, configMap: keptIn ?? configMapPrefix + id, createdAt: createdAt, nodes: nodes,
            note: note)
    }

    static func store(_ report: NodeSnapshotReport, client: KubeClient, namespace: String) async throws {
        var configMap = ConfigMap(name: report.configMap, namespace: namespace)
        configMap.labels = [NodeAgentPod.managedByLabel: NodeAgentPod.managedBy]
        configMap.data = [dataKey: try report.encoded()]
        _ = try await client.create(configMap)
    }

    /// `kpswitch snapshot show ID`: the stored reports of a node snapshot, from its ConfigMap or the migration record.
    public static func show(id: String, cluster access: ClusterAccess) async throws(KPSwitchError) -> NodeSnapshotReport {
        let name = id.hasPrefix(configMapPrefix) ? id : configMapPrefix + id
        return try await access.withClient(logger: Logger(label: "kpswitch.snapshot")) { client in
            let configMap: ConfigMap
            do {
                configMap = try await client.get(ConfigMap.self, name: name, namespace: access.namespace)
            } catch let error as KubeAPIError where error.kind == .notFound {
                // migrate's back-up step keeps its snapshot in the migration record instead.
                if let recorded = try await MigrationRunner.readState(client: client, namespace: access.namespace)?.0.nodeSnapshot,
                    recorded.id == id || configMapPrefix + recorded.id == id, let report = recorded.report
                {
                    return report
                }
                throw KPSwitchError(
                    status: .runtimeError, message: "No node snapshot '\(id)': ConfigMap \(access.namespace)/\(name) does not exist.",
                    remediation: "List them with 'kubectl get configmaps -n \(access.namespace) -l \(NodeAgentPod.managedByLabel)=\(NodeAgentPod.managedBy)'; a bundle directory is shown by its path.")
            }
            guard let json = configMap.data[dataKey], let report = try? NodeSnapshotReport.decoded(json) else {
                throw KPSwitchError(
                    status: .runtimeError, message: "ConfigMap \(access.namespace)/\(name) holds no node snapshot report (key \(dataKey)).",
                    remediation: "It was not written by 'kpswitch snapshot --scope nodes'; take a new snapshot.")
            }
            return report
        }
    }
}

/// `snapshot --scope nodes` and `snapshot show ID`: per node, the files its bundle holds or why it has none.
public struct NodeSnapshotReport: Report, Codable, Equatable {
    public static let kind = "NodeSnapshot"

    public struct Node: Codable, Equatable, Sendable {
        public let node: String
        public let snapshotted: Bool
        /// Why the node has no bundle; nil when it has one.
        public let reason: String?
        public let bundle: NodeBundleReport?

        init(node: String, bundle: NodeBundleReport) {
            self.node = node
            snapshotted = true
            reason = nil
            self.bundle = bundle
        }

        init(node: String, reason: String) {
            self.node = node
            snapshotted = false
            self.reason = reason
            bundle = nil
        }

        private enum CodingKeys: String, CodingKey { case node, snapshotted, reason, bundle }
    }

    public let id: String
    public let namespace: String
    public let configMap: String
    public let createdAt: String
    public let nodes: [Node]
    /// Nodes left out (Windows, not selected), or why no node could be listed.
    public let note: String?

    /// The nodes without a bundle: the command exits 1 when there is any.
    public var notSnapshotted: [Node] { nodes.filter { !$0.snapshotted } }

    private enum CodingKeys: String, CodingKey { case id, namespace, configMap, createdAt, nodes, note }

    /// This report with `retry`'s bundles for the nodes that had none.
    func merging(_ retry: NodeSnapshotReport) -> NodeSnapshotReport {
        let retried = Dictionary(retry.nodes.map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
        let merged = nodes.map { node in node.snapshotted ? node : retried[node.node].flatMap { $0.snapshotted ? $0 : nil } ?? node }
        return NodeSnapshotReport(id: id, namespace: namespace, configMap: configMap, createdAt: createdAt, nodes: merged, note: note)
    }

    func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    static func decoded(_ json: String) throws -> NodeSnapshotReport {
        try JSONDecoder().decode(NodeSnapshotReport.self, from: Data(json.utf8))
    }
}
