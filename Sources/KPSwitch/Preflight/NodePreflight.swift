import NodeState

/// `kpswitch preflight` at node scope: optionally load the IPVS modules (the one action, reported as
/// such), then run the node checks for the target.
public struct NodePreflight: Sendable {
    public let target: ProxyMode?
    public let scheduler: String
    public let loadModules: Bool
    public let ignoring: [String]

    public init(target: ProxyMode?, scheduler: String, loadModules: Bool, ignoring: [String]) {
        self.target = target
        self.scheduler = scheduler
        self.loadModules = loadModules
        self.ignoring = ignoring
    }

    /// `extra` adds checks of other scopes to the same run, so one `--ignore-preflight-errors` list is
    /// validated against everything that runs.
    public func run(
        on node: any NodeInspector, ipvs: any IPVSReader, extra: [any PreflightCheck] = []
    ) async throws(KPSwitchError) -> PreflightReport {
        let runner = try PreflightRunner(
            checks: NodeChecks.checks(for: target, scheduler: scheduler, node: node, ipvs: ipvs) + extra, ignoring: ignoring)
        let actions = loadModules ? await loadMissingModules(on: node) : []
        let report = await runner.run(target: target, host: node.hostname)
        return PreflightReport(target: report.target, host: report.host, actions: actions, checks: report.checks)
    }

    /// modprobe for every IPVS module that is loadable but not loaded; each attempt becomes a finding.
    func loadMissingModules(on node: any NodeInspector) async -> [Finding] {
        guard node.isPrivileged else {
            return [.skipped("--load-modules needs root on the node; nothing was loaded")]
        }
        do {
            let kernel = try await node.kernelRelease()
            let modules = try await node.kernelModules()
            var findings: [Finding] = []
            for module in NodeChecks.ipvsModules(scheduler: scheduler, kernel: kernel)
            where modules.state(of: module) == .loadable {
                do {
                    try await node.loadModule(module)
                    findings.append(.note("loaded \(module) with modprobe", subject: module))
                } catch {
                    findings.append(.error("modprobe \(module) failed: \(error)", subject: module))
                }
            }
            if findings.isEmpty {
                findings.append(.note("nothing to load: every IPVS module is loaded, built in or absent"))
            }
            return findings
        } catch {
            return [.couldNotRead("the kernel's module lists", error)]
        }
    }
}
