import Foundation
import KubeSim
import Testing

/// The migration's milestones as Events on kube-proxy's DaemonSet, read back with real
/// `kubectl events -n kube-system --for daemonset/kube-proxy`, as an operator would.
@Suite("migration events through kubectl events", .serialized)
struct MigrationEventsTests {
    /// `kubectl events` output as (reason, message) per line, in the order kubectl prints them.
    static func events(_ cluster: MigrateTests.Cluster) throws -> (output: String, rows: [(reason: String, message: String)]) {
        let run = try InstallTests.run("/usr/bin/env", [
            "kubectl", "--kubeconfig", cluster.kubeconfig, "events", "-n", "kube-system", "--for", "daemonset/kube-proxy",
        ])
        #expect(run.status == 0, "\(run.output)")
        // LAST SEEN   TYPE   REASON   OBJECT   MESSAGE
        let rows = run.output.split(separator: "\n").dropFirst().compactMap { line -> (String, String)? in
            let columns = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: true)
            guard columns.count == 5, columns[3].lowercased() == "daemonset/kube-proxy" else { return nil }
            return (String(columns[2]), String(columns[4]))
        }
        return (run.output, rows)
    }

    @Test("a migration that succeeds: planned, each batch started and verified with node counts, finished — in order")
    func succeeded() async throws {
        let cluster = try await MigrateTests.Cluster.start(try MigrateTests.kubeadm())
        let (result, _) = try cluster.kpswitch(["migrate", "--to", "ipvs", "--yes"])
        let (output, rows) = try Self.events(cluster)
        try await cluster.stop()
        #expect(result.status == 0, "\(result.stderr)")
        let reasons = rows.map(\.reason)
        #expect(reasons.first == "MigrationPlanned", "\(output)")
        #expect(reasons.last == "MigrationFinished", "\(output)")
        let batches = reasons.filter { $0 == "BatchStarted" }.count
        #expect(batches >= 2 && reasons.filter { $0 == "BatchVerified" }.count == batches, "\(output)")
        // Each batch is verified before the next starts.
        let middle = reasons.dropFirst().dropLast()
        #expect(Array(middle) == Array(repeating: ["BatchStarted", "BatchVerified"], count: batches).flatMap { $0 }, "\(output)")
        #expect(rows.first?.message.contains("iptables -> ipvs planned") == true, "\(output)")
        #expect(rows.first { $0.reason == "BatchVerified" }?.message.contains("batch 1/") == true, "\(output)")
        #expect(rows.contains { $0.reason == "BatchVerified" && $0.message.contains("nodes verified 5 / total 5") }, "\(output)")
    }

    @Test("a migration rolled back: planned, canary started, verification failed naming the node, rolled back — in order")
    func rolledBack() async throws {
        let cluster = try await MigrateTests.Cluster.start(try MigrateTests.kubeadm(workersIPVS: .absent))
        // Preflight would refuse these nodes first (exit 3); past it, the canary meets them.
        let (result, _) = try cluster.kpswitch(["migrate", "--to", "ipvs", "--yes", "--ignore-preflight-errors", "IPVSKernelSupport"])
        let (output, rows) = try Self.events(cluster)
        try await cluster.stop()
        #expect(result.status == 4, "\(result.stderr)")
        #expect(rows.map(\.reason) == ["MigrationPlanned", "BatchStarted", "VerificationFailed", "RolledBack"], "\(output)")
        let failure = rows.first { $0.reason == "VerificationFailed" }?.message ?? ""
        #expect(failure.contains("worker-1") && failure.contains("ipvs not supported"), "\(output)")
    }
}
