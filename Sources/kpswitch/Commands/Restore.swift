import ArgumentParser
import KPSwitch

struct Restore: AsyncParsableCommand, GlobalOptionsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a node snapshot back: iptables (per backend), ipsets and the IPVS table (root).",
        discussion: """
            The bundle is verified first; a bundle taken on another host is refused unless --force. \
            Cluster objects are put back by 'kpswitch rollback', not here.

            Examples:
              sudo kpswitch restore ./node-1-20261126T101500Z --dry-run
              sudo kpswitch restore ./node-1-20261126T101500Z
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The bundle directory written by 'kpswitch snapshot'.", valueName: "dir"))
    var bundle: String

    @Option(help: "What to restore; only node is supported (use 'kpswitch rollback' for the cluster).")
    var scope: Scope = .node

    @Flag(help: "Show what would be restored; change nothing.")
    var dryRun = false

    @Flag(help: "Restore a bundle taken on another host.")
    var force = false

    func validate() throws {
        if scope != .node {
            throw ValidationError("--scope \(scope.rawValue): restore puts back node state only; use 'kpswitch rollback' for the cluster.")
        }
    }

    func run() async throws {
        let report = try await NodeRestore(node: Adapters.localNetfilter(), ipvs: Adapters.localNodeIPVS(), host: .current())
            .run(bundle: bundle, force: force, dryRun: dryRun)
        Renderer(options: global).render(report)
    }
}
