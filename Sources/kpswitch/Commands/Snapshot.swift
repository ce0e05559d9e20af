import ArgumentParser
import Foundation
import KPSwitch

struct Snapshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Capture, verify or summarise what a migration touches.",
        subcommands: [Create.self, Verify.self, Show.self],
        defaultSubcommand: Create.self
    )
}

extension Snapshot {
    struct Create: AsyncParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Write a snapshot bundle (the default when no subcommand is given).",
            discussion: """
                Node scope (root): iptables rules of both backends, the nft ruleset, the IPVS table \
                (also as ipvsadm -S -n text), ipsets, kube-ipvs0 and the sysctls kube-proxy changes. \
                Cluster scope: the kube-proxy DaemonSet and the ConfigMaps it mounts, as the API \
                returns them, under cluster/. all (the default) is both, and writes nothing when \
                either part cannot be taken. The bundle is a directory named for the host and the \
                UTC time, files 0600, with a manifest of SHA-256 sums.

                nodes: every node kube-proxy runs on writes its own bundle through an agent pod into \
                /var/lib/kpswitch/snapshots/ID/ on that node (0700, files 0600); only each file's size, \
                lines and counts come back, kept in the ConfigMap kpswitch-snapshot-ID ('snapshot show \
                ID' lists them). Exit status 1 when any node was not snapshotted (listed with the reason).

                Examples:
                  sudo kpswitch snapshot --scope node --out /var/backups/kpswitch
                  kpswitch snapshot --scope cluster --context prod
                  sudo kpswitch snapshot --kubeconfig /etc/kubernetes/admin.conf
                  kpswitch snapshot --scope nodes --node-concurrency 50
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Directory under which the bundle is created.", valueName: "dir"))
        var out: String = "."

        @Option(help: "What to capture: node, cluster, all, or nodes (every node, through agent pods).")
        var scope: SnapshotScopeArgument = .all

        @OptionGroup var agents: NodeAgentFlags

        func run() async throws {
            if scope == .nodes {
                let report = try await NodeSnapshots(options: agents.nodeAgents(withheld: nil)).take(cluster: global.clusterAccess)
                Renderer(options: global).render(report)
                if !report.notSnapshotted.isEmpty { throw ExitCode(ExitStatus.runtimeError.rawValue) }
                return
            }
            let snapshot = BundleSnapshot(
                scope: SnapshotScope(rawValue: scope.rawValue) ?? .all, node: Adapters.localNetfilter(),
                ipvs: Adapters.localNodeIPVS(), cluster: global.clusterAccess, host: .current())
            let report = try await snapshot.take(into: URL(fileURLWithPath: out, isDirectory: true))
            Renderer(options: global).render(report)
        }
    }

    struct Verify: AsyncParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every file of a bundle against its manifest's SHA-256 sums.",
            discussion: "Exit status 0 when every hash matches; otherwise 1, naming each file that differs."
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The bundle directory.", valueName: "dir"))
        var bundle: String

        func run() async throws {
            Renderer(options: global).render(try SnapshotInspection.verify(bundle))
        }
    }

    struct Show: AsyncParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "Summarise a bundle: host, time, scope, and the services and endpoints its rules program.",
            discussion: """
                Given the ID that 'snapshot --scope nodes' printed (no slash, no such local directory), it lists every \
                node's on-node bundle from the ConfigMap kpswitch-snapshot-ID: files, sizes, lines, iptables \
                rules and IPVS virtual and real servers, and each node not snapshotted with the reason.
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The bundle directory, or a node snapshot's ID.", valueName: "dir|id"))
        var bundle: String

        func run() async throws {
            // A path (it has a slash, or exists here) is a local bundle; anything else is a node snapshot's ID.
            if !bundle.contains("/"), !FileManager.default.fileExists(atPath: bundle) {
                Renderer(options: global).render(try await NodeSnapshots.show(id: bundle, cluster: global.clusterAccess))
                return
            }
            Renderer(options: global).render(try SnapshotInspection.show(bundle))
        }
    }
}

/// `snapshot --scope`: this node, the cluster, both in one bundle, or every node on itself.
enum SnapshotScopeArgument: String, CaseIterable, ExpressibleByArgument {
    case node
    case cluster
    case all
    case nodes
}
