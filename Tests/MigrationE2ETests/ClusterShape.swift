import Foundation
@testable import KubeSim

/// The two kube-proxy layouts kpswitch must handle: kubeadm's (ConfigMap `kube-proxy`, key `config.conf`, as in
/// Scenarios/demo.yaml) and EKS's self-managed add-on (ConfigMap `kube-proxy-config`, key `config`, as in
/// Scenarios/eks.yaml), built from the same object files the scenarios load.
enum ClusterShape: String, CaseIterable, Sendable, CustomStringConvertible {
    case kubeadm
    case eks

    var description: String { rawValue }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    var configMapName: String { self == .kubeadm ? "kube-proxy" : "kube-proxy-config" }
    var configKey: String { self == .kubeadm ? "config.conf" : "config" }
    var kubernetesVersion: String { self == .kubeadm ? "v1.34.0" : "v1.31.0" }

    private var objectFiles: [String] {
        switch self {
        case .kubeadm: ["kubeadm-v1.34-kube-proxy-configmap.yaml", "kubeadm-v1.34-kube-proxy-daemonset.yaml"]
        case .eks: ["eks-kube-proxy-config.yaml", "eks-kube-proxy-kubeconfig.yaml", "eks-kube-proxy-daemonset.yaml"]
        }
    }

    /// How each layout writes a mode in its own file: kubeadm leaves iptables as `mode: ""` (its default),
    /// the EKS fixture quotes the value.
    func modeLine(_ mode: String) -> String {
        switch self {
        case .kubeadm: mode == "iptables" ? "mode: \"\"" : "mode: \(mode)"
        case .eks: "mode: \"\(mode)\""
        }
    }

    /// The layout's objects with kube-proxy configured for `mode`.
    func objects(mode: String) throws -> [JSONValue] {
        var objects = try objectFiles.flatMap {
            try Scenario.loadObjects(from: Self.packageRoot.appendingPathComponent("Scenarios/objects/\($0)").path)
        }
        for index in objects.indices where objects[index][path: ["metadata", "name"]]?.stringValue == configMapName
            && objects[index]["kind"]?.stringValue == "ConfigMap"
        {
            guard let text = objects[index][path: ["data", configKey]]?.stringValue else {
                throw E2EFailure("\(configMapName) has no key \(configKey)")
            }
            let lines = text.components(separatedBy: "\n").map { $0.hasPrefix("mode:") ? modeLine(mode) : $0 }
            objects[index][path: ["data", configKey]] = .string(lines.joined(separator: "\n"))
        }
        return objects
    }

    /// Nodes of this layout: kubeadm's control plane plus workers on Debian 12, or EKS workers on Amazon Linux 2023
    /// (kernel 6.1, so that nftables is possible on both).
    func nodeGroups(workers: Int, ipvs: Scenario.IPVSSupport = .loadable) -> [Scenario.NodeGroup] {
        switch self {
        case .kubeadm:
            [Scenario.NodeGroup(namePrefix: "control-plane", count: 1, ipvs: ipvs, controlPlane: true),
             Scenario.NodeGroup(namePrefix: "worker", count: workers, ipvs: ipvs)]
        case .eks:
            [Scenario.NodeGroup(namePrefix: "ip-10-0-1", count: workers, kernelVersion: "6.1.115-126.197.amzn2023.x86_64",
                                ipvs: ipvs == .loadable ? .loaded : ipvs, nftVersion: "1.0.9", osImage: "Amazon Linux 2023")]
        }
    }

    func scenario(mode: String, workers: Int = 2, faults: Scenario.Faults = Scenario.Faults(),
                  nodeGroups: [Scenario.NodeGroup]? = nil) throws -> Scenario {
        // Netfilter nodes: their kube-proxy programs real rules, which the migration's verification counts.
        let groups = (nodeGroups ?? self.nodeGroups(workers: workers)).map { group in
            var group = group
            group.netfilter = true
            return group
        }
        return Scenario(kubernetesVersion: kubernetesVersion, objects: try objects(mode: mode), nodeGroups: groups,
                        services: Scenario.Services(count: 4), faults: faults, podStartDelay: .milliseconds(100))
    }
}
