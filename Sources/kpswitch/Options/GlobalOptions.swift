import ArgumentParser
import KPSwitch

/// Options every command takes: where the cluster is, how to print, how much to log.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Path to the kubeconfig to use, alone (no merging).",
        discussion: "Without it kpswitch merges the files in KUBECONFIG the way kubectl does, then ~/.kube/config, then in-cluster config.",
        valueName: "path"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("The kubeconfig context to use instead of current-context.", valueName: "name"))
    var context: String?

    @Option(name: [.short, .long], help: ArgumentHelp("Namespace of kube-proxy's DaemonSet and ConfigMap.", valueName: "namespace"))
    var namespace = "kube-system"

    @Option(
        help: ArgumentHelp("How long one API request may take before the API server counts as unreachable, e.g. 30s.", valueName: "duration"),
        transform: { try DurationArgument(parsing: $0) })
    var requestTimeout: DurationArgument?

    @Option(name: [.short, .customLong("output")], help: "Output format: text, or json for one JSON document on stdout.")
    var output: OutputFormat = .text

    @Flag(name: [.short, .long], help: "Log debug detail to stderr.")
    var verbose = false

    @Flag(name: .customLong("no-color"), help: "Never colour the text output (it is coloured only on a terminal, and never when NO_COLOR is set).")
    var noColor = false
}

extension GlobalOptions {
    var clusterAccess: ClusterAccess {
        ClusterAccess(kubeconfig: kubeconfig, context: context, namespace: namespace,
                      requestTimeout: requestTimeout?.duration ?? .seconds(30))
    }
}

enum OutputFormat: String, CaseIterable, ExpressibleByArgument {
    case text
    case json
}
