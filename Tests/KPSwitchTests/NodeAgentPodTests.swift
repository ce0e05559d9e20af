import KubeAPI
import Testing

@testable import KPSwitch

@Suite("node agent pod")
struct NodeAgentPodTests {
    /// The pod template of kubeadm's kube-proxy DaemonSet (v1.34), plus a pull secret.
    static let template: JSONValue = [
        "metadata": ["labels": ["k8s-app": "kube-proxy"]],
        "spec": [
            "containers": [[
                "name": "kube-proxy",
                "image": "registry.k8s.io/kube-proxy:v1.34.0",
                "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"],
                "securityContext": ["privileged": true],
                "volumeMounts": [
                    ["mountPath": "/var/lib/kube-proxy", "name": "kube-proxy"],
                    ["mountPath": "/run/xtables.lock", "name": "xtables-lock"],
                    ["mountPath": "/lib/modules", "name": "lib-modules", "readOnly": true],
                ],
            ]],
            "hostNetwork": true,
            "nodeSelector": ["kubernetes.io/os": "linux"],
            "priorityClassName": "system-node-critical",
            "serviceAccountName": "kube-proxy",
            "imagePullSecrets": [["name": "mirror"]],
            "tolerations": [["operator": "Exists"]],
            "volumes": [
                ["name": "kube-proxy", "configMap": ["name": "kube-proxy"]],
                ["name": "xtables-lock", "hostPath": ["path": "/run/xtables.lock", "type": "FileOrCreate"]],
                ["name": "lib-modules", "hostPath": ["path": "/lib/modules", "type": ""]],
            ],
        ],
    ]

    @Test("kube-proxy's image, pull secrets, tolerations, priority and host mounts; pinned, never restarted, labelled")
    func fromTemplate() throws {
        let agent = try NodeAgentPod(
            template: Self.template, node: "worker-7", namespace: "kube-system", nonce: "abc123", image: nil, deadlineSeconds: 60)
        let spec = try #require(agent.pod.json["spec"])
        #expect(agent.name == "kpswitch-agent-abc123")
        #expect(agent.pod.json[path: ["metadata", "labels", "app.kubernetes.io/managed-by"]] == "kpswitch")
        #expect(spec["nodeName"] == "worker-7")
        #expect(spec["restartPolicy"] == "Never")
        #expect(spec["activeDeadlineSeconds"] == 60)
        #expect(spec["hostNetwork"] == true)
        #expect(spec["priorityClassName"] == "system-node-critical")
        #expect(spec["imagePullSecrets"] == [["name": "mirror"]])
        #expect(spec["tolerations"] == [["operator": "Exists"]])
        // Not kube-proxy's identity or node selector: the agent needs no API access and is pinned by nodeName.
        #expect(spec["serviceAccountName"] == nil && spec["nodeSelector"] == nil)
        #expect(spec["automountServiceAccountToken"] == false)
        let container = try #require(spec["containers"]?.arrayValue?.first)
        #expect(container["image"] == "registry.k8s.io/kube-proxy:v1.34.0")
        #expect(container[path: ["securityContext", "privileged"]] == true)
        #expect(container["command"] == ["sh", "-c", .string(NodeAgentScript.text), "kpswitch-agent", "abc123"])
        #expect(container["volumeMounts"] == [
            ["name": "lib-modules", "mountPath": "/lib/modules", "readOnly": true],
            ["name": "xtables-lock", "mountPath": "/run/xtables.lock", "readOnly": false],
        ])
        #expect(spec["volumes"]?.arrayValue?.compactMap { $0[path: ["hostPath", "path"]]?.stringValue } == ["/lib/modules", "/run/xtables.lock"])
        #expect(spec["volumes"]?.arrayValue?.contains { $0["configMap"] != nil } == false)
    }

    @Test("--node-image replaces the image; a template without the host mounts gets them")
    func overrides() throws {
        var bare = Self.template
        bare[path: ["spec", "volumes"]] = []
        let agent = try NodeAgentPod(
            template: bare, node: "n1", namespace: "kube-system", nonce: "x", image: "mirror.example/tools:1", deadlineSeconds: 30)
        #expect(agent.pod.json[path: ["spec", "containers"]]?.arrayValue?.first?["image"] == "mirror.example/tools:1")
        #expect(agent.pod.json[path: ["spec", "volumes"]] == [
            ["name": "lib-modules", "hostPath": ["path": "/lib/modules", "type": "Directory"]],
            ["name": "xtables-lock", "hostPath": ["path": "/run/xtables.lock", "type": "FileOrCreate"]],
        ])
    }

    @Test("a template with no container image is refused, pointing at --node-image")
    func noImage() {
        #expect {
            _ = try NodeAgentPod(template: ["spec": ["containers": []]], node: "n1", namespace: "kube-system", nonce: "x", image: nil, deadlineSeconds: 30)
        } throws: { error in
            (error as? KPSwitchError)?.remediation?.contains("--node-image") == true
        }
    }
}
