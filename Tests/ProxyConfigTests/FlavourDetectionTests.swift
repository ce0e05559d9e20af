import Foundation
import Testing

@testable import ProxyConfig

@Suite("FlavourDetection")
struct FlavourDetectionTests {
    typealias Objects = KubeProxyObjects

    static func kubeadmObjects() throws -> Objects {
        let daemonSet = try Support.json(fromYAML: Support.fixture("kubeadm-v1.34-kube-proxy-daemonset.yaml"))
        let configMap = try Support.json(fromYAML: Support.fixture("kubeadm-v1.34-kube-proxy-configmap.yaml"))
        return try Objects(daemonSets: daemonSet, configMaps: configMap, pods: Data(#"{"items":[]}"#.utf8),
                           nodes: Data(#"{"items":[{"metadata":{"name":"controlplane"},"status":{"nodeInfo":{"kubeletVersion":"v1.34.0","osImage":"Ubuntu 24.04"}}}]}"#.utf8))
    }

    static func meta(_ name: String, labels: [String: String]? = nil, annotations: [String: String]? = nil,
                     owner: String? = nil, managers: [String]? = nil) -> Objects.ObjectMeta {
        Objects.ObjectMeta(name: name, namespace: "kube-system", labels: labels, annotations: annotations,
                           ownerReferences: owner.map { [Objects.OwnerReference(kind: $0, name: "x")] },
                           managedFields: managers?.map(Objects.ManagedField.init))
    }

    /// The EKS DaemonSet shape (containers-roadmap #143, flag dump in k/k #89126).
    static func eksDaemonSet(managers: [String]? = nil) -> Objects.DaemonSet {
        Objects.DaemonSet(
            metadata: meta("kube-proxy", labels: ["k8s-app": "kube-proxy", "eks.amazonaws.com/component": "kube-proxy"], managers: managers),
            podSpec: Objects.PodSpec(
                containers: [Objects.Container(
                    name: "kube-proxy", command: ["kube-proxy", "--v=2", "--config=/var/lib/kube-proxy-config/config", "--hostname-override=$(NODE_NAME)"],
                    volumeMounts: [Objects.Container.VolumeMount(name: "config", mountPath: "/var/lib/kube-proxy-config/"),
                                   Objects.Container.VolumeMount(name: "kubeconfig", mountPath: "/var/lib/kube-proxy/")])],
                volumes: [Objects.Volume(name: "kubeconfig", configMap: .init(name: "kube-proxy")),
                          Objects.Volume(name: "config", configMap: .init(name: "kube-proxy-config"))]))
    }

    static func eksConfigMap() throws -> Objects.ConfigMap {
        Objects.ConfigMap(metadata: meta("kube-proxy-config"),
                          data: ["config": try Support.configText(fixture: "eks-kube-proxy-config.yaml", key: "config")])
    }

    static func node(_ name: String, version: String = "v1.31.0", osImage: String = "Ubuntu", labels: [String: String]? = nil) -> Objects.ClusterNode {
        Objects.ClusterNode(metadata: Objects.ObjectMeta(name: name, labels: labels), kubeletVersion: version, osImage: osImage)
    }

    @Test("kubeadm fixtures: kubeadm, mode in ConfigMap kube-proxy key config.conf")
    func kubeadm() throws {
        let report = FlavourDetection.detect(try Self.kubeadmObjects())
        #expect(report.flavour == .kubeadm)
        #expect(report.blocker == nil)
        #expect(report.warnings.isEmpty)
        #expect(report.location == ModeLocation(daemonSet: "kube-proxy", container: "kube-proxy", source: .configMap(
            name: "kube-proxy", key: "config.conf", volume: "kube-proxy", configPath: "/var/lib/kube-proxy/config.conf")))
    }

    @Test("Kubespray: kubeadm objects plus nodelocaldns warn about the inventory")
    func kubespray() throws {
        var objects = try Self.kubeadmObjects()
        objects.daemonSets.append(Objects.DaemonSet(metadata: Self.meta("nodelocaldns"), podSpec: .init(containers: [.init(name: "node-cache")])))
        let report = FlavourDetection.detect(objects)
        #expect(report.flavour == .kubespray)
        #expect(report.blocker == nil)
        #expect(report.warnings.map(\.runbook.anchor) == ["kubespray"])
        #expect(report.warnings.first?.message.contains("kube_proxy_mode") == true)
    }

    @Test("EKS self-managed: ConfigMap kube-proxy-config key config")
    func eks() throws {
        let objects = Objects(daemonSets: [Self.eksDaemonSet()], configMaps: [try Self.eksConfigMap()],
                              nodes: [Self.node("ip-10-0-0-1", version: "v1.31.3-eks-59bf375")])
        let report = FlavourDetection.detect(objects)
        #expect(report.flavour == .eks)
        #expect(report.blocker == nil)
        #expect(report.location?.source == .configMap(name: "kube-proxy-config", key: "config", volume: "config",
                                                      configPath: "/var/lib/kube-proxy-config/config"))
    }

    @Test("EKS managed add-on: fields managed by eks warn that an add-on update overwrites the edit")
    func eksManagedAddon() throws {
        let objects = Objects(daemonSets: [Self.eksDaemonSet(managers: ["eks", "kube-controller-manager"])], configMaps: [try Self.eksConfigMap()])
        let report = FlavourDetection.detect(objects)
        #expect(report.flavour == .eksManagedAddon)
        #expect(report.blocker == nil)
        #expect(report.warnings.map(\.runbook.anchor) == ["eks-managed-add-on"])
    }

    @Test("refused flavours name the procedure and a runbook section", arguments: [
        ("talos", KubeProxyFlavour.talos, "talos"), ("k3s", .k3s, "k3s"), ("rke2", .rke2, "rke2"), ("aks", .aks, "aks"),
        ("gke", .gke, "gke"), ("kops", .kops, "kops"), ("cilium", .cilium, "kube-proxy-replaced"),
        ("calico", .calicoEBPF, "kube-proxy-replaced"), ("calico-disabled-ds", .calicoEBPF, "kube-proxy-replaced"),
        ("static", .staticPods, "static-pods"), ("absent", .absent, "kube-proxy-not-found"),
    ])
    func refused(scenario: String, flavour: KubeProxyFlavour, anchor: String) throws {
        let report = FlavourDetection.detect(try Self.scenario(scenario))
        #expect(report.flavour == flavour)
        let blocker = try #require(report.blocker)
        #expect(blocker.kind == .unsupportedFlavour)
        #expect(blocker.runbook == RunbookReference(file: "migrate.md", anchor: anchor))
        #expect(blocker.description.hasPrefix(flavour.rawValue + ": "))
        #expect(report.location == nil)
    }

    static func scenario(_ name: String) throws -> Objects {
        let kubeadm = try kubeadmObjects()
        let mirror = ["kubernetes.io/config.mirror": "abc", "kubernetes.io/config.source": "file"]
        switch name {
        case "talos":
            // Talos runs a DaemonSet of its own; the node's OS gives it away.
            return Objects(daemonSets: kubeadm.daemonSets, configMaps: kubeadm.configMaps,
                           nodes: [node("talos-cp", version: "v1.31.1", osImage: "Talos (v1.8.0)")])
        case "k3s":
            return Objects(nodes: [node("k3s-server", version: "v1.30.4+k3s1")])
        case "rke2":
            return Objects(pods: [Objects.Pod(metadata: meta("kube-proxy-node1", labels: ["component": "kube-proxy", "tier": "control-plane"],
                                                              annotations: mirror, owner: "Node"))],
                           nodes: [node("node1", version: "v1.30.4+rke2r1")])
        case "aks":
            return Objects(daemonSets: kubeadm.daemonSets, configMaps: kubeadm.configMaps,
                           nodes: [node("aks-nodepool1-0", labels: ["kubernetes.azure.com/cluster": "MC_rg_aks"])])
        case "gke":
            return Objects(pods: [Objects.Pod(metadata: meta("kube-proxy-gke-node-1", labels: ["component": "kube-proxy", "tier": "node"],
                                                              annotations: mirror, owner: "Node"))],
                           nodes: [node("gke-node-1", labels: ["cloud.google.com/gke-nodepool": "default-pool"])])
        case "kops":
            return Objects(pods: [Objects.Pod(metadata: meta("kube-proxy-i-0abc", labels: ["k8s-app": "kube-proxy", "tier": "node"],
                                                              annotations: mirror, owner: "Node"))])
        case "cilium":
            return Objects(daemonSets: [Objects.DaemonSet(metadata: meta("cilium", labels: ["k8s-app": "cilium"]), podSpec: .init(containers: [.init(name: "cilium-agent")]))],
                           configMaps: [Objects.ConfigMap(metadata: meta("cilium-config"), data: ["kube-proxy-replacement": "true"])])
        case "calico":
            return Objects(calicoInstallations: [Objects.CalicoInstallation(linuxDataplane: "BPF")])
        case "calico-disabled-ds":
            var daemonSet = kubeadm.daemonSets[0]
            daemonSet.spec.template.spec.nodeSelector = ["kubernetes.io/os": "linux", "non-calico": "true"]
            return Objects(daemonSets: [daemonSet], configMaps: kubeadm.configMaps,
                           calicoInstallations: [Objects.CalicoInstallation(linuxDataplane: "BPF")])
        case "static":
            return Objects(pods: [Objects.Pod(metadata: meta("kube-proxy-worker", labels: ["k8s-app": "kube-proxy"], annotations: mirror))])
        default:
            return Objects(pods: [Objects.Pod(metadata: meta("kube-proxy-abcde", labels: ["k8s-app": "kube-proxy"], owner: "DaemonSet"))])
        }
    }

    @Test("kops with useDaemonSet: DaemonSet-owned pods carry the same label and are not static")
    func kopsDaemonSet() throws {
        var objects = try Self.kubeadmObjects()
        objects.pods = [Objects.Pod(metadata: Self.meta("kube-proxy-x1", labels: ["k8s-app": "kube-proxy", "tier": "node"], owner: "DaemonSet"))]
        let report = FlavourDetection.detect(objects)
        #expect(report.blocker == nil)
        #expect(report.warnings.isEmpty)
    }

    @Test("a missing ConfigMap blocks migration with a clear message")
    func missingConfigMap() throws {
        var objects = try Self.kubeadmObjects()
        objects.configMaps = []
        let report = FlavourDetection.detect(objects)
        let blocker = try #require(report.blocker)
        #expect(blocker.kind == .notFound)
        #expect(blocker.message.contains("ConfigMap kube-proxy with key config.conf"))
    }

    @Test("malformed API JSON is an error naming the kind")
    func malformedJSON() throws {
        let error = try #require(throws: ProxyConfigError.self) {
            try Objects(daemonSets: Data("{\"items\": [{}]}".utf8), configMaps: Data("{}".utf8), pods: Data("{}".utf8), nodes: Data("{}".utf8))
        }
        #expect(error.message.contains("DaemonSets"))
    }
}
