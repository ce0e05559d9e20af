import Foundation
import NodeState
import Snapshot

/// `snapshot verify` and `snapshot show`: reading a bundle, never changing it.
public enum SnapshotInspection {
    /// Checks every hash; throws naming each file that differs, is missing or is not listed.
    public static func verify(_ path: String) throws(KPSwitchError) -> SnapshotVerification {
        let bundle = try open(path)
        try requireIntact(bundle)
        return SnapshotVerification(bundle: path, files: bundle.manifest.files.count)
    }

    /// The manifest and what the captured rules program, per file.
    public static func show(_ path: String) throws(KPSwitchError) -> SnapshotSummary {
        let bundle = try open(path)
        let problems = bundle.verify()
        var programmed: [SnapshotSummary.Programmed] = []
        for variant in IPTablesVariant.all {
            let name = BundleLayout.iptables(variant)
            guard bundle.contains(name) else { continue }
            let ruleset: IPTablesRuleset
            do {
                ruleset = try IPTablesRuleset(parsing: String(decoding: try bundle.contents(of: name), as: UTF8.self))
            } catch let error as NodeStateError {
                throw KPSwitchError(error, while: "Reading \(name)")
            } catch let error as SnapshotError {
                throw KPSwitchError(error, while: "Reading \(name)")
            } catch {
                throw KPSwitchError(status: .runtimeError, message: "Reading \(name): \(error)")
            }
            programmed.append(.init(file: name, counts: ruleset.kubeProxyServices))
        }
        if bundle.contains(BundleLayout.nftables) {
            let text: String
            do {
                text = String(decoding: try bundle.contents(of: BundleLayout.nftables), as: UTF8.self)
            } catch {
                throw KPSwitchError(error, while: "Reading \(BundleLayout.nftables)")
            }
            programmed.append(.init(file: BundleLayout.nftables, counts: NFTTable.kubeProxyServices(inRuleset: text)))
        }
        if bundle.contains(BundleLayout.ipvsJSON) {
            // IPVS has no service names: each virtual server counts (a service port with a NodePort or
            // an external IP has several), and each of its real servers is an endpoint.
            let file: IPVSTableFile
            do {
                file = try IPVSTableFile.decode(try bundle.contents(of: BundleLayout.ipvsJSON))
            } catch let error as SnapshotError {
                throw KPSwitchError(error, while: "Reading \(BundleLayout.ipvsJSON)")
            } catch {
                throw KPSwitchError(status: .runtimeError, message: "Reading \(error)")
            }
            programmed.append(.init(
                file: BundleLayout.ipvsJSON,
                counts: ProgrammedServices(
                    servicePorts: file.services.count, endpoints: file.services.reduce(0) { $0 + $1.destinations.count })))
        }
        var clusterObjects: [SnapshotSummary.ClusterObject] = []
        for file in bundle.manifest.files where file.name.hasPrefix(BundleLayout.clusterDirectory) {
            clusterObjects.append(try clusterObject(bundle, file.name))
        }
        return SnapshotSummary(
            bundle: path, manifest: bundle.manifest, problems: problems.map(\.description), programmed: programmed,
            clusterObjects: clusterObjects)
    }

    static func clusterObject(_ bundle: SnapshotBundle, _ name: String) throws(KPSwitchError) -> SnapshotSummary.ClusterObject {
        let object: [String: Any]?
        do {
            object = try JSONSerialization.jsonObject(with: try bundle.contents(of: name)) as? [String: Any]
        } catch let error as SnapshotError {
            throw KPSwitchError(error, while: "Reading \(name)")
        } catch {
            throw KPSwitchError(
                status: .runtimeError, message: "Reading \(name): it is not JSON (\(error)).",
                remediation: "Use an intact bundle written by 'kpswitch snapshot'.")
        }
        let metadata = object?["metadata"] as? [String: Any]
        return SnapshotSummary.ClusterObject(
            file: name, kind: object?["kind"] as? String ?? "", namespace: metadata?["namespace"] as? String ?? "",
            name: metadata?["name"] as? String ?? "", resourceVersion: metadata?["resourceVersion"] as? String ?? "")
    }

    static func open(_ path: String) throws(KPSwitchError) -> SnapshotBundle {
        do {
            return try SnapshotBundle.open(URL(fileURLWithPath: path, isDirectory: true))
        } catch {
            throw KPSwitchError(error, while: "Opening the bundle \(path)")
        }
    }

    static func requireIntact(_ bundle: SnapshotBundle) throws(KPSwitchError) {
        let problems = bundle.verify()
        guard !problems.isEmpty else { return }
        throw KPSwitchError(
            status: .runtimeError,
            message: "Bundle \(bundle.url.path) failed verification: \(problems.map(\.description).joined(separator: "; ")).",
            remediation: "Do not restore from it; use an intact copy of the bundle.")
    }
}

/// `snapshot verify` found every file as the manifest describes it.
public struct SnapshotVerification: Report {
    public static let kind = "SnapshotVerification"

    public let bundle: String
    public let files: Int

    private enum CodingKeys: String, CodingKey { case bundle, files }
}

/// `snapshot show`: the manifest, whether the bundle is intact, and what its rules program.
public struct SnapshotSummary: Report {
    public static let kind = "SnapshotSummary"

    public struct Programmed: Encodable, Sendable {
        public let file: String
        public let servicePorts: Int
        public let endpoints: Int

        init(file: String, counts: ProgrammedServices) {
            self.file = file
            servicePorts = counts.servicePorts
            endpoints = counts.endpoints
        }

        private enum CodingKeys: String, CodingKey { case file, servicePorts, endpoints }
    }

    /// A kube-proxy object of the bundle's `cluster/` part.
    public struct ClusterObject: Encodable, Sendable {
        public let file: String
        public let kind: String
        public let namespace: String
        public let name: String
        public let resourceVersion: String

        private enum CodingKeys: String, CodingKey { case file, kind, namespace, name, resourceVersion }
    }

    public let bundle: String
    public let manifest: BundleManifest
    /// Verification problems; empty when every hash matches.
    public let problems: [String]
    public let programmed: [Programmed]
    public let clusterObjects: [ClusterObject]

    private enum CodingKeys: String, CodingKey { case bundle, manifest, problems, programmed, clusterObjects }
}
