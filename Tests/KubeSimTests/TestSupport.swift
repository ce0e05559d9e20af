import Foundation
import KubeSim

/// Runs the real kubectl against a simulator, the way a user would.
struct Kubectl {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static let path: String = ProcessInfo.processInfo.environment["KUBECTL"] ?? "/usr/bin/kubectl"

    let kubeconfig: String

    init(_ sim: KubeSimServer) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kube-sim-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        kubeconfig = directory.appendingPathComponent("config").path
        try sim.writeKubeconfig(to: kubeconfig)
    }

    func run(_ arguments: [String], stdin: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Kubectl.path)
        process.arguments = ["--kubeconfig", kubeconfig] + arguments
        var environment = ProcessInfo.processInfo.environment
        // kubectl caches discovery per server URL; each simulator gets a fresh, private cache.
        environment["KUBECACHEDIR"] = (kubeconfig as NSString).deletingLastPathComponent + "/cache"
        environment["HOME"] = (kubeconfig as NSString).deletingLastPathComponent
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self))
    }
}

enum Fixtures {
    static func objects(_ name: String) throws -> [JSONValue] {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            throw KubeSimError.scenario("fixture \(name) is missing from the test bundle")
        }
        return try Scenario.loadObjects(from: url.path)
    }

    /// A kubeadm v1.34 cluster from the real fixtures: three workers, iptables mode, IPVS loadable.
    static func kubeadm(nodes: Int = 3, ipvs: Scenario.IPVSSupport = .loadable, kernel: String = "6.1.0-28-amd64") throws -> Scenario {
        Scenario(
            objects: try objects("kubeadm-v1.34-kube-proxy-configmap.yaml") + objects("kubeadm-v1.34-kube-proxy-daemonset.yaml"),
            nodeGroups: [Scenario.NodeGroup(namePrefix: "worker", count: nodes, kernelVersion: kernel, ipvs: ipvs)],
            services: Scenario.Services(count: 5),
            tokenUser: Scenario.TokenUser(name: "operator", rules: [
                PolicyRule(apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"], namespaces: ["kube-system"]),
                PolicyRule(apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["get", "list", "watch", "patch"], namespaces: ["kube-system"]),
                PolicyRule(apiGroups: [""], resources: ["nodes"], verbs: ["get", "list"]),
            ]),
            podStartDelay: .milliseconds(50))
    }
}

/// Polls `condition` until it holds or `attempts` run out; simulated time is fast, so this waits briefly.
func eventually(attempts: Int = 200, _ condition: () async throws -> Bool) async throws -> Bool {
    for _ in 0..<attempts {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(25))
    }
    return false
}
