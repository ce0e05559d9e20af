import KPSwitch

/// kubeadm's preflight layout: `[WARNING Name]: ...` and `[ERROR Name]: ...`, errors repeated at the end
/// with the hint about `--ignore-preflight-errors`; passes and skips are listed too, so nothing is implied.
extension PreflightReport: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        let mode = target.map { "--to \($0.rawValue)" } ?? "every mode"
        let scopes = [host.map { "this host (\($0))" }, cluster.map { "cluster \($0)" }].compactMap { $0 }
        var text = "[preflight] Running checks for \(mode) on \(scopes.isEmpty ? "this host" : scopes.joined(separator: " and "))\n"
        for action in actions {
            text += "\t[ACTION] \(Self.line(action))\n"
        }
        for check in checks {
            for finding in check.findings {
                text += "\t\(Self.label(finding, check: check.name, style: style)): \(Self.line(finding))\n"
                if let remediation = finding.remediation, finding.severity == .error || finding.severity == .warning {
                    text += "\t\tnext step: \(remediation) See \(check.runbook).\n"
                }
            }
        }
        let summary = summary
        text += "[preflight] \(checks.count) checks: \(summary.passed) passed, \(summary.warnings) with warnings, "
            + "\(summary.errors) with errors, \(summary.skipped) skipped\n"
        let errors = checks.filter { $0.status == .error }
        if !errors.isEmpty {
            text += "[preflight] Some fatal errors occurred:\n"
            for check in errors {
                for finding in check.findings where finding.severity == .error {
                    text += "\t\(style.error("[ERROR \(check.name)]")): \(Self.line(finding))\n"
                }
            }
            text += "[preflight] If you know what you are doing, you can make a check non-fatal with "
                + "`--ignore-preflight-errors=...`\n"
        }
        return text
    }

    static func label(_ finding: Finding, check: CheckName, style: TextStyle) -> String {
        switch finding.severity {
        case .error: style.error("[ERROR \(check)]")
        case .warning: style.warning(finding.ignored ? "[WARNING \(check)] (ignored error)" : "[WARNING \(check)]")
        case .skipped: style.dim("[SKIPPED \(check)]")
        case .note: style.ok("[OK \(check)]")
        }
    }

    private static func line(_ finding: Finding) -> String {
        finding.message
    }
}
