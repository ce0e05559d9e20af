import KubeAPI

/// The pod that runs `NodeAgentScript` on one node, derived from kube-proxy's own pod template: the same
/// image (every node already pulls it, so air-gapped clusters and registry mirrors work), pull secrets,
/// tolerations and priority class, privileged in the host's network namespace with the `/lib/modules`
/// and `/run/xtables.lock` host mounts kube-proxy has — pinned to the node, never restarted, with a
/// deadline, and labelled so that any leftover can be found and deleted.
public struct NodeAgentPod: Sendable {
    public static let managedByLabel = "app.kubernetes.io/managed-by"
    public static let managedBy = "kpswitch"
    public static let namePrefix = "kpswitch-agent-"

    public let name: String
    public let node: String
    public let nonce: String
    public let pod: Pod

    /// The host paths the agent mounts where kube-proxy's template has them; added when it does not.
    static let hostMounts: [(volume: String, path: String, type: String, readOnly: Bool)] = [
        ("lib-modules", "/lib/modules", "Directory", true),
        ("xtables-lock", "/run/xtables.lock", "FileOrCreate", false),
    ]

    /// - Parameters:
    ///   - template: the kube-proxy DaemonSet's `spec.template`.
    ///   - image: `--node-image`, or nil for the kube-proxy container's image.
    ///   - program: what the pod runs; a facts program with a snapshot id also mounts that bundle's directory.
    public init(
        template: JSONValue, node: String, namespace: String, nonce: String, image: String?, deadlineSeconds: Int,
        program: NodeAgentProgram = .facts(snapshot: nil)
    ) throws(KPSwitchError) {
        let snapshot = program.snapshot
        let spec = template["spec"] ?? [:]
        let containers = spec["containers"]?.arrayValue ?? []
        guard let proxy = containers.first(where: { $0["name"]?.stringValue == "kube-proxy" }) ?? containers.first,
              let image = image ?? proxy["image"]?.stringValue else {
            throw KPSwitchError(
                status: .runtimeError, message: "kube-proxy's pod template has no container with an image to run the node agent in.",
                remediation: "Pass --node-image IMAGE (an image with sh, grep, wc, kmod, iptables, ipset and nft).")
        }
        let templateVolumes = spec["volumes"]?.arrayValue ?? []
        let templateMounts = proxy["volumeMounts"]?.arrayValue ?? []
        var volumes: [JSONValue] = []
        var mounts: [JSONValue] = []
        for mount in Self.hostMounts {
            let existing = templateVolumes.first { $0[path: ["hostPath", "path"]]?.stringValue == mount.path }
            let volumeName = existing?["name"]?.stringValue ?? mount.volume
            volumes.append(existing ?? ["name": .string(volumeName), "hostPath": ["path": .string(mount.path), "type": .string(mount.type)]])
            let mountPath = templateMounts.first { $0["name"]?.stringValue == volumeName }?["mountPath"]?.stringValue ?? mount.path
            mounts.append(["name": .string(volumeName), "mountPath": .string(mountPath), "readOnly": .bool(mount.readOnly)])
        }
        if let snapshot {
            // The image has no mkdir: the kubelet makes the directory (0755, the script narrows it to 0700).
            let path = "\(NodeAgentScript.snapshotRoot)/\(snapshot)"
            volumes.append(["name": "kpswitch-snapshot", "hostPath": ["path": .string(path), "type": "DirectoryOrCreate"]])
            mounts.append(["name": "kpswitch-snapshot", "mountPath": .string(path)])
        }
        name = Self.namePrefix + nonce
        self.node = node
        self.nonce = nonce
        var podSpec: JSONValue = [
            "nodeName": .string(node),
            "restartPolicy": "Never",
            "activeDeadlineSeconds": .int(Int64(deadlineSeconds)),
            "hostNetwork": true,
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 0,
            "containers": [[
                "name": "agent",
                "image": .string(image),
                "command": .array(
                    ["sh", "-c", .string(program.script), "kpswitch-agent", .string(nonce)] + program.arguments.map { .string($0) }),
                "securityContext": ["privileged": true],
                "volumeMounts": .array(mounts),
            ]],
            "volumes": .array(volumes),
        ]
        for key in ["imagePullSecrets", "tolerations", "priorityClassName"] {
            if let value = spec[key] { podSpec[key] = value }
        }
        pod = Pod(json: [
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": [
                "name": .string(name),
                "namespace": .string(namespace),
                "labels": [Self.managedByLabel: .string(Self.managedBy)],
            ],
            "spec": podSpec,
        ])
    }
}
