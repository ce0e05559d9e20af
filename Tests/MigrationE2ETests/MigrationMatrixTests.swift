import Foundation
import Testing
@testable import KubeSim

enum Strategy: String, Sendable, CaseIterable {
    case canary
    case rolling

    /// Two batches (the canary, then the rest): the batch count is not what these tests are about.
    var arguments: [String] { self == .canary ? ["--strategy", "canary", "--batches", "1,100%"] : ["--strategy", "rolling"] }
}

/// One cell of issue #11's matrix: a mode pair there and back, with one strategy, on one cluster layout.
struct MatrixCase: Sendable, CustomTestStringConvertible {
    let shape: ClusterShape
    let strategy: Strategy
    let from: String
    let to: String
    var testDescription: String { "\(shape) \(strategy) \(from)→\(to)→\(from)" }

    static let all: [MatrixCase] = ClusterShape.allCases.flatMap { shape in
        Strategy.allCases.flatMap { strategy in
            [("iptables", "ipvs"), ("iptables", "nftables"), ("ipvs", "nftables")].map {
                MatrixCase(shape: shape, strategy: strategy, from: $0.0, to: $0.1)
            }
        }
    }
}

/// Issue #11: iptables→ipvs, iptables→nftables, ipvs→nftables and back, both strategies, kubeadm- and EKS-shaped.
@Suite("migrate there and back", .timeLimit(.minutes(5)))
struct MigrationMatrixTests {
    @Test("succeeds, changing only the mode", arguments: MatrixCase.all)
    func thereAndBack(_ cell: MatrixCase) async throws {
        try await TestCluster.with(cell.shape, try cell.shape.scenario(mode: cell.from)) { cluster in
            try await Self.migrate(cluster, to: cell.to, strategy: cell.strategy)
            try await Self.migrate(cluster, to: cell.from, strategy: cell.strategy)
        }
    }

    @Test("to ipvs with a scheduler and strictARP: those keys change too", arguments: ClusterShape.allCases)
    func ipvsOptions(shape: ClusterShape) async throws {
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables")) { cluster in
            let before = try cluster.kubeProxyObjects()
            let result = try await cluster.kpswitch(["migrate", "--to", "ipvs", "--scheduler", "lc", "--strict-arp", "--yes"]
                                                    + Strategy.canary.arguments + ["--timeout", "2m"])
            try #require(result.status == 0, "\(result)")
            try await cluster.expectMigrated(to: "ipvs", from: before, intendedKeys: ["mode", "ipvs.scheduler", "ipvs.strictARP"],
                                             allowRestart: false)
            let text = try #require(cluster.kubeProxyConfig)
            #expect(text.contains("scheduler: lc") || text.contains("scheduler: \"lc\""), "\(text)")
            #expect(text.contains("strictARP: true"), "\(text)")
        }
    }

    @Test("rollback after a finished migration puts back exactly what was there", arguments: Strategy.allCases)
    func rollbackAfterFinish(strategy: Strategy) async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables")) { cluster in
            let original = try cluster.kubeProxyObjects()
            try await Self.migrate(cluster, to: "nftables", strategy: strategy)
            let rollback = try await cluster.kpswitch(["rollback", "--yes", "--timeout", "2m"])
            try #require(rollback.status == 0, "\(rollback)")
            try await cluster.waitUntilKubeProxyReady()
            try await cluster.expectRestored(original, mode: "iptables")
        }
    }

    static func migrate(_ cluster: TestCluster, to mode: String, strategy: Strategy,
                        sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = try cluster.kubeProxyObjects()
        // Rolling ipvs → iptables cleans the nodes through agents (--cleanup auto is node there), and kube-sim's
        // IPVS table is a read-only view the host's ipvsadm cannot change (the host kernel has no IPVS): the run
        // would end with leftovers (exit 1) on every node. That cleanup is NodeCleanupTests' and the VM's subject.
        let fromIPVS = ["mode: ipvs", "mode: \"ipvs\""].contains { cluster.kubeProxyConfig?.contains($0) == true }
        let readOnlyIPVS = strategy == .rolling && mode == "iptables" && fromIPVS ? ["--cleanup", "none"] : []
        let result = try await cluster.kpswitch(["migrate", "--to", mode, "--yes"] + strategy.arguments + readOnlyIPVS + ["--timeout", "2m"])
        try #require(result.status == 0, "\(cluster.shape) \(strategy) → \(mode): \(result)", sourceLocation: sourceLocation)
        try await cluster.expectMigrated(to: mode, from: before, allowRestart: strategy == .rolling, sourceLocation: sourceLocation)
    }
}
