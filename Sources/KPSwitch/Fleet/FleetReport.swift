import KubeAPI
import Logging
import ProxyConfig

/// `status --all-contexts` and `advise --all-contexts`: one row per kubeconfig context, so a platform team sees
/// at once which clusters run which mode; a cluster that cannot be read is a row saying why.
public struct FleetReport: Report {
    public static let kind = "FleetStatus"

    public struct Row: Encodable, Sendable {
        public let context: String
        /// The API server's URL, as the context names it.
        public let cluster: String
        public let kubernetesVersion: String?
        public let configuredMode: String?
        /// Nodes per mode seen in kube-proxy's logs (`unknown` for pods with no start-up line yet).
        public let observedModes: [String: Int]
        /// `migrating` or `rollingBack` with the batch reached; nil when no migration is in progress.
        public let migration: String?
        public let recommendedMode: ProxyMode?
        /// Why the cluster could not be read; nil when it could.
        public let error: String?

        private enum CodingKeys: String, CodingKey {
            case context, cluster, kubernetesVersion, configuredMode, observedModes, migration, recommendedMode, error
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(context, forKey: .context)
            try container.encode(cluster, forKey: .cluster)
            // Always present, null when unknown, so every row has the same shape.
            try container.encode(kubernetesVersion, forKey: .kubernetesVersion)
            try container.encode(configuredMode, forKey: .configuredMode)
            try container.encode(observedModes, forKey: .observedModes)
            try container.encode(migration, forKey: .migration)
            try container.encode(recommendedMode, forKey: .recommendedMode)
            try container.encode(error, forKey: .error)
        }
    }

    public let timeoutSeconds: Int
    public let rows: [Row]

    private enum CodingKeys: String, CodingKey { case timeoutSeconds, rows }
}

/// Reads every context of a kubeconfig concurrently, each bounded by its own timeout.
public enum FleetSurvey {
    /// `access` gives the kubeconfig and the options every context shares; its own context is not used.
    public static func survey(
        _ access: ClusterAccess, timeout: Duration, logger: Logger = Logger(label: "kpswitch.fleet")
    ) async throws(KPSwitchError) -> FleetReport {
        let contexts: [String]
        do {
            contexts = try KubeConfig.contextNames(kubeconfig: access.kubeconfig)
        } catch {
            throw KPSwitchError(error)
        }
        let rows = await withTaskGroup(of: FleetReport.Row.self) { group in
            for context in contexts {
                let access = ClusterAccess(
                    kubeconfig: access.kubeconfig, context: context, namespace: access.namespace,
                    requestTimeout: access.requestTimeout, verbosity: access.verbosity)
                group.addTask { await row(access, context: context, timeout: timeout, logger: logger) }
            }
            var rows: [FleetReport.Row] = []
            for await row in group { rows.append(row) }
            return rows
        }
        let order = Dictionary(uniqueKeysWithValues: contexts.enumerated().map { ($1, $0) })
        return FleetReport(
            timeoutSeconds: Int(timeout.components.seconds),
            rows: rows.sorted { order[$0.context, default: 0] < order[$1.context, default: 0] })
    }

    /// One context's row: the survey and a timer race, and the loser is cancelled (requests honour cancellation).
    static func row(_ access: ClusterAccess, context: String, timeout: Duration, logger: Logger) async -> FleetReport.Row {
        let server: String
        do {
            server = try KubeConfig.load(kubeconfig: access.kubeconfig, context: context).server
        } catch {
            return unreadable(context, cluster: "", error.description)
        }
        let result = await withTaskGroup(of: Result<FleetReport.Row, KPSwitchError>?.self) { group in
            group.addTask {
                do throws(KPSwitchError) {
                    return .success(try await read(access, context: context, server: server, logger: logger))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                // A cancelled timer means the survey finished first.
                do { try await Task.sleep(for: timeout) } catch { return nil }
                return .failure(KPSwitchError(
                    status: .runtimeError, message: "no answer within \(timeout.components.seconds)s (--context-timeout)."))
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        switch result {
        case .success(let row): return row
        case .failure(let error): return unreadable(context, cluster: server, error.message)
        case nil: return unreadable(context, cluster: server, "the survey was cancelled.")
        }
    }

    private static func read(_ access: ClusterAccess, context: String, server: String, logger: Logger) async throws(KPSwitchError) -> FleetReport.Row {
        let advice = try await Advisor.advise(access, logger: logger)
        let status = try await MigrationEngine(access: access, logger: logger, progress: { _ in }).status()
        var observed: [String: Int] = [:]
        for node in status.nodes { observed[node.observedMode, default: 0] += 1 }
        let migration = status.migration.flatMap { migration in
            migration.phase == "finished" ? nil
                : "\(migration.phase) \(migration.from.rawValue)->\(migration.to.rawValue), batch \(migration.batch)/\(migration.batches)"
        }
        return FleetReport.Row(
            context: context, cluster: server, kubernetesVersion: advice.facts.kubernetesVersion.description,
            configuredMode: status.configuredMode, observedModes: observed, migration: migration,
            recommendedMode: advice.recommended, error: nil)
    }

    private static func unreadable(_ context: String, cluster: String, _ message: String) -> FleetReport.Row {
        FleetReport.Row(
            context: context, cluster: cluster, kubernetesVersion: nil, configuredMode: nil, observedModes: [:],
            migration: nil, recommendedMode: nil, error: message)
    }
}
