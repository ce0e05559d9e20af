import KubeAPI
import NodeState
import ProxyConfig

/// nftables mode needs kernel 5.13 on every node kube-proxy runs on, and the API server already knows each
/// node's kernel (`status.nodeInfo.kernelVersion`), so this is decided before anything changes. For IPVS the
/// version decides nothing: the modules may be loaded, loadable or missing on any kernel.
struct NodeKernelsCheck: PreflightCheck {
    let name: CheckName = "NodeKernels"
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey
    let target: ProxyMode?

    func run() async -> [Finding] {
        let fleet: ProxyNodes
        do {
            fleet = try await survey.proxyNodes()
        } catch {
            return [.skipped("could not list the nodes: \(KPSwitchError(error).message)")]
        }
        let nodes = fleet.nodes.map(ClusterFacts.Node.init)
        var findings: [Finding] = []
        let old = ClusterFacts.belowNFTablesKernel(nodes)
        if let problem = ClusterFacts.nftablesKernelProblem(nodes) {
            let fix = "Upgrade those nodes' kernels (or replace the nodes) before switching to nftables, or choose "
                + "--to iptables or ipvs."
            switch target {
            case .nftables: findings.append(.error(problem, subject: "nftables", remediation: fix, nodes: old.map(\.name)))
            case nil: findings.append(.warning(problem, subject: "nftables", remediation: fix, nodes: old.map(\.name)))
            case .iptables, .ipvs: findings.append(.note("\(problem); that matters only for nftables mode", subject: "nftables"))
            }
        } else if !nodes.isEmpty {
            let oldest = nodes.compactMap { node in KernelRelease(node.kernel).map { ($0, node.name, node.shortKernel) } }
                .min { ($0.0, $0.1) < ($1.0, $1.1) }
            findings.append(.note(
                "all \(nodes.count) nodes run kernel 5.13 or later, as nftables mode needs"
                    + (oldest.map { " (oldest: \($0.1) \($0.2))" } ?? "")))
        } else {
            findings.append(.skipped("kube-proxy's DaemonSet selects no node; there is no kernel to judge"))
        }
        if target == .ipvs || target == nil {
            findings.append(.note(
                "IPVS: a kernel version alone says nothing about IPVS (ip_vs and its schedulers may be loaded, loadable or "
                    + "missing on any kernel); the node checks decide (kpswitch preflight --scope node on a node)",
                subject: "ipvs"))
        }
        if let leftOut = fleet.leftOutSentence { findings.append(.note(leftOut)) }
        return findings
    }
}

/// A node that is NotReady or cordoned still gets a kube-proxy pod from the DaemonSet, but its kubelet may never
/// start the replacement: the migration would wait on it until `--timeout` and then roll back every node.
struct NodeReadinessCheck: PreflightCheck {
    let name: CheckName = "NodeReadiness"
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey

    func run() async -> [Finding] {
        let fleet: ProxyNodes
        do {
            fleet = try await survey.proxyNodes()
        } catch {
            return [.skipped("could not list the nodes: \(KPSwitchError(error).message)")]
        }
        let notReady = fleet.nodes.filter { !$0.isReady }
        let cordoned = fleet.nodes.filter { $0.isReady && $0.json[path: ["spec", "unschedulable"]]?.boolValue == true }
        var findings: [Finding] = []
        let fix = "Bring the nodes back (kubectl get nodes; kubectl uncordon NODE) or remove them from the cluster "
            + "before migrating. To proceed knowingly: --ignore-preflight-errors=NodeReadiness."
        if !notReady.isEmpty {
            findings.append(.error(
                "\(notReady.count) of \(fleet.nodes.count) nodes are NotReady: \(Sample(notReady.map(\.name)).listed); their "
                    + "kubelet may never start the new kube-proxy pod, so a migration would wait on them until its timeout",
                remediation: fix, nodes: notReady.map(\.name)))
        }
        if !cordoned.isEmpty {
            findings.append(.error(
                "\(cordoned.count) of \(fleet.nodes.count) nodes are cordoned (unschedulable): \(Sample(cordoned.map(\.name)).listed); "
                    + "cordoned nodes are usually being drained or replaced, and a node that goes away mid-migration stalls it",
                remediation: fix, nodes: cordoned.map(\.name)))
        }
        if findings.isEmpty {
            findings.append(fleet.nodes.isEmpty
                ? .skipped("kube-proxy's DaemonSet selects no node")
                : .note("all \(fleet.nodes.count) nodes kube-proxy runs on are Ready and schedulable"))
        }
        if let leftOut = fleet.leftOutSentence { findings.append(.note(leftOut)) }
        return findings
    }
}

/// The refusal `migrate` makes for a DaemonSet in the middle of a rollout, shown by preflight too.
struct KubeProxyRolloutCheck: PreflightCheck {
    let name: CheckName = "KubeProxyRollout"
    let scope: CheckScope = .cluster
    let survey: ClusterSurvey

    func run() async -> [Finding] {
        let daemonSet: DaemonSet?
        do {
            daemonSet = try await survey.kubeProxy().daemonSet
        } catch {
            return [.skipped("could not read kube-proxy's DaemonSet: \(KPSwitchError(error).message)")]
        }
        guard let daemonSet else { return [.skipped("kube-proxy runs without a DaemonSet kpswitch can read")] }
        if let problem = MigrationPlanner.rolloutProblem(daemonSet) {
            return [.error(problem + "; a migration would start on top of another change",
                           subject: "DaemonSet \(daemonSet.name)", remediation: MigrationPlanner.rolloutRemediation(daemonSet))]
        }
        return [.note(
            "DaemonSet \(daemonSet.namespace ?? survey.namespace)/\(daemonSet.name) is rolled out: \(daemonSet.updatedNumberScheduled) "
                + "updated and \(daemonSet.numberAvailable) available of \(daemonSet.desiredNumberScheduled)",
            subject: "DaemonSet \(daemonSet.name)")]
    }
}
