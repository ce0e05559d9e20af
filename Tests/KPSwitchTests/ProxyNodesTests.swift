import KubeAPI
import Testing
@testable import KPSwitch

/// Which nodes count for the node checks: those kube-proxy's DaemonSet runs on, as its controller picks them.
@Suite("the nodes kube-proxy runs on")
struct ProxyNodesTests {
    static func node(_ name: String, labels: [String: String] = [:], taints: [JSONValue] = []) -> Node {
        var all = ["kubernetes.io/os": "linux"]
        all.merge(labels) { _, new in new }
        return Node(json: [
            "metadata": ["name": .string(name), "labels": .object(all.mapValues { .string($0) })],
            "spec": ["taints": .array(taints)],
        ])
    }

    static func daemonSet(_ podSpec: JSONValue) -> DaemonSet {
        DaemonSet(json: ["metadata": ["name": "kube-proxy"], "spec": ["template": ["spec": podSpec]]])
    }

    @Test("EKS-style required affinity: Fargate nodes are not selected; the rest are")
    func affinity() {
        let spec: JSONValue = ["affinity": ["nodeAffinity": ["requiredDuringSchedulingIgnoredDuringExecution": ["nodeSelectorTerms": [
            ["matchExpressions": [
                ["key": "kubernetes.io/os", "operator": "In", "values": ["linux"]],
                ["key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["fargate"]],
            ]],
        ]]]]]
        let fleet = ProxyNodes(
            nodes: [Self.node("ec2-1"), Self.node("fargate-1", labels: ["eks.amazonaws.com/compute-type": "fargate"]),
                    Self.node("win-1", labels: ["kubernetes.io/os": "windows"])],
            daemonSet: Self.daemonSet(spec))
        #expect(fleet.nodes.map(\.name) == ["ec2-1"])
        #expect(fleet.leftOut == [.init(name: "fargate-1", reason: .notSelected), .init(name: "win-1", reason: .windows)])
        #expect(fleet.leftOutSentence == "left out of the counts: 1 Windows node (win-1), which run kube-proxy's Windows modes; "
            + "1 node that kube-proxy's DaemonSet does not select (fargate-1)")
    }

    @Test("nodeSelector and taints: an untolerated NoSchedule taint leaves a node out; the controller's own tolerations do not")
    func taints() {
        let gpuTaint: JSONValue = ["key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"]
        let unreachable: JSONValue = ["key": "node.kubernetes.io/unreachable", "effect": "NoExecute"]
        let nodes = [Self.node("a", labels: ["pool": "x"]), Self.node("gpu", labels: ["pool": "x"], taints: [gpuTaint]),
                     Self.node("gone", labels: ["pool": "x"], taints: [unreachable]), Self.node("other", labels: ["pool": "y"])]
        let narrow = ProxyNodes(nodes: nodes, daemonSet: Self.daemonSet(["nodeSelector": ["pool": "x"]]))
        #expect(narrow.nodes.map(\.name) == ["a", "gone"])
        let tolerant = ProxyNodes(nodes: nodes, daemonSet: Self.daemonSet([
            "nodeSelector": ["pool": "x"], "tolerations": [["key": "nvidia.com/gpu", "operator": "Equal", "value": "true"]],
        ]))
        #expect(tolerant.nodes.map(\.name) == ["a", "gpu", "gone"])
        // kubeadm's kube-proxy tolerates everything.
        let kubeadm = ProxyNodes(nodes: nodes, daemonSet: Self.daemonSet(["tolerations": [["operator": "Exists"]]]))
        #expect(kubeadm.nodes.count == 4 && kubeadm.leftOutSentence == nil)
    }
}
