import ArgumentParser
import KPSwitch

/// The preflight knobs shared by `preflight` and `migrate`.
struct PreflightOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Checks whose errors become warnings, comma-separated, or 'all'.",
        discussion: "Names match case-insensitively, as kubeadm's do.",
        valueName: "name,..."))
    var ignorePreflightErrors: [IgnoredChecks] = []

    @OptionGroup var agents: NodeAgentFlags

    var nodeAgents: NodeAgentOptions { agents.nodeAgents(withheld: nil) }

    func nodeAgents(withheld: String?) -> NodeAgentOptions { agents.nodeAgents(withheld: withheld) }

    func validate() throws {
        let names = ignorePreflightErrors.flatMap(\.names)
        if ignorePreflightErrors.contains(where: \.includesAll) && names.count > 1 {
            throw ValidationError("--ignore-preflight-errors: 'all' ignores every check; give it alone.")
        }
    }
}
