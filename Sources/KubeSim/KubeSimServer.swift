import Foundation
import NIOCore
import Synchronization

/// A running Kubernetes API simulator: HTTPS on 127.0.0.1 with its own CA, a client-certificate admin and a
/// bearer-token user whose RBAC the scenario sets, the DaemonSet controller and simulated kube-proxy pods.
///
/// ```swift
/// let sim = try await KubeSimServer.start(scenario: Scenario(nodeGroups: [.init(namePrefix: "node", count: 3)]))
/// defer { Task { try await sim.shutdown() } }
/// try sim.writeKubeconfig(to: "/tmp/kubeconfig")  // contexts "kube-sim" (admin, current), "kube-sim-token"
/// // ... drive it with kubectl or KubeAPI at sim.baseURL, trusting only sim.caPEM ...
/// sim.requestCounts["patch"]                      // requests served per verb, per "<verb> <resource>", "total"
/// sim.faults.failNext(verb: "update", resource: "configmaps", code: 409)   // 409, 429, 500 or 503
/// sim.faults.latency = .milliseconds(20)
/// sim.dropWatches(); sim.compactHistory()        // cut watch connections; make old versions 410 Expired
/// ```
///
/// This surface is what the KubeAPI and migration tests build on; keep it small and compatible.
public final class KubeSimServer: Sendable {
    /// `https://127.0.0.1:<port>`.
    public let baseURL: String
    public let port: Int
    /// The CA that signed the serving and client certificates (PEM).
    public let caPEM: String
    /// The admin user's client certificate and key (PEM); the user is `kubernetes-admin` in `system:masters`.
    public let adminCertificatePEM: String
    public let adminKeyPEM: String
    /// The bearer token of the scenario's token user.
    public let token: String
    /// The token user's name.
    public let tokenUserName: String
    /// Injected failures and latency.
    public let faults: FaultInjector

    let cluster: SimulatedCluster
    private let server: HTTPServer
    private let timers = Mutex<[@Sendable () -> Void]>([])
    private let stop = StopFlag()

    private init(cluster: SimulatedCluster, server: HTTPServer, pki: SimulatorPKI) {
        self.cluster = cluster
        self.server = server
        port = server.port
        baseURL = "https://127.0.0.1:\(server.port)"
        caPEM = pki.caPEM
        adminCertificatePEM = pki.adminCertificatePEM
        adminKeyPEM = pki.adminKeyPEM
        token = cluster.token
        tokenUserName = cluster.scenario.tokenUser.name
        faults = cluster.faults
    }

    /// Loads the scenario, generates the PKI and starts serving. `port: 0` picks a free port.
    public static func start(scenario: Scenario, port: Int = 0) async throws -> KubeSimServer {
        let pki = try SimulatorPKI.generate()
        let cluster = try SimulatedCluster(scenario: scenario)
        let server = try await HTTPServer(cluster: cluster, pki: pki, port: port,
                                          bookmarkInterval: scenario.watchBookmarkInterval)
        let sim = KubeSimServer(cluster: cluster, server: server, pki: pki)
        // One synchronous pass first, so no client ever sees a loaded DaemonSet's captured status as current.
        cluster.kubelet.reconcile(store: cluster.store, now: ContinuousClock.now)
        DaemonSetController(store: cluster.store).reconcileAll()
        sim.startControllers()
        return sim
    }

    // The controllers run on their own thread and the timed faults on the server's event loops, never on the
    // Swift concurrency pool: a test that blocks a pool thread (waiting for a kubectl process, say) must not
    // stall the cluster it is waiting for.
    private func startControllers() {
        let cluster = self.cluster
        let watches = server.watches
        let scenario = cluster.scenario
        let stop = self.stop
        let thread = Thread {
            let controller = DaemonSetController(store: cluster.store)
            while !stop.isSet {
                let changes = cluster.takeChanges()
                let now = ContinuousClock.now
                if cluster.kubelet.hasDueWork(now: now) || changes.contains("pods") {
                    cluster.kubelet.reconcile(store: cluster.store, now: now)
                }
                if !changes.isDisjoint(with: ["daemonsets", "pods", "nodes"]) {
                    controller.reconcileAll()
                }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        thread.name = "kube-sim controllers"
        thread.start()
        let loop = server.group.next()
        var timers: [@Sendable () -> Void] = []
        if let every = scenario.faults.dropWatchesEvery, every > .zero {
            let interval = TimeAmount.nanoseconds(APIChannelHandler.nanoseconds(every))
            let task = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in watches.dropAll() }
            timers.append { task.cancel() }
        }
        for edit in scenario.faults.configMapEdits {
            let task = loop.scheduleTask(in: .nanoseconds(APIChannelHandler.nanoseconds(edit.after))) {
                cluster.editProxyMode(edit)
            }
            timers.append { task.cancel() }
        }
        self.timers.withLock { $0 = timers }
        for outage in scenario.faults.outages {
            if let after = outage.after {
                let task = loop.scheduleTask(in: .nanoseconds(APIChannelHandler.nanoseconds(after))) { [self] in
                    startOutage(outage.kind, for: outage.duration)
                }
                self.timers.withLock { $0.append { task.cancel() } }
            } else if let completed = outage.atCompleted {
                startOutage(outage.kind, for: outage.duration, whenStateShows: completed)
            }
        }
    }

    /// Starts the outage the first time kpswitch-state records `completed` steps.
    private func startOutage(_ kind: FaultInjector.Outage, for duration: Duration, whenStateShows completed: Int) {
        // The store calls its watchers one at a time, under its lock: a plain flag is enough.
        let started = StopFlag()
        let filter = ObjectFilter(namespace: "kube-system")
        do {
            _ = try cluster.store.watch(.configMaps, filter: filter, from: .currentState) { [self] event in
                guard event.object[path: ["metadata", "name"]]?.stringValue == "kpswitch-state",
                    event.object[path: ["data", "completed"]]?.stringValue == String(completed),
                    !started.isSet
                else { return }
                started.set()
                startOutage(kind, for: duration)
            }
        } catch {
            // A watch from the current state cannot be too old.
        }
    }

    /// API requests served so far: per verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`),
    /// per `"<verb> <resource>"` (e.g. `"patch daemonsets"`), and `"total"`.
    public var requestCounts: [String: Int] { cluster.requestCounts }

    /// Starts counting from zero.
    public func resetRequestCounts() { cluster.resetCounts() }

    /// Cuts every open watch connection now.
    public func dropWatches() { server.watches.dropAll() }

    /// The API server goes away for `duration` as `kind` says, from the next request on. Safe to call from a
    /// store watch handler (`TestCluster.onStateWrite`): the socket and watch work runs on an event loop.
    public func startOutage(_ kind: FaultInjector.Outage, for duration: Duration) {
        faults.beginOutage(kind, until: .now + duration)
        let server = self.server
        let loop = server.group.next()
        loop.execute {
            // A frozen or restarting server ends its watch streams for the client; a 503 server keeps them.
            if kind != .unavailable { server.watches.dropAll() }
            guard kind == .refuse else { return }
            server.stopListening()
            let task = loop.scheduleTask(in: .nanoseconds(APIChannelHandler.nanoseconds(duration))) { server.listenAgain() }
            self.timers.withLock { $0.append { task.cancel() } }
        }
    }

    /// Forgets the watch history, so a watch from any earlier resourceVersion gets 410 Expired.
    public func compactHistory() { cluster.store.compact() }

    /// A kubeconfig with two contexts: `kube-sim` (admin, client certificate; current) and `kube-sim-token`
    /// (the token user).
    public func kubeconfig(namespace: String? = nil) -> String {
        func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
        let ns = namespace.map { "\n    namespace: \($0)" } ?? ""
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: kube-sim
              cluster:
                server: \(baseURL)
                certificate-authority-data: \(b64(caPEM))
            users:
            - name: kubernetes-admin
              user:
                client-certificate-data: \(b64(adminCertificatePEM))
                client-key-data: \(b64(adminKeyPEM))
            - name: \(tokenUserName)
              user:
                token: \(token)
            contexts:
            - name: kube-sim
              context:
                cluster: kube-sim
                user: kubernetes-admin\(ns)
            - name: kube-sim-token
              context:
                cluster: kube-sim
                user: \(tokenUserName)\(ns)
            current-context: kube-sim

            """
    }

    /// Writes `kubeconfig()` to `path` (mode 0600).
    public func writeKubeconfig(to path: String, namespace: String? = nil) throws {
        let url = URL(fileURLWithPath: path)
        try Data(kubeconfig(namespace: namespace).utf8).write(to: url, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }

    /// Stops the controllers and the server.
    /// Deletes the netfilter nodes' network namespaces (`shutdown` does too), for a process about to exit.
    public func removeNodeNamespaces() {
        cluster.kubelet.networks.removeAll()
    }

    public func shutdown() async throws {
        stop.set()
        for cancel in timers.withLock({ $0 }) { cancel() }
        try await server.shutdown()
        cluster.kubelet.networks.removeAll()
    }
}

/// Tells the controller thread to finish.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

extension SimulatedCluster {
    /// The scenario's outside edit: rewrites `mode:` in the ConfigMap's kube-proxy configuration.
    func editProxyMode(_ edit: Scenario.ConfigMapEdit) {
        do {
            try store.modify(.configMaps, namespace: edit.namespace, name: edit.name) { (cm) throws(APIError) -> JSONValue in
                guard let text = cm[path: ["data", edit.key]]?.stringValue else { return cm }
                var lines = text.components(separatedBy: "\n")
                if let i = lines.firstIndex(where: { $0.hasPrefix("mode:") }) {
                    lines[i] = "mode: \(edit.mode)"
                } else {
                    lines.append("mode: \(edit.mode)")
                }
                var updated = cm
                updated[path: ["data", edit.key]] = .string(lines.joined(separator: "\n"))
                return updated
            }
        } catch {
            // The ConfigMap may have been deleted by the time the edit is due; there is nothing to edit then.
            return
        }
    }
}
