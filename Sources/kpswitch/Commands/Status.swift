import ArgumentParser
import KPSwitch
import Logging

struct Status: AsyncParsableCommand, GlobalOptionsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the configured mode, the mode each node runs, and any migration in progress.",
        discussion: """
            The observed mode per node comes from the kube-proxy pods' start-up logs. A migration's \
            state, batch progress and history come from ConfigMap kpswitch-state.

            Examples:
              kpswitch status
              kpswitch status -o json
              kpswitch status --all-contexts --context-timeout 5s
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var fleet: FleetOptions

    func validate() throws { try fleet.validate(global) }

    func run() async throws {
        if fleet.allContexts {
            let report = try await FleetSurvey.survey(global.clusterAccess, timeout: fleet.timeout)
            return Renderer(options: global).render(report)
        }
        let engine = MigrationEngine(access: global.clusterAccess, logger: Logger(label: "kpswitch.status"), progress: { _ in })
        Renderer(options: global).render(try await engine.status())
    }
}
