import ArgumentParser
import KPSwitch

struct Cleanup: AsyncParsableCommand, GlobalOptionsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove what kube-proxy in a mode left on this node (root), or on named nodes through agent pods, and nothing else.",
        discussion: """
            ipvs: the IPVS services kube-proxy created, kube-ipvs0, its KUBE-* ipsets and chains. \
            iptables: its KUBE-* chains and the jumps to them. nftables: its kube-proxy tables. \
            Unlike kube-proxy --cleanup, IPVS services that kube-proxy does not own are kept.

            With --nodes, an agent pod on each node does it, and what the mode kube-proxy runs in now (the \
            cluster's) also uses stays: the iptables and ipvs modes share chains such as nat KUBE-SERVICES. \
            Cleaning the mode the cluster runs is refused. kube-proxy's image has no ipvsadm or ip: a node \
            holding kube-ipvs0 is then refused and named with the command to run there, unless --node-image \
            names an image that has both. Exit status 1 when any node was not cleaned.

            Examples:
              sudo kpswitch cleanup --mode ipvs --dry-run
              sudo kpswitch cleanup --mode iptables --running-mode ipvs
              kpswitch cleanup --mode iptables --nodes all
              kpswitch cleanup --mode ipvs --nodes worker-1,worker-2 --node-image IMAGE-WITH-IPVSADM
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The mode whose leftovers to remove: iptables, ipvs or nftables.", valueName: "mode"))
    var mode: ProxyMode

    @Option(help: ArgumentHelp(
        "Clean these nodes through agent pods: all, or names separated by commas (default: this node, as root).",
        valueName: "all|n1,n2"))
    var nodes: String?

    @Option(help: ArgumentHelp(
        "Without --nodes: the mode kube-proxy runs in on this node now; what it uses stays.", valueName: "mode"))
    var runningMode: ProxyMode?

    @Flag(help: "List exactly what would be removed; remove nothing.")
    var dryRun = false

    @OptionGroup var agents: NodeAgentFlags

    func validate() throws {
        if let nodes {
            if runningMode != nil {
                throw ValidationError("--running-mode is for this node; with --nodes the cluster's kube-proxy mode is the running one.")
            }
            if nodeNames(nodes)?.isEmpty == true { throw ValidationError("--nodes needs 'all' or node names separated by commas.") }
        }
        if let runningMode, runningMode == mode {
            throw ValidationError("--running-mode \(mode) is the mode being cleaned; name the mode kube-proxy runs in now.")
        }
    }

    /// nil for every node.
    private func nodeNames(_ value: String) -> [String]? {
        value == "all" ? nil : value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() async throws {
        if let nodes {
            let report = try await NodeCleanups(options: agents.nodeAgents(withheld: nil))
                .run(mode: mode, nodes: nodeNames(nodes), dryRun: dryRun, cluster: global.clusterAccess)
            Renderer(options: global).render(report)
            if !report.notCleaned.isEmpty { throw ExitCode(ExitStatus.runtimeError.rawValue) }
            return
        }
        let report = try await LeftoverRemoval(node: Adapters.localNetfilter(), ipvs: Adapters.localNodeIPVS(), host: .current())
            .run(mode: mode, running: runningMode, dryRun: dryRun)
        Renderer(options: global).render(report)
    }
}
