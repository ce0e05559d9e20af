import Logging

/// Runs one literal list of checks in order and applies `--ignore-preflight-errors` the way kubeadm does:
/// names match case-insensitively, `all` ignores every check (the CLI makes sure it stands alone), and an
/// ignored error becomes a warning marked ignored.
public struct PreflightRunner: Sendable {
    public let checks: [any PreflightCheck]
    private let ignored: Set<String>

    /// Fails with a usage error when a name to ignore is not one of `checks`, listing the valid names.
    public init(checks: [any PreflightCheck], ignoring names: [String]) throws(KPSwitchError) {
        self.checks = checks
        let lowered = Set(names.map { $0.lowercased() })
        let known = Set(checks.map { $0.name.rawValue.lowercased() })
        let unknown = lowered.subtracting(known).subtracting(["all"])
        if !unknown.isEmpty {
            let valid = checks.map(\.name.rawValue).sorted().joined(separator: ", ")
            throw KPSwitchError(
                status: .usageError,
                message: "--ignore-preflight-errors: no check named \(unknown.sorted().joined(separator: ", ")).",
                remediation: "Valid names here: \(valid), or all.")
        }
        ignored = lowered
    }

    public func run(target: ProxyMode?, host: String?, logger: Logger = Logger(label: "kpswitch.preflight")) async -> PreflightReport {
        var results: [PreflightReport.CheckResult] = []
        for check in checks {
            logger.debug("running check", metadata: ["check": "\(check.name)", "scope": "\(check.scope.rawValue)"])
            var findings = await check.run()
            if ignored.contains("all") || ignored.contains(check.name.rawValue.lowercased()) {
                for index in findings.indices where findings[index].severity == .error {
                    findings[index].severity = .warning
                    findings[index].ignored = true
                }
            }
            let result = PreflightReport.CheckResult(name: check.name, scope: check.scope, findings: findings)
            logger.debug("check done", metadata: ["check": "\(check.name)", "status": "\(result.status.rawValue)"])
            results.append(result)
        }
        return PreflightReport(target: target, host: host, checks: results)
    }
}
