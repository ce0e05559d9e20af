import Foundation

/// The cluster objects flavour detection reads, as KPSwitch fetched them from the API server.
///
/// Only the fields detection needs are decoded; everything else in the JSON is ignored, so the same
/// values can be filled from `kubectl get -o json` output, KubeAPI responses or test fixtures.
public struct KubeProxyObjects: Sendable {
    /// DaemonSets of the kube-proxy namespace (all of them: Cilium and Calico are recognised too).
    public var daemonSets: [DaemonSet]
    /// ConfigMaps of the kube-proxy namespace.
    public var configMaps: [ConfigMap]
    /// Pods of the kube-proxy namespace that look like kube-proxy (label `k8s-app=kube-proxy` or name `kube-proxy-*`).
    public var pods: [Pod]
    public var nodes: [ClusterNode]
    /// `operator.tigera.io/v1` Installations, when the CRD exists.
    public var calicoInstallations: [CalicoInstallation]

    public init(
        daemonSets: [DaemonSet] = [], configMaps: [ConfigMap] = [], pods: [Pod] = [], nodes: [ClusterNode] = [],
        calicoInstallations: [CalicoInstallation] = []
    ) {
        self.daemonSets = daemonSets
        self.configMaps = configMaps
        self.pods = pods
        self.nodes = nodes
        self.calicoInstallations = calicoInstallations
    }

    /// Decodes API JSON: each argument is a List (`{"items": [...]}`) or a single object.
    public init(
        daemonSets: Data, configMaps: Data, pods: Data, nodes: Data, calicoInstallations: Data? = nil
    ) throws(ProxyConfigError) {
        self.init(
            daemonSets: try Self.items(daemonSets, "DaemonSets"),
            configMaps: try Self.items(configMaps, "ConfigMaps"),
            pods: try Self.items(pods, "Pods"),
            nodes: try Self.items(nodes, "Nodes"),
            calicoInstallations: try calicoInstallations.map { data throws(ProxyConfigError) in try Self.items(data, "Installations") } ?? [])
    }

    /// A List has `items`; a single object has none, so an object is decoded whole.
    private struct List<Item: Decodable>: Decodable { let items: [Item]? }

    static func items<Item: Decodable>(_ data: Data, _ what: String) throws(ProxyConfigError) -> [Item] {
        let decoder = JSONDecoder()
        do {
            if let items = try decoder.decode(List<Item>.self, from: data).items { return items }
            return [try decoder.decode(Item.self, from: data)]
        } catch {
            throw ProxyConfigError(
                .unparsable, "the \(what) JSON could not be decoded (\(error)).",
                remediation: "Pass the API server's JSON for \(what) unchanged.")
        }
    }
}

extension KubeProxyObjects {
    /// The metadata fields detection reads: labels, annotations, owners and field managers.
    public struct ObjectMeta: Codable, Hashable, Sendable {
        public var name: String
        public var namespace: String?
        public var labels: [String: String]?
        public var annotations: [String: String]?
        public var ownerReferences: [OwnerReference]?
        public var managedFields: [ManagedField]?

        public init(name: String, namespace: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil,
                    ownerReferences: [OwnerReference]? = nil, managedFields: [ManagedField]? = nil) {
            self.name = name
            self.namespace = namespace
            self.labels = labels
            self.annotations = annotations
            self.ownerReferences = ownerReferences
            self.managedFields = managedFields
        }

        func label(_ key: String) -> String? { labels?[key] }
        var managers: [String] { managedFields?.compactMap(\.manager) ?? [] }
    }

    /// An owner: `Node` for the mirror pods of static manifests, `DaemonSet` for DaemonSet pods.
    public struct OwnerReference: Codable, Hashable, Sendable {
        public var kind: String
        public var name: String
        public init(kind: String, name: String) {
            self.kind = kind
            self.name = name
        }
    }

    /// A managedFields entry; the EKS managed add-on writes as manager `eks`.
    public struct ManagedField: Codable, Hashable, Sendable {
        public var manager: String?
        public init(manager: String?) { self.manager = manager }
    }

    /// A DaemonSet: its pod template and how many pods it schedules.
    public struct DaemonSet: Codable, Hashable, Sendable {
        public struct Spec: Codable, Hashable, Sendable { public var template: PodTemplate }
        public struct PodTemplate: Codable, Hashable, Sendable { public var spec: PodSpec }
        public struct Status: Codable, Hashable, Sendable { public var desiredNumberScheduled: Int? }
        public var metadata: ObjectMeta
        public var spec: Spec
        public var status: Status?

        public init(metadata: ObjectMeta, podSpec: PodSpec, desiredNumberScheduled: Int? = nil) {
            self.metadata = metadata
            spec = Spec(template: PodTemplate(spec: podSpec))
            status = desiredNumberScheduled.map { Status(desiredNumberScheduled: $0) }
        }
    }

    /// The pod template fields that hold kube-proxy's command, args and volumes.
    public struct PodSpec: Codable, Hashable, Sendable {
        public var containers: [Container]
        public var volumes: [Volume]?
        public var nodeSelector: [String: String]?
        public init(containers: [Container], volumes: [Volume]? = nil, nodeSelector: [String: String]? = nil) {
            self.containers = containers
            self.volumes = volumes
            self.nodeSelector = nodeSelector
        }
    }

    /// A container: command, args and mounts locate the mode; env reveals Calico's eBPF switch.
    public struct Container: Codable, Hashable, Sendable {
        public struct VolumeMount: Codable, Hashable, Sendable {
            public var name: String
            public var mountPath: String
            public var subPath: String?
            public init(name: String, mountPath: String, subPath: String? = nil) {
                self.name = name
                self.mountPath = mountPath
                self.subPath = subPath
            }
        }
        public struct EnvVar: Codable, Hashable, Sendable {
            public var name: String
            public var value: String?
            public init(name: String, value: String?) {
                self.name = name
                self.value = value
            }
        }
        public var name: String
        public var image: String?
        public var command: [String]?
        public var args: [String]?
        public var volumeMounts: [VolumeMount]?
        public var env: [EnvVar]?

        public init(name: String, image: String? = nil, command: [String]? = nil, args: [String]? = nil,
                    volumeMounts: [VolumeMount]? = nil, env: [EnvVar]? = nil) {
            self.name = name
            self.image = image
            self.command = command
            self.args = args
            self.volumeMounts = volumeMounts
            self.env = env
        }
    }

    /// A pod volume; only ConfigMap volumes can carry a configuration kpswitch edits.
    public struct Volume: Codable, Hashable, Sendable {
        public struct ConfigMapSource: Codable, Hashable, Sendable {
            public struct Item: Codable, Hashable, Sendable {
                public var key: String
                public var path: String
                public init(key: String, path: String) {
                    self.key = key
                    self.path = path
                }
            }
            public var name: String
            public var items: [Item]?
            public init(name: String, items: [Item]? = nil) {
                self.name = name
                self.items = items
            }
        }
        public struct HostPathSource: Codable, Hashable, Sendable { public var path: String }
        public var name: String
        public var configMap: ConfigMapSource?
        public var hostPath: HostPathSource?
        public init(name: String, configMap: ConfigMapSource? = nil, hostPath: String? = nil) {
            self.name = name
            self.configMap = configMap
            self.hostPath = hostPath.map(HostPathSource.init)
        }
    }

    /// A ConfigMap with its data.
    public struct ConfigMap: Codable, Hashable, Sendable {
        public var metadata: ObjectMeta
        public var data: [String: String]?
        public init(metadata: ObjectMeta, data: [String: String]? = nil) {
            self.metadata = metadata
            self.data = data
        }
    }

    /// A pod, read for static (mirror) kube-proxy pods.
    public struct Pod: Codable, Hashable, Sendable {
        public var metadata: ObjectMeta
        public init(metadata: ObjectMeta) { self.metadata = metadata }
    }

    /// A node: kubelet version and OS image identify k3s, RKE2, EKS and Talos; labels AKS and GKE.
    public struct ClusterNode: Codable, Hashable, Sendable {
        public struct Status: Codable, Hashable, Sendable {
            public struct NodeInfo: Codable, Hashable, Sendable {
                public var kubeletVersion: String?
                public var osImage: String?
            }
            public var nodeInfo: NodeInfo?
        }
        public var metadata: ObjectMeta
        public var status: Status?
        public init(metadata: ObjectMeta, kubeletVersion: String? = nil, osImage: String? = nil) {
            self.metadata = metadata
            status = Status(nodeInfo: Status.NodeInfo(kubeletVersion: kubeletVersion, osImage: osImage))
        }
    }

    /// A Calico operator Installation; `linuxDataplane: BPF` means Calico replaces kube-proxy.
    public struct CalicoInstallation: Codable, Hashable, Sendable {
        public struct Spec: Codable, Hashable, Sendable {
            public struct CalicoNetwork: Codable, Hashable, Sendable { public var linuxDataplane: String? }
            public var calicoNetwork: CalicoNetwork?
        }
        public var metadata: ObjectMeta
        public var spec: Spec?
        public init(name: String = "default", linuxDataplane: String?) {
            metadata = ObjectMeta(name: name)
            spec = Spec(calicoNetwork: Spec.CalicoNetwork(linuxDataplane: linuxDataplane))
        }
    }
}
