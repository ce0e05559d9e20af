import Foundation
import KubeAPI
import Testing
@testable import KPSwitch

/// The pure parts of the migration adapter: node verdicts, the Lease rule, the DaemonSet edits, the plan's
/// diff, the recorded state and the progress line.
@Suite("migration step logic")
struct MigrationStepLogicTests {
    static func pod(ready: Bool, restarts: Int = 0, waiting: String? = nil, terminated: String? = nil) -> Pod {
        var status: JSONValue = ["name": "kube-proxy", "restartCount": .int(Int64(restarts)), "state": ["running": [:]]]
        if let waiting { status["state"] = ["waiting": ["reason": .string(waiting)]] }
        if let terminated { status["lastState"] = ["terminated": ["exitCode": 1, "message": .string(terminated)]] }
        return Pod(json: [
            "metadata": ["name": "kube-proxy-abc"],
            "spec": ["nodeName": "worker-1"],
            "status": [
                "phase": "Running",
                "conditions": [["type": "Ready", "status": ready ? "True" : "False"]],
                "containerStatuses": [status],
            ],
        ])
    }

    static let ipvsLog = """
        I0525 03:22:43.627302       1 server_linux.go:194] "Using ipvs Proxier"
        E0525 03:22:43.627400       1 server_linux.go:200] "The ipvs proxier is now deprecated and may be removed in a future release. Please use 'nftables' instead."
        """

    @Test("Ready, no restarts and the start-up line: verified")
    func verified() {
        #expect(NodeVerdict.judge(pod: Self.pod(ready: true), container: "kube-proxy", mode: .ipvs, log: Self.ipvsLog) == .verified)
    }

    @Test("a crash-looping pod fails at once, with kube-proxy's error")
    func crashLoop() {
        let verdict = NodeVerdict.judge(
            pod: Self.pod(ready: false, waiting: "CrashLoopBackOff", terminated: "can't use the IPVS proxier: ipvs not supported"),
            container: "kube-proxy", mode: .ipvs, log: nil)
        guard case .failed(let reason) = verdict else {
            Issue.record("expected a failure, got \(verdict)")
            return
        }
        #expect(reason.contains("worker-1") && reason.contains("ipvs not supported"))
    }

    @Test("a restart counts as a failure even when the pod is Ready again")
    func restarted() {
        #expect(NodeVerdict.judge(pod: Self.pod(ready: true, restarts: 1), container: "kube-proxy", mode: .ipvs, log: Self.ipvsLog) != .verified)
    }

    @Test("not Ready yet, or Ready without the line yet: pending")
    func pending() {
        guard case .pending = NodeVerdict.judge(pod: Self.pod(ready: false, waiting: "ContainerCreating"), container: "kube-proxy", mode: .ipvs, log: nil),
            case .pending = NodeVerdict.judge(pod: Self.pod(ready: true), container: "kube-proxy", mode: .ipvs, log: "I0101 starting\n")
        else {
            Issue.record("expected pending")
            return
        }
    }

    @Test("Ready in the wrong mode fails, naming both")
    func wrongMode() {
        #expect(NodeVerdict.judge(pod: Self.pod(ready: true), container: "kube-proxy", mode: .nftables, log: Self.ipvsLog)
            == .failed("node worker-1: pod kube-proxy-abc runs ipvs, not nftables"))
    }

    @Test("log lines by version", arguments: [
        ("I1 server_linux.go] \"Using iptables Proxier\"", ProxyMode?.some(.iptables)),
        ("I1 server.go] Using iptables Proxier.", .some(.iptables)),
        ("I1 server_linux.go] \"Using iptables proxy\"", .some(.iptables)),
        ("I1 server_linux.go] \"Using nftables Proxier\"", .some(.nftables)),
        ("I1 something else", nil),
    ])
    func observed(_ line: String, _ mode: ProxyMode?) {
        #expect(NodeVerdict.observedMode(inLog: line) == mode)
    }

    static func lease(holder: String?, renewedSecondsAgo: Double, now: Date) -> Lease {
        var lease = Lease(name: "kpswitch", namespace: "kube-system")
        lease.holderIdentity = holder
        lease.leaseDurationSeconds = 30
        lease.renewTime = Timestamp.microTime(now.addingTimeInterval(-renewedSecondsAgo))
        return lease
    }

    @Test("the Lease: free, own, expired or a dead pid on this host is taken; a live holder is refused")
    func leaseRule() {
        let now = Date()
        let me = "alice@ws-1/pid-100"
        let alive: (Int32) -> Bool = { $0 == 200 }
        #expect(LockHolder.decide(lease: Self.lease(holder: nil, renewedSecondsAgo: 1, now: now), me: me, now: now, isAlive: alive) == .take)
        #expect(LockHolder.decide(lease: Self.lease(holder: me, renewedSecondsAgo: 1, now: now), me: me, now: now, isAlive: alive) == .take)
        #expect(LockHolder.decide(lease: Self.lease(holder: "bob@ws-2/pid-7", renewedSecondsAgo: 31, now: now), me: me, now: now, isAlive: alive) == .take)
        #expect(LockHolder.decide(lease: Self.lease(holder: "alice@ws-1/pid-300", renewedSecondsAgo: 1, now: now), me: me, now: now, isAlive: alive) == .take)
        guard case .refuse(let holder, _) = LockHolder.decide(
            lease: Self.lease(holder: "alice@ws-1/pid-200", renewedSecondsAgo: 1, now: now), me: me, now: now, isAlive: alive)
        else {
            Issue.record("a live holder on this host must be respected")
            return
        }
        #expect(holder == "alice@ws-1/pid-200")
        // Another host's pid means nothing here: only expiry frees it.
        #expect(LockHolder.decide(lease: Self.lease(holder: "bob@ws-2/pid-300", renewedSecondsAgo: 5, now: now), me: me, now: now, isAlive: alive) != .take)
    }

    @Test("MicroTime round trip keeps the second")
    func microTime() throws {
        let date = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let text = Timestamp.microTime(date)
        #expect(text.hasSuffix(".123456Z") || text.hasSuffix(".123455Z"))
        let parsed = try #require(Timestamp.parse(text))
        #expect(abs(parsed.timeIntervalSince(date)) < 0.01)
    }

    @Test("RFC 3339 timestamps read by hand agree with Foundation's ISO 8601 formatter", arguments: [
        "2026-12-03T11:41:29Z", "1970-01-01T00:00:00Z", "2000-02-29T23:59:59Z", "2024-03-01T00:00:00+02:00",
        "1999-12-31T18:30:05-05:30", "2026-12-03T11:41:29.5Z", "2026-12-03T11:41:29.123Z",
    ])
    func rfc3339(_ text: String) throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        let expected = try #require(formatter.date(from: text))
        let parsed = try #require(Timestamp.parse(text))
        #expect(abs(parsed.timeIntervalSince(expected)) < 0.001, "\(parsed) vs \(expected)")
    }

    @Test("text that is no timestamp parses to nil", arguments: ["", "2026-12-03", "2026-13-03T11:41:29Z", "2026-12-03T11:41:29", "yesterday"])
    func notATimestamp(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    static let original = MigrationState.OriginalDaemonSet(
        name: "kube-proxy", container: "kube-proxy", volume: "kube-proxy", resourceVersion: "847", generation: 1,
        updateStrategy: ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": 1]],
        template: [
            "metadata": ["labels": ["k8s-app": "kube-proxy"]],
            "spec": [
                "containers": [[
                    "name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.34.0",
                    "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"],
                    "securityContext": ["privileged": true],
                    "volumeMounts": [["name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"]],
                ]],
                "volumes": [["name": "kube-proxy", "configMap": ["name": "kube-proxy", "defaultMode": 420]],
                            ["name": "lib-modules", "hostPath": ["path": "/lib/modules"]]],
            ],
        ])

    @Test("staged template: OnDelete, the config volume on the staged ConfigMap, everything else untouched")
    func stagedTemplate() throws {
        let (strategy, template) = try DaemonSetChange.staged(
            Self.original, stagedConfigMap: "kube-proxy-kpswitch-nftables", configPath: "/var/lib/kube-proxy/config.conf",
            cleanup: .kubeProxyCleansItself)
        #expect(strategy == ["type": "OnDelete"])
        #expect(template[path: ["spec", "volumes"]]?.arrayValue?.first == ["name": "kube-proxy", "configMap": ["name": "kube-proxy-kpswitch-nftables", "defaultMode": 420]])
        var back = template
        back[path: ["spec", "volumes"]] = Self.original.template[path: ["spec", "volumes"]]
        #expect(back == Self.original.template)
        #expect(template[path: ["spec", "initContainers"]] == nil)
    }

    @Test("iptables to ipvs with an init container: the cluster's image runs kube-proxy --cleanup with its privileges")
    func cleanupContainer() throws {
        let (_, template) = try DaemonSetChange.staged(
            Self.original, stagedConfigMap: "kube-proxy-kpswitch-ipvs", configPath: "/var/lib/kube-proxy/config.conf", cleanup: .initContainer)
        let inits = try #require(template[path: ["spec", "initContainers"]]?.arrayValue)
        #expect(inits.count == 1)
        #expect(inits[0]["name"] == "kpswitch-cleanup")
        #expect(inits[0]["image"] == "registry.k8s.io/kube-proxy:v1.34.0")
        #expect(inits[0]["command"] == ["/usr/local/bin/kube-proxy", "--cleanup", "--config=/var/lib/kube-proxy/config.conf"])
        #expect(inits[0]["securityContext"] == ["privileged": true])
    }

    @Test("restart as kubectl does: only the restartedAt annotation changes")
    func restart() {
        let restarted = DaemonSetChange.restarted(Self.original.template, at: "2026-11-27T02:00:00Z")
        #expect(restarted[path: ["metadata", "annotations", "kubectl.kubernetes.io/restartedAt"]] == "2026-11-27T02:00:00Z")
        var back = restarted
        back[path: ["metadata", "annotations"]] = nil
        #expect(back == Self.original.template)
    }

    @Test("a server-defaulted copy of kpswitch's write is recognised; anyone else's template change is not")
    func fingerprint() throws {
        let (strategy, template) = try DaemonSetChange.staged(
            Self.original, stagedConfigMap: "s", configPath: "/c", cleanup: .initContainer)
        let ours = Fingerprint(updateStrategy: strategy, template: template)
        var defaulted = template
        defaulted[path: ["spec", "initContainers"]] = [["name": "kpswitch-cleanup", "terminationMessagePath": "/dev/termination-log"]]
        #expect(Fingerprint(updateStrategy: strategy, template: defaulted) == ours)
        var edited = template
        edited[path: ["metadata", "annotations", "example.com/edited-by"]] = "colleague"
        #expect(Fingerprint(updateStrategy: strategy, template: edited) != ours)
        #expect(Fingerprint(updateStrategy: Self.original.updateStrategy, template: Self.original.template) != ours)
    }

    @Test("the plan's diff shows the changed line with context")
    func diff() {
        let old = "a: 1\nb: 2\nmode: \"\"\nc: 3\n"
        let new = "a: 1\nb: 2\nmode: ipvs\nc: 3\n"
        #expect(UnifiedDiff.diff(old, new, oldName: "old", newName: "new") == """
            --- old
            +++ new
            @@ -1,5 +1,5 @@
             a: 1
             b: 2
            -mode: ""
            +mode: ipvs
             c: 3
             

            """)
        #expect(UnifiedDiff.diff(old, old, oldName: "o", newName: "n") == "")
    }

    static func state() -> MigrationState {
        let plan = MigrationPlan.canary(from: .iptables, to: .ipvs, nodes: ["a", "b", "c"], batches: .default, cleanup: .initContainer)
        return MigrationState(
            record: MigrationMachine(plan: plan).record,
            originalConfigMap: .init(name: "kube-proxy", key: "config.conf", resourceVersion: "12", data: ["config.conf": "mode: \"\"\n", "kubeconfig.conf": "x"]),
            originalDaemonSet: Self.original,
            target: .init(mode: .ipvs, scheduler: nil, strictARP: nil, stagedConfigMap: "kube-proxy-kpswitch-ipvs",
                          configText: "mode: ipvs\n", changedKeys: ["mode"], configPath: "/var/lib/kube-proxy/config.conf"),
            applied: .init(), holder: "alice@ws-1/pid-1", startedAt: "2026-11-27T02:00:00Z", updatedAt: "2026-11-27T02:00:00Z",
            stepState: "done", history: [], pastMigrations: [])
    }

    @Test("the state survives its ConfigMap form, and exposes completed and step for watchers")
    func stateRoundTrip() throws {
        var state = Self.state()
        var machine = MigrationMachine(record: state.record)
        _ = machine.stepSucceeded(.acquireLock)
        state.record = machine.record
        state.log("completed: taking the kpswitch lock")
        var constants: [String: String]?
        let data = try state.encodedData(constants: &constants)
        // Written again after another step, the constants come from the first encoding and are the same.
        _ = machine.stepSucceeded(.backUp)
        state.record = machine.record
        let again = try state.encodedData(constants: &constants)
        #expect(again["originalDaemonSet"] == data["originalDaemonSet"] && again["originalDaemonSet"] != nil)
        #expect(again["completed"] == "2")
        #expect(data["completed"] == "1")
        #expect(data["phase"] == "migrating")
        #expect(data["step"] == "recording the original configuration")
        #expect(again["step"] != data["step"])
        #expect(data["outcome"] == nil)
        #expect(try MigrationState(data: again) == state)
        #expect(state.isUnfinished)
    }

    @Test("a state written by something else is refused with the manual procedure")
    func unreadableState() {
        #expect(throws: KPSwitchError.self) { try MigrationState(data: ["record": "{}"]) }
    }

    @Test("exit 5 names every remaining step with the command that does it by hand")
    func rollbackIncompleteInstructions() {
        let remaining: [MigrationStep] = [
            .restoreOriginalDaemonSet, .replacePods(batch: 0, nodes: ["a"]), .verifyNodes(batch: 0, nodes: ["a"], mode: .iptables),
            .deleteStagedConfig, .releaseLock,
        ]
        let result = MigrationEngine.result(
            .rollbackIncomplete(reason: "a: crash-looping", rollbackError: "500 Internal Server Error", remaining: remaining),
            state: Self.state(), namespace: "kube-system")
        #expect(result.exitStatus == .rollbackIncomplete)
        #expect(result.remaining == remaining.map(\.summary))
        #expect(result.nextSteps.first?.contains("run kpswitch rollback again") == true)
        #expect(result.nextSteps.contains { $0.contains("kubectl -n kube-system get configmap kpswitch-state -o jsonpath='{.data.originalDaemonSet}'") })
        #expect(result.nextSteps.contains { $0.contains("kubectl -n kube-system delete pod -l k8s-app=kube-proxy --field-selector spec.nodeName=<node>") })
        #expect(result.nextSteps.contains("kubectl -n kube-system delete configmap kube-proxy-kpswitch-ipvs"))
        #expect(result.nextSteps.contains("kubectl -n kube-system delete lease kpswitch"))
    }

    @Test("a stopped run lists only what it changed in the cluster, and how to go on")
    func stoppedResult() {
        let done: [MigrationStep] = [.acquireLock, .backUp, .createStagedConfig, .pointDaemonSetAtStaged]
        let result = MigrationEngine.result(.stopped(reason: "ConfigMap changed", done: done), state: Self.state(), namespace: "kube-system")
        #expect(result.remaining == ["creating the staged ConfigMap", "pointing the DaemonSet at the staged ConfigMap"])
        #expect(result.exitStatus == .rollbackIncomplete)
        #expect(result.nextSteps.contains { $0.contains("kpswitch rollback") && $0.contains("--force") && $0.contains("--resume") })
    }

    @Test("the progress line counts nodes per batch; the final batches count as batches, not as more nodes")
    func progressLine() {
        var machine = MigrationMachine(record: Self.state().record)
        for _ in 0..<6 {
            guard case .perform(let step) = machine.nextAction else { break }
            _ = machine.stepSucceeded(step)
        }
        let progress = BatchProgress(record: machine.record)
        #expect(progress.line(elapsed: .seconds(75)) == "batch 1/5: nodes migrated 1 / verified 1 / total 3, elapsed 1m15s")
    }

    static func daemonSet(strategy: String = "RollingUpdate", generation: Int = 2, observed: Int = 2, updated: Int = 3, available: Int = 3) -> DaemonSet {
        DaemonSet(json: [
            "metadata": ["name": "kube-proxy", "namespace": "kube-system", "generation": .int(Int64(generation))],
            "spec": ["updateStrategy": ["type": .string(strategy)]],
            "status": [
                "observedGeneration": .int(Int64(observed)), "desiredNumberScheduled": 3,
                "updatedNumberScheduled": .int(Int64(updated)), "numberAvailable": .int(Int64(available)),
            ],
        ])
    }

    @Test("a DaemonSet whose rollout has not finished is refused with exit 3, as kubectl rollout status judges it",
          arguments: [
            (generation: 3, observed: 2, updated: 3, available: 3),  // the controller has not seen the spec yet
            (generation: 2, observed: 2, updated: 2, available: 3),  // a pod still runs the old template
            (generation: 2, observed: 2, updated: 3, available: 2),  // a pod is not available
          ])
    func notRolledOut(_ s: (generation: Int, observed: Int, updated: Int, available: Int)) {
        let daemonSet = Self.daemonSet(generation: s.generation, observed: s.observed, updated: s.updated, available: s.available)
        let error = #expect(throws: KPSwitchError.self) { try MigrationPlanner.requireRolledOut(daemonSet) }
        #expect(error?.status == .preflightFailed)
        #expect(error?.message.contains("kube-system/kube-proxy is not fully rolled out") == true)
    }

    @Test("a rolled-out DaemonSet passes; under OnDelete, pods on an older template are normal")
    func rolledOut() throws {
        try MigrationPlanner.requireRolledOut(Self.daemonSet())
        try MigrationPlanner.requireRolledOut(Self.daemonSet(strategy: "OnDelete", updated: 1))
    }
}
