import Foundation
@testable import KubeSim

/// A kube-sim cluster for one test, the kubeconfig kpswitch uses to reach it, and an observer that sees every write
/// the moment it is stored: which kube-proxy pods ever existed (and from which ConfigMap), every version of the
/// ConfigMaps, and each new version of `kpswitch-state`.
final class TestCluster: Sendable {
    let sim: KubeSimServer
    let shape: ClusterShape
    let kubeconfig: String
    let namespace = "kube-system"

    /// A kube-proxy pod as it was created: the node it ran on and the ConfigMaps its volumes named.
    struct PodSighting: Sendable {
        let name: String
        let node: String
        let configMaps: Set<String>
    }

    private let pods = Locked<[String: PodSighting]>([:])
    private let configMapVersions = Locked<[String: [JSONValue]]>([:])
    private let stateHandlers = Locked<[@Sendable ([String: String]) -> Void]>([])
    private let watchIDs = Locked<[Int]>([])

    private init(sim: KubeSimServer, shape: ClusterShape, kubeconfig: String) {
        self.sim = sim
        self.shape = shape
        self.kubeconfig = kubeconfig
    }

    /// Starts the simulator and waits until every node runs a Ready kube-proxy pod.
    static func start(_ shape: ClusterShape, _ scenario: Scenario) async throws -> TestCluster {
        let sim = try await KubeSimServer.start(scenario: scenario)
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-\(UUID()).kubeconfig").path
        try sim.writeKubeconfig(to: kubeconfig)
        let cluster = TestCluster(sim: sim, shape: shape, kubeconfig: kubeconfig)
        try cluster.observe()
        try await cluster.waitUntilKubeProxyReady()
        return cluster
    }

    /// Runs `body` on a fresh cluster and shuts the cluster down afterwards, whatever happens.
    static func with<T>(_ shape: ClusterShape, _ scenario: Scenario, _ body: (TestCluster) async throws -> T) async throws -> T {
        let cluster = try await start(shape, scenario)
        do {
            let result = try await body(cluster)
            await cluster.shutdown()
            return result
        } catch {
            await cluster.shutdown()
            throw error
        }
    }

    func shutdown() async {
        for id in watchIDs.value { store.stopWatch(id) }
        stateHandlers.withLock { $0 = [] }
        try? FileManager.default.removeItem(atPath: kubeconfig)
        try? FileManager.default.removeItem(atPath: kubeconfig + ".cache")
        try? await sim.shutdown()
    }

    var store: ObjectStore { sim.cluster.store }

    // The store calls these handlers while it holds its lock: they only copy what they see (or send a signal),
    // never read or write the store.
    private func observe() throws {
        let filter = ObjectFilter(namespace: namespace)
        let podWatch = try store.watch(.pods, filter: filter, from: .currentState) { [pods] event in
            guard event.type == "ADDED", let uid = event.object[path: ["metadata", "uid"]]?.stringValue else { return }
            let volumes = event.object[path: ["spec", "volumes"]]?.arrayValue ?? []
            let sighting = PodSighting(
                name: event.object[path: ["metadata", "name"]]?.stringValue ?? "",
                node: event.object[path: ["spec", "nodeName"]]?.stringValue ?? "",
                configMaps: Set(volumes.compactMap { $0[path: ["configMap", "name"]]?.stringValue }))
            pods.withLock { $0[uid] = sighting }
        }
        let configMapWatch = try store.watch(.configMaps, filter: filter, from: .currentState) {
            [configMapVersions, stateHandlers] event in
            let name = event.object[path: ["metadata", "name"]]?.stringValue ?? ""
            configMapVersions.withLock { $0[name, default: []].append(event.object) }
            if name == "kpswitch-state", event.type != "DELETED" {
                let data = (event.object["data"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
                for handler in stateHandlers.value { handler(data) }
            }
        }
        watchIDs.withLock { $0 = [podWatch, configMapWatch] }
    }

    /// Calls `handler` with the data of each new version of `kpswitch-state`, synchronously as it is stored (so a
    /// SIGKILL sent from it lands before kpswitch hears that its write succeeded).
    func onStateWrite(_ handler: @escaping @Sendable ([String: String]) -> Void) {
        stateHandlers.withLock { $0.append(handler) }
    }

    /// Every kube-proxy pod created since the cluster started.
    var podSightings: [PodSighting] { pods.withLock { Array($0.values) } }

    /// Every version of a ConfigMap stored since the cluster started, oldest first.
    func versions(ofConfigMap name: String) -> [JSONValue] { configMapVersions.withLock { $0[name] ?? [] } }

    // MARK: objects

    func configMap(_ name: String) -> JSONValue? { store.get(.configMaps, namespace: namespace, name: name) }
    var kubeProxyConfigMap: JSONValue? { configMap(shape.configMapName) }
    var kubeProxyConfig: String? { kubeProxyConfigMap?[path: ["data", shape.configKey]]?.stringValue }
    var daemonSet: JSONValue? { store.get(.daemonSets, namespace: namespace, name: "kube-proxy") }
    var lease: JSONValue? { store.get(.leases, namespace: namespace, name: "kpswitch") }
    var state: [String: String]? {
        configMap("kpswitch-state").map { ($0["data"]?.objectValue ?? [:]).compactMapValues(\.stringValue) }
    }

    /// ConfigMaps named like kpswitch's staged ones (`<original>-kpswitch-<mode>`).
    var stagedConfigMaps: [String] {
        store.list(.configMaps, filter: ObjectFilter(namespace: namespace)).items
            .compactMap { $0.object[path: ["metadata", "name"]]?.stringValue }.filter { $0.contains("-kpswitch-") }
    }

    var nodeNames: [String] {
        store.list(.nodes, filter: ObjectFilter()).items.compactMap { $0.object[path: ["metadata", "name"]]?.stringValue }
    }

    /// Requests that change something: create, update, patch, delete.
    var writeRequestCount: Int {
        let counts = sim.requestCounts
        // A SelfSubjectAccessReview (preflight's MigrationRBAC check) is a POST that the API server answers
        // without storing anything: a question, not a write.
        let reviews = counts["create selfsubjectaccessreviews"] ?? 0
        return ["create", "update", "patch", "delete", "deletecollection"].reduce(0) { $0 + (counts[$1] ?? 0) } - reviews
    }

    /// The kube-proxy pods now, by node, with readiness.
    var kubeProxyPods: [(node: String, name: String, ready: Bool)] {
        store.list(.pods, filter: ObjectFilter(namespace: namespace)).items.map(\.object)
            .filter { $0[path: ["metadata", "labels", "k8s-app"]]?.stringValue == "kube-proxy" }
            .map { pod in
                let ready = (pod[path: ["status", "conditions"]]?.arrayValue ?? []).contains {
                    $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
                }
                return (pod[path: ["spec", "nodeName"]]?.stringValue ?? "", pod[path: ["metadata", "name"]]?.stringValue ?? "", ready)
            }
    }

    /// Waits until every node runs a Ready kube-proxy pod and the DaemonSet's status says so.
    func waitUntilKubeProxyReady(limit: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + limit
        let nodes = Set(nodeNames)
        while ContinuousClock.now < deadline {
            let pods = kubeProxyPods
            let status = daemonSet?["status"]
            let counted = ["desiredNumberScheduled", "updatedNumberScheduled", "numberReady", "numberAvailable"]
                .allSatisfy { status?[$0]?.intValue == Int64(nodes.count) }
                && status?["observedGeneration"] == daemonSet?[path: ["metadata", "generation"]]
            if Set(pods.filter(\.ready).map(\.node)) == nodes && pods.count == nodes.count && counted { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw E2EFailure("kube-proxy is not Ready on every node of \(nodes.sorted()): \(kubeProxyPods)")
    }

    /// The cluster's resourceVersion once the simulated controllers have stopped writing (unchanged for 300 ms), so
    /// that a later difference can only come from a client.
    func settledResourceVersion() async throws -> Int64 {
        var version = store.currentResourceVersion
        var since = ContinuousClock.now
        let deadline = since + .seconds(30)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            let now = store.currentResourceVersion
            if now != version {
                version = now
                since = ContinuousClock.now
            } else if ContinuousClock.now - since >= .milliseconds(300) {
                return version
            }
        }
        throw E2EFailure("the simulated cluster kept changing for 30 s")
    }

    // MARK: kpswitch

    /// kpswitch with this cluster's kubeconfig.
    func kpswitch(_ arguments: [String]) async throws -> KPSwitchProcess.Result {
        try await KPSwitchProcess.run(arguments + ["--kubeconfig", kubeconfig])
    }

    func startKPSwitch(_ arguments: [String]) throws -> KPSwitchProcess {
        try KPSwitchProcess(arguments + ["--kubeconfig", kubeconfig])
    }

    /// Real kubectl against this cluster (a colleague at work), blocking: call it off the concurrency pool.
    func kubectl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/kubectl")
        process.arguments = arguments + ["--kubeconfig", kubeconfig, "-n", namespace]
        var environment = ProcessInfo.processInfo.environment
        environment["KUBECACHEDIR"] = kubeconfig + ".cache"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Edits a kube-system object in the store directly (no API request, so no request count and no fault).
    func edit(_ resource: ResourceType, _ name: String, _ change: @escaping @Sendable (inout JSONValue) -> Void) throws {
        try store.modify(resource, namespace: namespace, name: name) { (current) throws(APIError) -> JSONValue in
            var updated = current
            change(&updated)
            return updated
        }
    }
}
