import KPSwitch

extension FailureReport: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var text = style.error("error: ") + message + "\n"
        if let remediation { text += "  next step: \(remediation)\n" }
        if let runbook { text += "  runbook: \(runbook)\n" }
        return text
    }
}
