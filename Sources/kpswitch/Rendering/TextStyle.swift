import Foundation

/// Colour for text output: only on a terminal, never with `--no-color` or NO_COLOR (no-color.org).
struct TextStyle {
    let noColor: Bool
    let enabled: Bool

    init(noColor: Bool, stream: StandardError? = nil) {
        self.noColor = noColor
        let descriptor = stream == nil ? STDOUT_FILENO : STDERR_FILENO
        let environmentSaysNo = ProcessInfo.processInfo.environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        enabled = !noColor && !environmentSaysNo && isatty(descriptor) == 1
    }

    func error(_ text: String) -> String { paint(text, "31") }
    func warning(_ text: String) -> String { paint(text, "33") }
    func ok(_ text: String) -> String { paint(text, "32") }
    func dim(_ text: String) -> String { paint(text, "2") }

    private func paint(_ text: String, _ code: String) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}

/// A report's text form; kept in the CLI because rendering is the CLI's job.
protocol TextRenderable {
    func renderText(_ style: TextStyle) -> String
}
