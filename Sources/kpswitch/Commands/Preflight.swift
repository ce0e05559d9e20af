import ArgumentParser
import KPSwitch

struct Preflight: AsyncParsableCommand, GlobalOptionsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check whether this cluster and node can run a proxy mode; changes nothing.",
        discussion: """
            Node checks (root on a Linux node): ip_vs and scheduler modules (loaded, built in or \
            loadable), the IPVS netlink family, ipset, nftables kernel and nft versions, the iptables \
            backend in use, leftovers of other modes. Cluster checks (with a kubeconfig): kube-proxy's \
            flavour and configured mode, scale, compatibility (MetalLB, NodeLocal DNSCache, GitOps \
            owners), RBAC. With --to ipvs, the cluster scope also checks the IPVS modules on every node \
            kube-proxy runs on, through a short-lived agent pod per node, deleted when done (kube-proxy's \
            image; --node-image, --node-concurrency, --node-timeout). A check that cannot run here, or on \
            a node, is reported as skipped with the reason, never as passed.

            Exit status 3 when an error-level check fails.

            Examples:
              kpswitch preflight --to nftables
              sudo kpswitch preflight --to ipvs --scope node --load-modules
              kpswitch preflight --to ipvs --ignore-preflight-errors=IPSetVersion -o json
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var preflight: PreflightOptions

    @Option(help: ArgumentHelp("The mode to check for: iptables, ipvs or nftables. Without it, every mode is checked.", valueName: "mode"))
    var to: ProxyMode?

    @Option(help: "Where to check: node, cluster or all.")
    var scope: Scope = .all

    @Option(help: ArgumentHelp("IPVS scheduler whose module must be available (with --to ipvs).", valueName: "name"))
    var scheduler: String?

    @Flag(help: "Load missing IPVS modules with modprobe and report what was loaded (node scope, root).")
    var loadModules = false

    func validate() throws {
        if scheduler != nil && to != .ipvs {
            throw ValidationError("--scheduler applies only with --to ipvs.")
        }
        if loadModules && scope == .cluster {
            throw ValidationError("--load-modules acts on this node; it cannot be combined with --scope cluster.")
        }
    }

    func run() async throws {
        let run = PreflightRun(
            target: to, scheduler: scheduler ?? "rr", loadModules: loadModules,
            ignoring: preflight.ignorePreflightErrors.flatMap(\.names), scope: scope.preflightScope,
            nodeAgents: preflight.nodeAgents)
        let report = try await run.run(node: Adapters.localNode(), ipvs: Adapters.localIPVS(), cluster: global.clusterAccess)
        Renderer(options: global).render(report)
        if report.isBlocking { throw ExitCode(ExitStatus.preflightFailed.rawValue) }
    }
}

extension Scope {
    var preflightScope: PreflightRun.Scope {
        switch self {
        case .node: .node
        case .cluster: .cluster
        case .all: .all
        }
    }
}
