import ArgumentParser
import KPSwitch
import Logging

struct Migrate: AsyncParsableCommand, GlobalOptionsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Switch kube-proxy to another mode, node by node, verifying each and rolling back on failure.",
        discussion: """
            Plan, preflight, lock (Lease kpswitch), back up (ConfigMap kpswitch-state), then, with the \
            default canary strategy: a staged ConfigMap, the DaemonSet on OnDelete, pods replaced \
            one canary node first and then in growing batches, each node verified (pod Ready, not \
            restarting, its log showing the new mode) before the next. The original ConfigMap is only \
            edited once every node has proven the new mode. A failed verification or timeout rolls \
            back by itself (exit 4; exit 5 if the rollback cannot finish, with what to do).

            nftables is the mode upstream recommends; IPVS is deprecated since Kubernetes 1.35.

            Examples:
              kpswitch migrate --to nftables --dry-run
              kpswitch migrate --to nftables --yes
              kpswitch migrate --to ipvs --scheduler lc --strict-arp --batches 1,25%,100%
              kpswitch migrate --resume
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var preflight: PreflightOptions

    @Option(help: ArgumentHelp("The target mode: iptables, ipvs or nftables.", valueName: "mode"))
    var to: ProxyMode?

    @Option(help: ArgumentHelp("IPVS scheduler to configure (with --to ipvs), e.g. rr, lc, sh.", valueName: "name"))
    var scheduler: String?

    @Flag(help: "Set ipvs.strictARP (needed by MetalLB in L2 mode; with --to ipvs).")
    var strictARP = false

    @Option(help: "canary: staged ConfigMap and node-by-node batches (default); rolling: edit in place and restart as kubectl rollout restart does.")
    var strategy: Strategy = .canary

    @Option(
        help: ArgumentHelp("Cumulative node targets per batch for the canary strategy (default 1,10%,25%,100%).", valueName: "targets"),
        transform: { try NodeBatches(parsing: $0) })
    var batches: NodeBatches?

    @Option(
        help: ArgumentHelp(
            "Cumulative node targets per batch when the canary strategy finalizes: the pods are replaced once more, from the original template, each batch verified (default 25%,100%).",
            valueName: "targets"),
        transform: { try NodeBatches(parsing: $0) })
    var finalBatches: NodeBatches?

    @Option(help: ArgumentHelp(
        "How leftovers of the old mode are removed: auto, init-container, node or none.",
        discussion: "node: after the rollout kpswitch cleans every node through agent pods (--node-image with ipvsadm and ip for IPVS state), naming any node it could not clean."))
    var cleanup: Cleanup = .auto

    @Option(
        help: ArgumentHelp("Give up and roll back when the migration takes longer, e.g. 30m.", valueName: "duration"),
        transform: { try DurationArgument(parsing: $0) })
    var timeout: DurationArgument?

    @OptionGroup var apiOutage: APIOutageOption

    @Flag(help: "Print the plan and stop; nothing is changed.")
    var dryRun = false

    static let dryRunStartsNoPods =
        "--dry-run starts no agent pods, so no node was checked; 'kpswitch preflight --scope cluster --to ipvs' checks every node"

    @Flag(name: [.short, .long], help: "Do not ask for confirmation (required without a terminal).")
    var yes = false

    @Flag(help: ArgumentHelp(
        "Take no node snapshot in the back-up step (no agent pod per node); no node then has a bundle to restore from.",
        discussion: "For clusters where agent pods may not run, or whose nodes are snapshotted by other means."))
    var noNodeSnapshot = false

    @Flag(help: "On failure, stop where it failed instead of rolling back.")
    var noRollback = false

    @Flag(help: "Continue the unfinished migration recorded in the cluster.")
    var resume = false

    enum Strategy: String, CaseIterable, ExpressibleByArgument {
        case canary
        case rolling
    }

    enum Cleanup: String, CaseIterable, ExpressibleByArgument {
        case auto
        case initContainer = "init-container"
        case node
        case none
    }

    func validate() throws {
        if resume {
            if dryRun { throw ValidationError("--resume continues a recorded migration; it cannot be a --dry-run.") }
            if to != nil || scheduler != nil || strictARP || batches != nil || finalBatches != nil || noNodeSnapshot {
                throw ValidationError("--resume follows the plan recorded in the cluster; drop --to, --scheduler, --strict-arp, --batches, --final-batches and --no-node-snapshot.")
            }
            return
        }
        guard let to else {
            throw ValidationError("Missing --to: say which mode to migrate to (iptables, ipvs or nftables), or --resume.")
        }
        if scheduler != nil && to != .ipvs { throw ValidationError("--scheduler applies only with --to ipvs.") }
        if strictARP && to != .ipvs { throw ValidationError("--strict-arp applies only with --to ipvs.") }
        if (batches != nil || finalBatches != nil) && strategy != .canary {
            throw ValidationError("--batches and --final-batches apply only to --strategy canary; the rolling strategy follows the DaemonSet's own maxUnavailable.")
        }
        if to == .nftables && (cleanup == .initContainer || cleanup == .node) {
            throw ValidationError("--cleanup \(cleanup.rawValue): kube-proxy cleans up the old mode itself when switching to nftables; use --cleanup auto.")
        }
    }

    func run() async throws {
        if !dryRun { try Confirmation.refuseWithoutTerminal(yes: yes) }
        let renderer = Renderer(options: global)
        let printer = ProgressPrinter(toStandardError: global.output == .json)
        let engine = MigrationEngine(access: global.clusterAccess, logger: Logger(label: "kpswitch.migrate"), progress: printer.print)
        let limit = timeout?.duration ?? .seconds(30 * 60)
        let apiLimit = apiOutage.limit
        if resume {
            try await Confirmation.ask("Resume the recorded migration?", yes: yes)
            return try finish(try await engine.resume(timeout: limit, apiUnavailableTimeout: apiLimit), renderer)
        }
        let request = try self.request()
        try await engine.refuseBusy()
        let preflightRun = PreflightRun(
            target: request.mode, scheduler: scheduler ?? "rr", loadModules: false,
            ignoring: preflight.ignorePreflightErrors.flatMap(\.names), scope: .cluster,
            // A dry run changes nothing in the cluster, agent pods included; preflight --scope cluster runs them.
            nodeAgents: preflight.nodeAgents(withheld: dryRun ? Self.dryRunStartsNoPods : nil), requireEveryNode: !dryRun,
            snapshotsNodes: !noNodeSnapshot)
        let checks = try await preflightRun.run(node: Adapters.localNode(), ipvs: Adapters.localIPVS(), cluster: global.clusterAccess)
        if checks.isBlocking {
            renderer.render(checks)
            throw ExitCode(ExitStatus.preflightFailed.rawValue)
        }
        if dryRun {
            renderer.render(try await engine.plan(request, preflight: checks).report)
            return
        }
        // The plan is shown before anything changes, with --yes too, so the log of an unattended run says what
        // it set out to do. It goes where the progress goes, unbuffered and in order: stdout, or stderr with
        // -o json, whose stdout stays one document (the result).
        let plan = try await engine.plan(request, preflight: checks)
        let stream = global.output == .json ? StandardError() : nil
        printer.print(plan.report.renderText(TextStyle(noColor: global.noColor, stream: stream)))
        try Confirmation.ask("Migrate kube-proxy to \(request.mode.rawValue) as planned above?", yes: yes)
        let nodeSnapshot = noNodeSnapshot ? nil : MigrationState.NodeSnapshot(options: preflight.nodeAgents, ignoring: preflightRun.ignoring)
        try finish(try await engine.migrate(plan, timeout: limit, apiUnavailableTimeout: apiLimit, nodeSnapshot: nodeSnapshot), renderer)
    }

    private func request() throws -> MigrationRequest {
        guard let to else { throw ValidationError("Missing --to.") }
        return try MigrationRequest(
            mode: to, scheduler: scheduler, strictARP: strictARP, strategy: strategy == .canary ? .canary : .rolling,
            batches: batches ?? .default, finalBatches: finalBatches ?? .finalDefault, cleanup: CleanupStrategy.Requested(rawValue: cleanup.rawValue) ?? .auto,
            rollbackAllowed: !noRollback)
    }

    private func finish(_ result: MigrationResult, _ renderer: Renderer) throws {
        renderer.render(result)
        if result.exitStatus != .success { throw ExitCode(result.exitStatus.rawValue) }
    }
}
