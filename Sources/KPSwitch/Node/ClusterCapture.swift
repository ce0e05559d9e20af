import Foundation
import KubeAPI
import Logging
import Snapshot

/// The cluster part of a bundle, under `cluster/`: kube-proxy's DaemonSet and every ConfigMap its pod
/// template mounts (kubeadm: `kube-proxy`; EKS: `kube-proxy` and `kube-proxy-config`), each file the
/// body the API server sent for a GET of that object, byte for byte.
struct ClusterCapture: BundleCapture {
    let access: ClusterAccess
    var logger = Logger(label: "kpswitch.snapshot")

    var files: [String] { [BundleLayout.clusterDirectory] }

    struct Object: Sendable {
        let file: String
        let body: Data
    }

    func capture(into writer: BundleWriter) async throws(KPSwitchError) -> [BundleManifest.Skipped] {
        let namespace = access.namespace
        let read: (objects: [Object], skipped: [BundleManifest.Skipped])
        do {
            read = try await access.withClient(logger: logger) { client in
                try await Self.read(client: client, namespace: namespace)
            }
        } catch {
            throw KPSwitchError(
                status: error.status, message: "capturing \(BundleLayout.clusterDirectory): \(error.message)",
                remediation: error.remediation
                    ?? "Check the kubeconfig (--kubeconfig, --context) and that it may get DaemonSets and ConfigMaps in \(namespace).",
                runbook: error.runbook)
        }
        for object in read.objects {
            do {
                try writer.write(object.file, contents: object.body)
            } catch {
                throw KPSwitchError(error, while: "capturing \(object.file)")
            }
        }
        return read.skipped
    }

    static func file(kind: String, name: String) -> String {
        "\(BundleLayout.clusterDirectory)\(kind.lowercased())-\(name).json"
    }

    static func read(client: KubeClient, namespace: String) async throws -> (objects: [Object], skipped: [BundleManifest.Skipped]) {
        let (report, _, _) = try await KubeProxyState.detect(client: client, namespace: namespace)
        guard let name = report.location?.daemonSet else {
            throw KPSwitchError(
                status: .runtimeError,
                message: "no kube-proxy DaemonSet kpswitch can read in namespace \(namespace) (flavour \(report.flavour.rawValue): \(report.evidence.joined(separator: "; "))).",
                remediation: report.blocker?.remediation ?? "Check -n/--namespace: kube-proxy's DaemonSet lives there.")
        }
        let daemonSet = try await client.getRaw(DaemonSet.self, name: name, namespace: namespace)
        var objects = [Object(file: file(kind: "DaemonSet", name: name), body: daemonSet.body)]
        var skipped: [BundleManifest.Skipped] = []
        for configMap in configMapNames(daemonSet.object) {
            let path = file(kind: "ConfigMap", name: configMap)
            do throws(KubeAPIError) {
                objects.append(Object(file: path, body: try await client.getRaw(ConfigMap.self, name: configMap, namespace: namespace).body))
            } catch {
                guard error.code == 404 else { throw error }
                // An optional volume's ConfigMap may be absent; the pods run without it, so the record says so.
                skipped.append(.init(name: path, reason: "DaemonSet \(name) mounts ConfigMap \(configMap), which does not exist"))
            }
        }
        return (objects, skipped)
    }

    /// ConfigMaps the pod template mounts, directly or through a projected volume, in volume order.
    static func configMapNames(_ daemonSet: DaemonSet) -> [String] {
        var names: [String] = []
        for volume in daemonSet.templateVolumes {
            var found = [volume[path: ["configMap", "name"]]?.stringValue]
            for source in volume[path: ["projected", "sources"]]?.arrayValue ?? [] {
                found.append(source[path: ["configMap", "name"]]?.stringValue)
            }
            for name in found.compactMap({ $0 }) where !names.contains(name) {
                names.append(name)
            }
        }
        return names
    }
}
