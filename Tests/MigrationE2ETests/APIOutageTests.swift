import Foundation
import Testing
@testable import KubeSim

/// Where in a run the API server goes away.
enum OutageMoment: String, Sendable, CaseIterable {
    /// While the canary batch's pods are replaced and verified.
    case canaryBatch = "canary batch"
    /// While the first final batch's pods are replaced from the original template (the final rollout is
    /// kpswitch's own batches: the DaemonSet points back at the original ConfigMap, still OnDelete).
    case finalRollout = "final rollout"
    /// While `kpswitch rollback` puts the originals back after a finished migration.
    case rollback

    /// Whether `kpswitch-state`'s data shows the run at this moment, its step just recorded as acting.
    func matches(_ data: [String: String]) -> Bool {
        guard data["stepState"] == "acting", let step = data["step"] else { return false }
        switch self {
        case .canaryBatch: return data["phase"] == "migrating" && step == "replacing kube-proxy on 1 node(s) (batch 1)"
        case .finalRollout:
            return data["phase"] == "migrating" && step.hasPrefix("replacing kube-proxy on")
                && (data["history"] ?? "").contains("completed: pointing the DaemonSet back at the original ConfigMap")
        case .rollback: return data["phase"] == "rollingBack" && step.hasPrefix("restoring the original")
        }
    }
}

struct OutageCase: Sendable, CustomTestStringConvertible {
    let kind: FaultInjector.Outage
    let moment: OutageMoment
    let window: Duration
    /// `--request-timeout`: shortened so that a hung request gives up within a short window; nil keeps 30 s.
    let requestTimeout: String?

    var testDescription: String { "\(kind.rawValue) for \(window) during the \(moment.rawValue)" }

    var timeoutArguments: [String] { requestTimeout.map { ["--request-timeout", $0] } ?? [] }

    /// Every kind at every moment for 8 s, and the case at full length: the API server frozen for 40 s
    /// during the canary batch with the default 30 s request timeout.
    static let all: [OutageCase] =
        FaultInjector.Outage.allCases.flatMap { kind in
            OutageMoment.allCases.map { OutageCase(kind: kind, moment: $0, window: .seconds(8), requestTimeout: "10s") }
        } + [OutageCase(kind: .hang, moment: .canaryBatch, window: .seconds(40), requestTimeout: nil)]
}

extension TestCluster {
    /// Starts an outage of `kind` for `window` the first time the record matches `moment`; the returned box holds
    /// the moment it began.
    func outage(
        _ kind: FaultInjector.Outage, for window: Duration, at moment: OutageMoment
    ) -> Locked<ContinuousClock.Instant?> {
        let began = Locked<ContinuousClock.Instant?>(nil)
        onStateWrite { [sim] data in
            guard moment.matches(data), began.withLock({ start in
                guard start == nil else { return false }
                start = .now
                return true
            }) else { return }
            sim.startOutage(kind, for: window)
        }
        return began
    }

    /// Waits until an outage that began at `began` is over.
    func waitOut(_ began: ContinuousClock.Instant?, window: Duration) async throws {
        guard let began else { return }
        let end = began + window + .milliseconds(500)
        if end > .now { try await Task.sleep(until: end, clock: .continuous) }
    }
}

/// Issue #19: the API server away for a while is a pause, not a failed migration.
@Suite("API server outages", .timeLimit(.minutes(6)))
struct APIOutageTests {
    static let migrate = ["migrate", "--to", "nftables", "--yes", "--timeout", "3m"] + Strategy.canary.arguments

    static func expectPaused(_ result: KPSwitchProcess.Result, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.stdout.contains("waiting; the migration is paused, nothing is rolled back")
                && result.stdout.contains("API server unreachable for") && result.stdout.contains("API server answers again"),
                "the progress does not show the pause:\n\(result)", sourceLocation: sourceLocation)
        #expect(!result.stdout.contains("rolling back:"), "\(result)", sourceLocation: sourceLocation)
    }

    @Test("the run pauses and completes as if undisturbed", arguments: OutageCase.all)
    func pauses(_ outage: OutageCase) async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", workers: 1)) { cluster in
            let original = try cluster.kubeProxyObjects()
            let began = cluster.outage(outage.kind, for: outage.window, at: outage.moment)
            let migrated = try await cluster.kpswitch(Self.migrate + outage.timeoutArguments)
            try #require(migrated.status == 0, "\(migrated)")
            guard outage.moment == .rollback else {
                try #require(began.value != nil, "the outage never began: \(migrated)")
                Self.expectPaused(migrated)
                try await cluster.expectMigrated(to: "nftables", from: original, allowRestart: false)
                return
            }
            let rolledBack = try await cluster.kpswitch(["rollback", "--yes", "--timeout", "3m"] + outage.timeoutArguments)
            try #require(began.value != nil, "the outage never began: \(rolledBack)")
            try #require(rolledBack.status == 0, "\(rolledBack)")
            Self.expectPaused(rolledBack)
            try await cluster.waitUntilKubeProxyReady()
            try await cluster.expectRestored(original, mode: "iptables", allowRestart: true)
        }
    }

    enum Finish: String, Sendable, CaseIterable { case resume, rollback }

    @Test("an outage longer than --api-unavailable-timeout stops with exit 5, and a later run finishes", arguments: Finish.allCases)
    func givesUp(_ finish: Finish) async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", workers: 1)) { cluster in
            let original = try cluster.kubeProxyObjects()
            let window = Duration.seconds(25)
            let began = cluster.outage(.refuse, for: window, at: .canaryBatch)
            let limit = Duration.seconds(6)
            let stopped = try await cluster.kpswitch(
                Self.migrate + ["--request-timeout", "10s", "--api-unavailable-timeout", "6s"])
            let ended = ContinuousClock.now
            let start = try #require(began.value, "the outage never began: \(stopped)")
            #expect(stopped.status == 5, "\(stopped)")
            // The limit, one retry interval (5 s), and the process' exit under load.
            #expect(ended - start <= limit + .seconds(5) + .seconds(3), "stopped \(ended - start) after the outage began: \(stopped)")
            let message = stopped.stdout + stopped.stderr
            #expect(message.contains("unreachable for 6s") && message.contains("kpswitch migrate --resume")
                    && message.contains("kpswitch rollback") && message.contains("replacing kube-proxy on 1 node(s) (batch 1)"),
                    "\(stopped)")
            #expect(!message.contains("rolling back:"), "\(stopped)")
            #expect(cluster.state?["phase"] == "migrating" && cluster.state?["stepState"] == "acting"
                    && cluster.state?["step"] == "replacing kube-proxy on 1 node(s) (batch 1)", "\(cluster.state ?? [:])")

            try await cluster.waitOut(start, window: window)
            switch finish {
            case .resume:
                let resumed = try await cluster.kpswitch(["migrate", "--resume", "--yes", "--timeout", "2m"])
                try #require(resumed.status == 0, "\(resumed)")
                try await cluster.expectMigrated(to: "nftables", from: original, allowRestart: false)
            case .rollback:
                let rolledBack = try await cluster.kpswitch(["rollback", "--yes", "--timeout", "2m"])
                try #require(rolledBack.status == 0, "\(rolledBack)")
                try await cluster.waitUntilKubeProxyReady()
                try await cluster.expectRestored(original, mode: "iptables", allowRestart: false)
            }
        }
    }

    @Test("a frozen API server while the canary batch waits on its watches: the pause is printed, the watches are opened again after it")
    func hangWhileWatching() async throws {
        let shape = ClusterShape.kubeadm
        var scenario = try shape.scenario(mode: "iptables", workers: 1)
        // The new pod takes longer to start than the outage waits, so the verify step is on its watches.
        scenario.podStartDelay = .seconds(3)
        try await TestCluster.with(shape, scenario) { cluster in
            let original = try cluster.kubeProxyObjects()
            let window = Duration.seconds(8)
            let began = Locked<ContinuousClock.Instant?>(nil)
            cluster.onStateWrite { [sim = cluster.sim] data in
                guard data["stepState"] == "acting", data["step"] == "verifying nftables on 1 node(s) (batch 1)",
                    began.withLock({ start in
                        guard start == nil else { return false }
                        start = .now
                        return true
                    })
                else { return }
                // After the step has listed and opened its watches.
                Task {
                    try await Task.sleep(for: .milliseconds(700))
                    sim.startOutage(.hang, for: window)
                }
            }
            // --timeout 90s: a watch reconnect left hanging would outlast it and the run would roll back.
            let migrated = try await cluster.kpswitch(
                ["migrate", "--to", "nftables", "--yes", "--timeout", "90s", "--request-timeout", "4s"] + Strategy.canary.arguments)
            try #require(began.value != nil, "the verify step of batch 1 never began: \(migrated)")
            try #require(migrated.status == 0, "\(migrated)")
            Self.expectPaused(migrated)
            try await cluster.expectMigrated(to: "nftables", from: original, allowRestart: false)
        }
    }

    @Test("a Lease taken by another process during the outage stops the run before its next write")
    func leaseTaken() async throws {
        let shape = ClusterShape.kubeadm
        try await TestCluster.with(shape, try shape.scenario(mode: "iptables", workers: 1)) { cluster in
            let window = Duration.seconds(8)
            let other = "colleague@bastion/pid-4242"
            let began = cluster.outage(.unavailable, for: window, at: .canaryBatch)
            let process = try cluster.startKPSwitch(Self.migrate + ["--request-timeout", "10s"])
            // The other process takes the Lease while kpswitch cannot reach the server (as after an expiry).
            let takeover = Task { () throws -> (state: Int, objects: KubeProxyObjects) in
                while began.value == nil { try await Task.sleep(for: .milliseconds(20)) }
                try await Task.sleep(for: .seconds(2))
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.timeZone = TimeZone(identifier: "UTC")
                formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
                let now = formatter.string(from: Date())
                try cluster.edit(.leases, "kpswitch") { lease in
                    lease[path: ["spec", "holderIdentity"]] = .string(other)
                    lease[path: ["spec", "acquireTime"]] = .string(now)
                    lease[path: ["spec", "renewTime"]] = .string(now)
                    lease[path: ["spec", "leaseDurationSeconds"]] = .int(3600)
                }
                return (cluster.versions(ofConfigMap: "kpswitch-state").count, try cluster.kubeProxyObjects())
            }
            let result = await process.wait()
            let taken = try await takeover.value
            #expect(result.status == 1, "\(result)")
            #expect((result.stdout + result.stderr).contains("held by \(other)"), "\(result)")
            #expect(cluster.lease?[path: ["spec", "holderIdentity"]]?.stringValue == other, "\(cluster.lease ?? .null)")
            #expect(cluster.versions(ofConfigMap: "kpswitch-state").count == taken.state, "kpswitch wrote its record after losing the Lease")
            let now = try cluster.kubeProxyObjects()
            #expect(now.configMap == taken.objects.configMap)
            #expect(now.daemonSet[path: ["spec"]] == taken.objects.daemonSet[path: ["spec"]])
        }
    }
}
