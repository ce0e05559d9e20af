import Foundation
import KPSwitch

extension FleetReport: TextRenderable {
    /// kubectl's table: upper-case headers, columns padded to the widest cell, the reason last so it may be long.
    func renderText(_ style: TextStyle) -> String {
        let header = ["CONTEXT", "CLUSTER", "VERSION", "CONFIGURED", "OBSERVED", "MIGRATION", "RECOMMENDED", "ERROR"]
        let cells = rows.map { row in
            [
                row.context, row.cluster, row.kubernetesVersion ?? "-", row.configuredMode ?? "-",
                row.observedModes.isEmpty ? "-" : row.observedModes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                row.migration ?? "-", row.recommendedMode?.rawValue ?? "-", row.error.map { style.error($0) } ?? "",
            ]
        }
        let widths = header.indices.map { column in
            ([header] + cells).map { $0[column].count }.max() ?? 0
        }
        return ([header] + cells).map { line in
            line.indices.map { column in
                column == line.count - 1 ? line[column] : line[column].padding(toLength: widths[column] + 3, withPad: " ", startingAt: 0)
            }.joined().trimmingTrailingSpaces()
        }.joined(separator: "\n") + "\n"
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
