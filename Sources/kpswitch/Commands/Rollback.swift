import ArgumentParser
import KPSwitch
import Logging

struct Rollback: AsyncParsableCommand, GlobalOptionsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put back exactly the kube-proxy configuration and DaemonSet recorded before the migration.",
        discussion: """
            Works from any machine with access, also after the migrating process died: the record \
            lives in the cluster (ConfigMap kpswitch-state). Refuses when someone changed the objects \
            since the migration began, unless --force. Replaces the migrated pods and verifies the old \
            mode on every node.

            Examples:
              kpswitch rollback
              kpswitch rollback --yes --timeout 20m
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Do not ask for confirmation (required without a terminal).")
    var yes = false

    @Flag(help: "Roll back even though the ConfigMap or DaemonSet changed since the migration began.")
    var force = false

    @Option(
        help: ArgumentHelp("Stop waiting for nodes after this long, e.g. 20m.", valueName: "duration"),
        transform: { try DurationArgument(parsing: $0) })
    var timeout: DurationArgument?

    @OptionGroup var apiOutage: APIOutageOption

    func run() async throws {
        try Confirmation.refuseWithoutTerminal(yes: yes)
        try Confirmation.ask("Put kube-proxy's ConfigMap and DaemonSet back as recorded before the migration?", yes: yes)
        let printer = ProgressPrinter(toStandardError: global.output == .json)
        let engine = MigrationEngine(access: global.clusterAccess, logger: Logger(label: "kpswitch.rollback"), progress: printer.print)
        let result = try await engine.rollback(
            force: force, timeout: timeout?.duration ?? .seconds(30 * 60),
            apiUnavailableTimeout: apiOutage.limit)
        Renderer(options: global).render(result)
        if result.exitStatus != .success { throw ExitCode(result.exitStatus.rawValue) }
    }
}
