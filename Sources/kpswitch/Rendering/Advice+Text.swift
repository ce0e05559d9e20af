import KPSwitch

extension Advice: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var text: String
        if recommended == current {
            text = "Recommendation: stay on \(style.ok(recommended.rawValue)).\n"
        } else {
            text = "Recommendation: switch from \(current.rawValue) to \(style.ok(recommended.rawValue)).\n"
        }
        text += "Why:\n"
        for reason in reasons { text += "  - \(reason)\n" }
        if let cost {
            text += "What the switch costs:\n"
            text += "  - cleanup of \(current.rawValue) state: \(Self.describe(cost.cleanup))\n"
            text += "  - \(cost.disruption)\n"
            text += "Next: kpswitch preflight --to \(recommended.rawValue), then kpswitch migrate --to \(recommended.rawValue) --dry-run\n"
        }
        if !compatibility.isEmpty {
            text += "Cluster checks for \(recommended.rawValue):\n"
            for check in compatibility {
                for finding in check.findings {
                    text += "  \(PreflightReport.label(finding, check: check.name, style: style)): \(finding.message)\n"
                    if let remediation = finding.remediation, finding.severity == .error || finding.severity == .warning {
                        text += "      next step: \(remediation) See \(check.runbook).\n"
                    }
                }
            }
        }
        return text
    }

    private static func describe(_ cleanup: CleanupStrategy) -> String {
        switch cleanup {
        case .kubeProxyCleansItself: "kube-proxy removes it itself when it starts in the new mode"
        case .initContainer: "a temporary init container runs kube-proxy --cleanup on each node (kube-proxy does not clean this pair)"
        case .node: "kpswitch cleans each node through agent pods after the rollout"
        case .none: "none; the old state stays on the nodes"
        }
    }
}
