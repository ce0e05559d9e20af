import Foundation
import KubeSim
import Testing

extension KubeSimSuite {
/// kpswitch's agent pods run for real in kube-sim, judged through real kubectl.
@Suite("agent pods run for real", .serialized, .enabled(if: geteuid() == 0, "namespaces need root"))
struct AgentPodTests {
    static func scenario() throws -> Scenario {
        var scenario = try Fixtures.kubeadm(nodes: 0)
        scenario.nodeGroups = Scenario.IPVSSupport.allCases.map { Scenario.NodeGroup(namePrefix: $0.rawValue, count: 1, ipvs: $0) }
        var never = Scenario.NodeGroup(namePrefix: "never", count: 1)
        never.startsAgents = false
        scenario.nodeGroups.append(never)
        return scenario
    }

    static func pod(_ name: String, node: String, script: String, deadline: Int = 60) throws -> String {
        let pod: [String: Any] = [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": name, "namespace": "kube-system", "labels": ["app.kubernetes.io/managed-by": "kpswitch"]],
            "spec": [
                "nodeName": node, "restartPolicy": "Never", "activeDeadlineSeconds": deadline,
                "containers": [["name": "agent", "image": "registry.k8s.io/kube-proxy:v1.34.0", "command": ["sh", "-c", script]]],
            ],
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: pod), as: UTF8.self)
    }

    func phase(_ kubectl: Kubectl, _ name: String) throws -> String {
        try kubectl.run(["get", "pod", name, "-n", "kube-system", "-o", "jsonpath={.status.phase}"]).stdout
    }

    static let probe = """
        grep -c '^ip_vs ' /proc/modules
        modprobe -n -q ip_vs && echo modprobe-ok || echo modprobe-no
        grep -c 'ip_vs.*[.]ko' /lib/modules/$(cat /proc/sys/kernel/osrelease)/modules.builtin
        [ -e /proc/net/ip_vs ] && echo table || echo no-table
        for link in /sys/class/net/*; do echo "${link##*/}"; done
        """

    @Test("the node's ipvs profile decides what /proc/modules, modprobe, modules.builtin and /proc/net/ip_vs show")
    func profiles() async throws {
        let sim = try await KubeSimServer.start(scenario: try Self.scenario())
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        let expected: [String: String] = [
            "loaded": "1\nmodprobe-ok\n0\ntable\nlo\n",
            "loadable": "0\nmodprobe-ok\n0\nno-table\nlo\n",
            "builtin": "0\nmodprobe-ok\n11\ntable\nlo\n",
            "absent": "0\nmodprobe-no\n0\nno-table\nlo\n",
        ]
        for node in expected.keys {
            let created = try kubectl.run(["apply", "-f", "-"], stdin: try Self.pod("probe-\(node)", node: "\(node)-1", script: Self.probe))
            #expect(created.status == 0, "\(created.stderr)")
        }
        for (node, output) in expected {
            #expect(try await eventually(attempts: 400) { try phase(kubectl, "probe-\(node)") == "Succeeded" }, "\(node)")
            let logs = try kubectl.run(["logs", "probe-\(node)", "-n", "kube-system"])
            #expect(logs.stdout == output, "\(node): \(logs.stderr)")
        }
    }

    @Test("a failing command fails the pod with its exit code; the deadline kills a slow one; 'never' nodes leave it waiting")
    func endings() async throws {
        let sim = try await KubeSimServer.start(scenario: try Self.scenario())
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        _ = try kubectl.run(["apply", "-f", "-"], stdin: try Self.pod("fails", node: "loaded-1", script: "echo partial; exit 3"))
        _ = try kubectl.run(["apply", "-f", "-"], stdin: try Self.pod("slow", node: "loaded-1", script: "sleep 30", deadline: 1))
        _ = try kubectl.run(["apply", "-f", "-"], stdin: try Self.pod("waits", node: "never-1", script: "echo hi"))
        #expect(try await eventually(attempts: 400) { try phase(kubectl, "fails") == "Failed" })
        let code = try kubectl.run(["get", "pod", "fails", "-n", "kube-system", "-o",
                                    "jsonpath={.status.containerStatuses[0].state.terminated.exitCode}"])
        #expect(code.stdout == "3")
        #expect(try kubectl.run(["logs", "fails", "-n", "kube-system"]).stdout == "partial\n")
        #expect(try await eventually(attempts: 400) { try phase(kubectl, "slow") == "Failed" })
        let reason = try kubectl.run(["get", "pod", "slow", "-n", "kube-system", "-o", "jsonpath={.status.reason}"])
        #expect(reason.stdout == "DeadlineExceeded")
        #expect(try phase(kubectl, "waits") == "Pending")
        let waiting = try kubectl.run(["logs", "waits", "-n", "kube-system"])
        #expect(waiting.status != 0 && waiting.stderr.contains("waiting to start"))
        #expect(try kubectl.run(["delete", "pod", "waits", "-n", "kube-system"]).status == 0)
    }
}
}
