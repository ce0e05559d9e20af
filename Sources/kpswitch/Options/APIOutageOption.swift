import ArgumentParser

/// How long `migrate` and `rollback` wait out an unreachable API server before stopping (exit 5).
struct APIOutageOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Stop, without rolling back, when the API server stays unreachable this long (default 10m); migrate --resume or rollback finish it later.",
            valueName: "duration"),
        transform: { try DurationArgument(parsing: $0) })
    var apiUnavailableTimeout: DurationArgument?

    var limit: Duration { apiUnavailableTimeout?.duration ?? .seconds(600) }
}
