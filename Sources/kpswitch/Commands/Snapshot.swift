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

                Examples:
                  sudo kpswitch snapshot --scope node --out /var/backups/kpswitch
                  kpswitch snapshot --scope cluster --context prod
                  sudo kpswitch snapshot --kubeconfig /etc/kubernetes/admin.conf
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Directory under which the bundle is created.", valueName: "dir"))
        var out: String = "."

        @Option(help: "What to capture: node, cluster or all.")
        var scope: Scope = .all

        func run() async throws {
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
            abstract: "Summarise a bundle: host, time, scope, and the services and endpoints its rules program."
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The bundle directory.", valueName: "dir"))
        var bundle: String

        func run() async throws {
            Renderer(options: global).render(try SnapshotInspection.show(bundle))
        }
    }
}
