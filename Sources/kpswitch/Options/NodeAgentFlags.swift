import ArgumentParser
import KPSwitch

/// How agent pods run on the nodes: shared by `preflight`, `migrate` and `snapshot --scope nodes`.
struct NodeAgentFlags: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Image for the agent pods that check or clean each node (default: kube-proxy's own image).",
        discussion: "It needs sh, cat, grep, wc and kmod; kube-proxy's image has them. 'cleanup --mode ipvs' also needs ipvsadm and ip, which it lacks.",
        valueName: "image"))
    var nodeImage: String?

    @Option(help: ArgumentHelp("How many agent pods run at once (1 to 100).", valueName: "n"))
    var nodeConcurrency: Int = NodeAgentRunner.defaultConcurrency

    @Option(
        help: ArgumentHelp(
            "How long an agent pod may run (its activeDeadlineSeconds, default 60s); a node whose agent has not finished 15s later is skipped.",
            valueName: "duration"),
        transform: { try DurationArgument(parsing: $0) })
    var nodeTimeout: DurationArgument?

    func nodeAgents(withheld: String?) -> NodeAgentOptions {
        NodeAgentOptions(
            image: nodeImage, concurrency: nodeConcurrency,
            deadlineSeconds: nodeTimeout.map { Int($0.duration.components.seconds) } ?? NodeAgentRunner.defaultDeadlineSeconds,
            withheld: withheld)
    }

    func validate() throws {
        // Each running agent holds a watch; the API client keeps at most 128 connections to one server.
        if !(1...100).contains(nodeConcurrency) { throw ValidationError("--node-concurrency must be from 1 to 100; got \(nodeConcurrency).") }
        if let nodeTimeout, nodeTimeout.duration < .seconds(1) {
            throw ValidationError("--node-timeout must be at least 1s (activeDeadlineSeconds counts whole seconds).")
        }
        if nodeImage?.isEmpty == true { throw ValidationError("--node-image needs an image reference, e.g. registry.k8s.io/kube-proxy:v1.34.0.") }
    }
}
