import ArgumentParser
import KPSwitch

struct Cleanup: AsyncParsableCommand, GlobalOptionsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove what kube-proxy in a mode left on this node, and nothing else (root).",
        discussion: """
            ipvs: the IPVS services kube-proxy created, kube-ipvs0, its KUBE-* ipsets and chains. \
            iptables: its KUBE-* chains and the jumps to them. nftables: its kube-proxy tables. \
            Unlike kube-proxy --cleanup, IPVS services that kube-proxy does not own are kept.

            Examples:
              sudo kpswitch cleanup --mode ipvs --dry-run
              sudo kpswitch cleanup --mode iptables
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The mode whose leftovers to remove: iptables, ipvs or nftables.", valueName: "mode"))
    var mode: ProxyMode

    @Flag(help: "List exactly what would be removed; remove nothing.")
    var dryRun = false

    func run() async throws {
        let report = try await LeftoverRemoval(node: Adapters.localNetfilter(), ipvs: Adapters.localNodeIPVS(), host: .current())
            .run(mode: mode, dryRun: dryRun)
        Renderer(options: global).render(report)
    }
}
