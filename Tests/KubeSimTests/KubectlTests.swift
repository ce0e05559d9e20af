import Foundation
import KubeSim
import Testing

extension KubeSimSuite {
/// Real kubectl is the judge of the simulator's fidelity: every flow here is what an operator types.
@Suite("kubectl against kube-sim", .serialized)
struct KubectlTests {
    @Test("get cm,ds,pods -o yaml shows the loaded objects and the controller's pods")
    func getYAML() async throws {
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm())
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        #expect(try await eventually {
            try kubectl.run(["get", "pods", "-n", "kube-system", "-o", "name"]).stdout.split(separator: "\n").count == 3
        })
        let result = try kubectl.run(["get", "cm,ds,pods", "-n", "kube-system", "-o", "yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("kind: List"))
        #expect(result.stdout.contains("kind: ConfigMap"))
        #expect(result.stdout.contains("kubeadm.kubernetes.io/component-config.hash"))
        #expect(result.stdout.contains("kind: DaemonSet"))
        #expect(result.stdout.contains("--config=/var/lib/kube-proxy/config.conf"))
        #expect(result.stdout.components(separatedBy: "kind: Pod\n").count - 1 == 3)
        #expect(result.stdout.contains("controller-revision-hash:"))
    }

    @Test("get deploy and crd list an add-on's Deployment and CRDs, by name and as a table")
    func addOnResources() async throws {
        var scenario = try Fixtures.kubeadm()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        scenario.objects += try Scenario.loadObjects(from: root.appendingPathComponent("Scenarios/objects/metallb-v0.14.9.yaml").path)
        let sim = try await KubeSimServer.start(scenario: scenario)
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        let deployments = try kubectl.run(["get", "deployments", "-A", "-l", "app=metallb", "-o", "name"])
        #expect(deployments.status == 0, "\(deployments.stderr)")
        #expect(deployments.stdout == "deployment.apps/controller\n")
        let crds = try kubectl.run(["get", "crd", "-o", "name"])
        #expect(crds.status == 0, "\(crds.stderr)")
        #expect(crds.stdout.split(separator: "\n").sorted() == [
            "customresourcedefinition.apiextensions.k8s.io/bgppeers.metallb.io",
            "customresourcedefinition.apiextensions.k8s.io/ipaddresspools.metallb.io",
            "customresourcedefinition.apiextensions.k8s.io/l2advertisements.metallb.io",
        ])
        let table = try kubectl.run(["get", "deploy", "controller", "-n", "metallb-system"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.hasPrefix("NAME"))
        #expect(table.stdout.contains("controller"))
        let group = try kubectl.run(["get", "crd", "l2advertisements.metallb.io", "-o", "jsonpath={.spec.group}"])
        #expect(group.stdout == "metallb.io")
    }

    @Test("patch --type merge and --type strategic change what they say, and bump resourceVersion")
    func patch() async throws {
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm())
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        let before = try kubectl.run(["get", "cm", "kube-proxy", "-n", "kube-system", "-o", "jsonpath={.metadata.resourceVersion}"]).stdout
        let merge = try kubectl.run(["patch", "cm", "kube-proxy", "-n", "kube-system", "--type", "merge",
                                     "-p", #"{"metadata":{"labels":{"kpswitch.dev/test":"yes"}}}"#])
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(merge.stdout.contains("configmap/kube-proxy patched"))
        let after = try kubectl.run(["get", "cm", "kube-proxy", "-n", "kube-system", "-o", "jsonpath={.metadata.resourceVersion}/{.metadata.labels.kpswitch\\.dev/test}/{.metadata.labels.app}"]).stdout
        #expect(after.hasSuffix("/yes/kube-proxy"))
        #expect(!after.hasPrefix(before + "/"))

        // Strategic merge on the containers list merges by name instead of replacing the list.
        let strategic = try kubectl.run(["patch", "ds", "kube-proxy", "-n", "kube-system", "--type", "strategic", "-p",
                                         #"{"spec":{"template":{"spec":{"containers":[{"name":"kube-proxy","env":[{"name":"KPSWITCH","value":"1"}]}]}}}}"#])
        #expect(strategic.status == 0, "\(strategic.stderr)")
        let ds = try kubectl.run(["get", "ds", "kube-proxy", "-n", "kube-system", "-o",
                                  "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[*].name} {.metadata.generation}"])
        #expect(ds.stdout == "registry.k8s.io/kube-proxy:v1.34.0 NODE_NAME KPSWITCH 2")
    }

    @Test("rollout restart then rollout status succeeds once every node runs the new template")
    func rolloutRestart() async throws {
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm())
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        let initial = try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=30s"])
        #expect(initial.status == 0, "\(initial.stderr)")
        let oldPods = try kubectl.run(["get", "pods", "-n", "kube-system", "-o", "name"]).stdout

        let restart = try kubectl.run(["rollout", "restart", "ds/kube-proxy", "-n", "kube-system"])
        #expect(restart.status == 0, "\(restart.stderr)")
        #expect(restart.stdout.contains("daemonset.apps/kube-proxy restarted"))
        let status = try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=60s"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("daemon set \"kube-proxy\" successfully rolled out"))
        let newPods = try kubectl.run(["get", "pods", "-n", "kube-system", "-o", "name"]).stdout
        #expect(Set(newPods.split(separator: "\n")).isDisjoint(with: Set(oldPods.split(separator: "\n"))))
        let annotated = try kubectl.run(["get", "pods", "-n", "kube-system", "-o", "jsonpath={.items[*].metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}"])
        #expect(annotated.stdout.split(separator: " ").count == 3)
        let history = try kubectl.run(["rollout", "history", "ds/kube-proxy", "-n", "kube-system"])
        #expect(history.status == 0, "\(history.stderr)")
        #expect(history.stdout.contains("\n2 "), "\(history.stdout)")
    }

    @Test("logs of a kube-proxy pod show the mode its ConfigMap selects")
    func logsShowMode() async throws {
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm())
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        #expect(try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=30s"]).status == 0)
        let logs = try kubectl.run(["logs", "-n", "kube-system", "-l", "k8s-app=kube-proxy", "--tail=-1"])
        #expect(logs.status == 0, "\(logs.stderr)")
        // The fixture has mode: "" which kube-proxy defaults to iptables, logging both lines.
        #expect(logs.stdout.contains("\"Using iptables proxy\""), "\(logs.stderr)")
        #expect(logs.stdout.contains("\"Using iptables Proxier\""))

        // Switch to ipvs: the restarted pods read the edited ConfigMap and log the IPVS proxier.
        let cm = try kubectl.run(["get", "cm", "kube-proxy", "-n", "kube-system", "-o", "json"]).stdout
        let edited = cm.replacingOccurrences(of: #"mode: \"\"\n"#, with: #"mode: ipvs\n"#)
        #expect(edited != cm)
        #expect(try kubectl.run(["replace", "-f", "-"], stdin: edited).status == 0)
        #expect(try kubectl.run(["rollout", "restart", "ds/kube-proxy", "-n", "kube-system"]).status == 0)
        #expect(try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=60s"]).status == 0)
        let pod = try kubectl.run(["get", "pods", "-n", "kube-system", "-o", "jsonpath={.items[0].metadata.name}"]).stdout
        let ipvsLogs = try kubectl.run(["logs", "-n", "kube-system", pod])
        #expect(ipvsLogs.stdout.contains("\"Using ipvs Proxier\""))
        #expect(!ipvsLogs.stdout.contains("Using iptables"))
    }

    @Test("a mode the node cannot run crash-loops with kube-proxy's error and the rollout stalls")
    func unsupportedModeCrashLoops() async throws {
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm(nodes: 2, ipvs: .absent))
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        #expect(try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=30s"]).status == 0)
        #expect(try kubectl.run(["patch", "cm", "kube-proxy", "-n", "kube-system", "--type", "json", "-p",
                                 #"[{"op":"replace","path":"/data/config.conf","value":"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\n"}]"#]).status == 0)
        #expect(try kubectl.run(["rollout", "restart", "ds/kube-proxy", "-n", "kube-system"]).status == 0)
        #expect(try await eventually {
            try kubectl.run(["get", "pods", "-n", "kube-system"]).stdout.contains("CrashLoopBackOff")
        })
        let pod = try kubectl.run(["get", "pods", "-n", "kube-system", "-o", "jsonpath={.items[?(@.status.containerStatuses[0].ready==false)].metadata.name}"]).stdout
        let logs = try kubectl.run(["logs", "-n", "kube-system", String(pod.split(separator: " ").first ?? "")])
        #expect(logs.stdout.contains("can't use the IPVS proxier: ipvs not supported"), "\(logs.stdout)\(logs.stderr)")
        let status = try kubectl.run(["rollout", "status", "ds/kube-proxy", "-n", "kube-system", "--timeout=2s"])
        #expect(status.status != 0)
    }

    @Test("auth can-i follows the token user's RBAC from the scenario")
    func authCanI() async throws {
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm())
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        let cases: [([String], Bool)] = [
            (["get", "configmaps", "-n", "kube-system"], true),
            (["update", "configmaps", "-n", "kube-system"], false),
            (["get", "configmaps", "-n", "default"], false),
            (["patch", "daemonsets.apps", "-n", "kube-system"], true),
            (["delete", "pods", "-n", "kube-system"], false),
            (["list", "nodes"], true),
        ]
        for (args, expected) in cases {
            let result = try kubectl.run(["auth", "can-i", "--context", "kube-sim-token"] + args)
            #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == (expected ? "yes" : "no"), "\(args): \(result.stdout) \(result.stderr)")
            #expect(result.status == (expected ? 0 : 1))
        }
        let admin = try kubectl.run(["auth", "can-i", "delete", "pods", "-n", "kube-system"])
        #expect(admin.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "yes")
        // The API enforces the same rules it reports.
        let denied = try kubectl.run(["--context", "kube-sim-token", "delete", "pods", "--all", "-n", "kube-system"])
        #expect(denied.status != 0)
        #expect(denied.stderr.contains(#"User "operator" cannot list resource "pods" in API group "" in the namespace "kube-system""#))
        let allowed = try kubectl.run(["--context", "kube-sim-token", "get", "cm", "kube-proxy", "-n", "kube-system"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
    }

    @Test("replace with a stale resourceVersion is answered 409 Conflict")
    func staleReplace() async throws {
        let sim = try await KubeSimServer.start(scenario: try Fixtures.kubeadm())
        defer { Task { try await sim.shutdown() } }
        let kubectl = try Kubectl(sim)
        let stale = try kubectl.run(["get", "cm", "kube-proxy", "-n", "kube-system", "-o", "json"]).stdout
        #expect(try kubectl.run(["label", "cm", "kube-proxy", "-n", "kube-system", "changed=now"]).status == 0)
        let result = try kubectl.run(["replace", "-f", "-"], stdin: stale)
        #expect(result.status == 1)
        #expect(result.stderr.contains(#"Operation cannot be fulfilled on configmaps "kube-proxy": the object has been modified; please apply your changes to the latest version and try again"#), "\(result.stderr)")
        #expect(sim.requestCounts["update configmaps"] == 1)
    }
}
}
