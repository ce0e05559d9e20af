import Foundation
import KubeSim

extension KubeSimServer {
    /// Starts the simulator and waits, as an operator would, until kube-proxy is rolled out: cluster preflight's
    /// KubeProxyRollout check rightly refuses a DaemonSet whose pods are still starting.
    static func startRolledOut(scenario: Scenario) async throws -> KubeSimServer {
        let sim = try await start(scenario: scenario)
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("rollout-\(UUID()).kubeconfig").path
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        try sim.writeKubeconfig(to: kubeconfig)
        let rollout = Process()
        rollout.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        rollout.arguments = ["kubectl", "--kubeconfig", kubeconfig, "-n", "kube-system", "rollout", "status", "daemonset/kube-proxy", "--timeout=120s"]
        rollout.standardOutput = FileHandle.nullDevice
        try rollout.run()
        rollout.waitUntilExit()
        return sim
    }
}
