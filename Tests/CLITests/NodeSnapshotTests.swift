import Foundation
import Testing

@testable import KubeSim

/// `snapshot --scope nodes` and `snapshot show ID` against kube-sim, whose agent pods really run the script
/// and write into each node's own persistent `/var/lib/kpswitch`: the files are read back from there.
@Suite("node snapshots through agent pods", .serialized)
struct NodeSnapshotTests {
    /// What the bundle directory of `id` on `node` holds, by file name.
    static func files(_ cluster: MigrateTests.Cluster, node: String, id: String) throws -> [String: Data] {
        let directory = cluster.sim.cluster.kubelet.hostDirectory(node: node).appendingPathComponent("snapshots/\(id)")
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            files[name] = try Data(contentsOf: directory.appendingPathComponent(name))
        }
        return files
    }

    static func mode(_ path: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path.path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    static func lines(_ data: Data) -> Int { data.count { $0 == UInt8(ascii: "\n") } }

    /// The reported files of each node, checked against what that node's directory holds.
    static func expectReportMatchesFiles(_ cluster: MigrateTests.Cluster, _ report: [String: Any]) throws {
        let id = try #require(report["id"] as? String)
        for node in report["nodes"] as? [[String: Any]] ?? [] where node["snapshotted"] as? Bool == true {
            let name = try #require(node["node"] as? String)
            let bundle = try #require(node["bundle"] as? [String: Any])
            #expect(bundle["directory"] as? String == "/var/lib/kpswitch/snapshots/\(id)")
            let onNode = try files(cluster, node: name, id: id)
            let reported = bundle["files"] as? [[String: Any]] ?? []
            #expect(Set(reported.compactMap { $0["name"] as? String }) == Set(onNode.keys), "\(name): \(reported) vs \(onNode.keys)")
            for file in reported {
                let fileName = try #require(file["name"] as? String)
                let data = try #require(onNode[fileName])
                #expect(file["size"] as? Int == data.count, "\(name) \(fileName)")
                #expect(file["lines"] as? Int == lines(data), "\(name) \(fileName)")
                if fileName.hasPrefix("iptables-") {
                    let rules = String(decoding: data, as: UTF8.self).split(separator: "\n").count { $0.hasPrefix("-A ") }
                    #expect(file["rules"] as? Int == rules, "\(name) \(fileName)")
                }
                let path = cluster.sim.cluster.kubelet.hostDirectory(node: name).appendingPathComponent("snapshots/\(id)/\(fileName)")
                #expect(try mode(path) == 0o600, "\(name) \(fileName)")
            }
            let directory = cluster.sim.cluster.kubelet.hostDirectory(node: name).appendingPathComponent("snapshots/\(id)")
            #expect(try mode(directory) == 0o700, "\(name)")
            let sysctls = try #require(onNode["sysctl.json"])
            #expect((try JSONSerialization.jsonObject(with: sysctls) as? [String: Any])?["net.ipv4.ip_forward"] != nil, "\(name)")
            // The rule text stays on the node: the stored report holds names and counts only.
            if let ipvs = onNode["ip_vs.proc"] {
                let text = String(decoding: ipvs, as: UTF8.self)
                #expect(text.hasPrefix("IP Virtual Server version"), "\(name)")
                #expect(bundle["ipvsServices"] as? Int == 0 && bundle["ipvsDestinations"] as? Int == 0, "\(name): \(bundle)")
            } else {
                #expect(bundle["ipvsServices"] == nil, "\(name): \(bundle)")
            }
        }
    }

    /// kubeadm's objects on a control-plane node, `others`, and `never-1`, whose kubelet never starts an agent pod.
    static func withNeverStartingNode(_ others: [Scenario.NodeGroup] = []) throws -> Scenario {
        var scenario = try MigrateTests.kubeadm()
        var never = Scenario.NodeGroup(namePrefix: "never", count: 1, ipvs: .loaded)
        never.startsAgents = false
        scenario.nodeGroups = [.init(namePrefix: "control-plane", count: 1, ipvs: .loaded, controlPlane: true)] + others + [never]
        return scenario
    }

    static func agentPods(_ cluster: MigrateTests.Cluster) throws -> [String] {
        try NodeAgentPreflightTests.Untouched(cluster).agentPods
    }

    @Test("every node writes its bundle into its own /var/lib/kpswitch (0700, files 0600), and snapshot show lists every node's files and counts as they are on the node")
    func everyNode() async throws {
        var scenario = try MigrateTests.kubeadm()
        scenario.nodeGroups = [
            .init(namePrefix: "control-plane", count: 1, ipvs: .loaded, controlPlane: true),
            .init(namePrefix: "worker", count: 2, ipvs: .loadable),
        ]
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let (taken, takenJSON) = try cluster.kpswitch(["snapshot", "--scope", "nodes"])
        let id = takenJSON["id"] as? String ?? ""
        let (shown, shownJSON) = try cluster.kpswitch(["snapshot", "show", id])
        let text = try KPSwitchBinary.run(["snapshot", "show", id, "--kubeconfig", cluster.kubeconfig])
        let configMap = try cluster.get("configmap", "kpswitch-snapshot-\(id)")
        let pods = try Self.agentPods(cluster)
        try Self.expectReportMatchesFiles(cluster, takenJSON)
        try await cluster.stop()

        #expect(taken.status == 0, "\(taken.stderr)")
        #expect(takenJSON["kind"] as? String == "NodeSnapshot", "\(taken.stdout)")
        let nodes = takenJSON["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.compactMap { $0["node"] as? String } == ["control-plane", "worker-1", "worker-2"])
        #expect(nodes.allSatisfy { $0["snapshotted"] as? Bool == true }, "\(nodes)")
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shownJSON["nodes"] as? NSArray == takenJSON["nodes"] as? NSArray)
        #expect(text.status == 0 && text.stdout.hasPrefix("node snapshot \(id): 3 of 3 nodes snapshotted"), "\(text.stdout)")
        #expect(text.stdout.contains("  snapshotted control-plane: /var/lib/kpswitch/snapshots/\(id), IPVS 0 virtual servers, 0 real servers\n"), "\(text.stdout)")
        #expect(text.stdout.contains("    sysctl.json  "), "\(text.stdout)")
        let metadata = configMap?["metadata"] as? [String: Any]
        #expect((metadata?["labels"] as? [String: String])?["app.kubernetes.io/managed-by"] == "kpswitch", "\(String(describing: configMap))")
        #expect(pods.isEmpty, "\(pods)")
    }

    @Test("a 500 answering an access review and a 500 answering an agent pod's create are asked again: every node is snapshotted")
    func transientErrors() async throws {
        var scenario = try MigrateTests.kubeadm()
        scenario.nodeGroups = [
            .init(namePrefix: "control-plane", count: 1, ipvs: .loaded, controlPlane: true),
            .init(namePrefix: "worker", count: 2, ipvs: .loaded),
        ]
        let cluster = try await MigrateTests.Cluster.start(scenario)
        cluster.sim.faults.failNext(verb: "create", resource: "selfsubjectaccessreviews", code: 500)
        cluster.sim.faults.failNext(verb: "create", resource: "pods", code: 500)
        let before = cluster.sim.requestCounts
        let (taken, json) = try cluster.kpswitch(["snapshot", "--scope", "nodes"])
        let served = cluster.sim.requestCounts.merging(before) { after, before in after - before }
        let pods = try Self.agentPods(cluster)
        try await cluster.stop()

        #expect(taken.status == 0, "\(taken.stdout)\(taken.stderr)")
        let nodes = json["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.count == 3 && nodes.allSatisfy { $0["snapshotted"] as? Bool == true }, "\(json)")
        // Four reviews and three pods, each one of them asked once more.
        #expect(served["create selfsubjectaccessreviews"] == 5 && served["create pods"] == 4, "\(served)")
        #expect(pods.isEmpty, "\(pods)")
    }

    @Test("a node that never starts agents is listed as not snapshotted with the reason, the others are, and the command exits 1")
    func neverStarts() async throws {
        let scenario = try Self.withNeverStartingNode()
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let (taken, json) = try cluster.kpswitch(["snapshot", "--scope", "nodes", "--node-timeout", "2s"])
        let id = json["id"] as? String ?? ""
        let text = try KPSwitchBinary.run(["snapshot", "show", id, "--kubeconfig", cluster.kubeconfig])
        let pods = try Self.agentPods(cluster)
        let neverDirectory = cluster.sim.cluster.kubelet.hostDirectory(node: "never-1").appendingPathComponent("snapshots/\(id)")
        let neverWrote = FileManager.default.fileExists(atPath: neverDirectory.path)
        try Self.expectReportMatchesFiles(cluster, json)
        try await cluster.stop()

        #expect(taken.status == 1, "\(taken.stderr)")
        let nodes = json["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.map { $0["snapshotted"] as? Bool } == [true, false], "\(nodes)")
        #expect((nodes.last?["reason"] as? String)?.hasPrefix("its agent could not run: the agent pod did not finish within 2s (+15s)") == true, "\(nodes)")
        #expect(!neverWrote)
        #expect(text.status == 0 && text.stdout.contains("  not snapshotted never-1: its agent could not run: "), "\(text.stdout)")
        #expect(pods.isEmpty, "\(pods)")
    }

    /// `kpswitch-state` as the migration left it: the decoded node snapshot and the history.
    static func state(_ cluster: MigrateTests.Cluster) throws -> (nodeSnapshot: [String: Any], history: [[String: Any]]) {
        let data = try #require(try cluster.get("configmap", "kpswitch-state")?["data"] as? [String: String])
        let snapshot = try JSONSerialization.jsonObject(with: Data((data["nodeSnapshot"] ?? "{}").utf8)) as? [String: Any] ?? [:]
        let history = try JSONSerialization.jsonObject(with: Data((data["history"] ?? "[]").utf8)) as? [[String: Any]] ?? []
        return (snapshot, history)
    }

    @Test("a migration has every node write its bundle in the back-up step, before its first change, and the record keeps every node's counts")
    func migrationSnapshotsFirst() async throws {
        let cluster = try await MigrateTests.Cluster.start(try MigrateTests.kubeadm())
        let nodes = try #require(try cluster.get("nodes", nil)?["items"] as? [[String: Any]]).compactMap {
            ($0["metadata"] as? [String: Any])?["name"] as? String
        }
        let (migrated, _) = try cluster.kpswitch(["migrate", "--to", "nftables", "--yes"])
        let (snapshot, history) = try Self.state(cluster)
        let report = snapshot["report"] as? [String: Any] ?? [:]
        let id = snapshot["id"] as? String ?? ""
        var written: [String: Date] = [:]
        for node in nodes {
            let directory = cluster.sim.cluster.kubelet.hostDirectory(node: node).appendingPathComponent("snapshots/\(id)")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] {
                written["\(node)/\(name)"] = try FileManager.default.attributesOfItem(
                    atPath: directory.appendingPathComponent(name).path)[.modificationDate] as? Date
            }
        }
        let (shown, shownJSON) = try cluster.kpswitch(["snapshot", "show", id])
        try Self.expectReportMatchesFiles(cluster, report)
        let pods = try Self.agentPods(cluster)
        try await cluster.stop()

        #expect(migrated.status == 0, "\(migrated.stderr)")
        // With -o json the progress goes to stderr.
        #expect(migrated.stderr.contains("node snapshot \(id): \(nodes.count) of \(nodes.count) nodes snapshotted"), "\(migrated.stderr)")
        let reported = report["nodes"] as? [[String: Any]] ?? []
        #expect(reported.compactMap { $0["node"] as? String }.sorted() == nodes.sorted(), "\(report)")
        #expect(reported.allSatisfy { $0["snapshotted"] as? Bool == true }, "\(reported)")
        #expect(Set(written.keys.map { String($0.split(separator: "/")[0]) }) == Set(nodes), "\(written.keys)")
        // Ordering, from the record: the back-up step completed before the first step that changes anything
        // started, and every file on every node is older than that start (the history counts whole seconds).
        let events = history.compactMap { $0["event"] as? String }
        let backedUp = try #require(events.firstIndex(of: "completed: recording the original configuration"))
        let firstChange = try #require(events.firstIndex(of: "started: creating the staged ConfigMap"))
        #expect(backedUp < firstChange)
        let changeTime = try #require((history[firstChange]["time"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
        for (file, time) in written {
            #expect(time.timeIntervalSince1970.rounded(.down) <= changeTime.timeIntervalSince1970, "\(file) written at \(time), after \(changeTime)")
        }
        // The record is what `snapshot show` reads when no ConfigMap of its own was written.
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shownJSON["nodes"] as? NSArray == report["nodes"] as? NSArray, "\(shownJSON)")
        #expect(pods.isEmpty, "\(pods)")
    }

    @Test("a node that never starts agents fails the back-up step: nothing changes, the Lease is released, no pod is left; --ignore-preflight-errors=NodeSnapshot migrates and records it as not snapshotted")
    func migrationRefusesUnsnapshotted() async throws {
        let scenario = try Self.withNeverStartingNode([.init(namePrefix: "worker", count: 1)])
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let before = try ClusterFactsPreflightTests.resourceVersions(cluster)
        let (refused, refusedJSON) = try cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--node-timeout", "2s"])
        let after = try ClusterFactsPreflightTests.resourceVersions(cluster)
        let lease = try cluster.get("lease", "kpswitch")
        let podsAfterRefusal = try Self.agentPods(cluster)
        let (ignored, _) = try cluster.kpswitch(
            ["migrate", "--to", "nftables", "--yes", "--node-timeout", "2s", "--ignore-preflight-errors", "NodeSnapshot"])
        let (snapshot, _) = try Self.state(cluster)
        let pods = try Self.agentPods(cluster)
        try await cluster.stop()

        // Nothing had changed, so the run failed (exit 1) rather than rolled back.
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refusedJSON["outcome"] as? String == "failed", "\(refusedJSON)")
        let reason = refusedJSON["reason"] as? String ?? ""
        #expect(reason.contains("node never-1 could not be snapshotted") || reason.contains("1 of 3 nodes: never-1 could not be snapshotted"), "\(reason)")
        #expect(reason.contains("kpswitch changed nothing") && reason.contains("--ignore-preflight-errors=NodeSnapshot"), "\(reason)")
        #expect(before == after, "\(before) \(after)")
        #expect(lease == nil || (lease?["spec"] as? [String: Any])?["holderIdentity"] == nil, "\(String(describing: lease))")
        #expect(podsAfterRefusal.isEmpty, "\(podsAfterRefusal)")
        #expect(ignored.status == 0, "\(ignored.stderr)")
        let nodes = (snapshot["report"] as? [String: Any])?["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.map { "\($0["node"] ?? ""):\($0["snapshotted"] as? Bool ?? true)" } == ["control-plane:true", "never-1:false", "worker-1:true"], "\(nodes)")
        #expect(pods.isEmpty, "\(pods)")
    }

    @Test("--no-node-snapshot: no agent pod runs, so a node that never starts agents does not stop the migration; the record keeps no node snapshot and no node got a bundle")
    func migrationWithoutNodeSnapshot() async throws {
        let scenario = try Self.withNeverStartingNode()
        let cluster = try await MigrateTests.Cluster.start(scenario)
        let (migrated, _) = try cluster.kpswitch(["migrate", "--to", "nftables", "--yes", "--node-timeout", "2s", "--no-node-snapshot"])
        let state = try #require(try cluster.get("configmap", "kpswitch-state")?["data"] as? [String: String])
        let bundles = ["control-plane", "never-1"].filter { node in
            FileManager.default.fileExists(atPath: cluster.sim.cluster.kubelet.hostDirectory(node: node).appendingPathComponent("snapshots").path)
        }
        let (resumed, _) = try cluster.kpswitch(["migrate", "--resume", "--no-node-snapshot"])
        try await cluster.stop()

        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stderr.contains("node snapshot: none taken (--no-node-snapshot)"), "\(migrated.stderr)")
        #expect(state["nodeSnapshot"] == nil, "\(state.keys.sorted())")
        #expect(bundles.isEmpty, "\(bundles)")
        #expect(resumed.status == 2 && resumed.stderr.contains("--no-node-snapshot"), "\(resumed.stderr)")
    }
}
