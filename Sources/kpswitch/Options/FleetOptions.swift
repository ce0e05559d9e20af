import ArgumentParser

/// `--all-contexts`, shared by `status` and `advise`: one row per kubeconfig context.
struct FleetOptions: ParsableArguments {
    @Flag(help: "One row per kubeconfig context (cluster, version, configured and observed modes, migration, recommendation), read concurrently.")
    var allContexts = false

    @Option(
        help: ArgumentHelp(
            "With --all-contexts: how long each cluster may take before its row says it did not answer (default 10s).",
            valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    var contextTimeout: DurationArgument?

    var timeout: Duration { contextTimeout?.duration ?? .seconds(10) }

    func validate(_ global: GlobalOptions) throws {
        if allContexts, global.context != nil {
            throw ValidationError("--all-contexts reads every context; drop --context, or drop --all-contexts to read one.")
        }
    }
}
