import ArgumentParser
import KPSwitch

extension ProxyMode: ExpressibleByArgument {}

/// Where a command looks: this node, the cluster through the API, or both.
enum Scope: String, CaseIterable, ExpressibleByArgument {
    case node
    case cluster
    case all
}

/// A duration written as kubectl writes one: `90s`, `5m`, `1h30m`, `500ms`.
struct DurationArgument: CustomStringConvertible {
    let duration: Duration
    let description: String

    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000),
    ]

    /// Used as `@Option(transform:)`, so the error names the accepted forms.
    init(parsing text: String) throws {
        guard let duration = Self.parse(text) else {
            throw ValidationError("'\(text)' is not a duration; write it as 90s, 5m or 1h30m.")
        }
        self.duration = duration
        description = text
    }

    static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        var total: Int64 = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix(while: \.isNumber)
            guard let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            // "ms" is listed first, so "5ms" is never read as minutes.
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.milliseconds)
            guard !overflow, total <= Int64.max - product else { return nil }
            total += product
        }
        return total > 0 ? .milliseconds(total) : nil
    }
}

/// `--ignore-preflight-errors=Name,...|all`, as kubeadm spells it.
struct IgnoredChecks: ExpressibleByArgument {
    let names: [String]

    init?(argument: String) {
        names = argument.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, !names.contains(where: \.isEmpty) else { return nil }
    }

    var includesAll: Bool { names.contains { $0.lowercased() == "all" } }
}
