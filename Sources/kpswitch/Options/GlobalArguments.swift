import ArgumentParser

/// kubectl's habits, applied to argv before ArgumentParser sees it: global options may come before the
/// subcommand (`kpswitch --context prod status`, and `kubectl kpswitch --context prod status`, since kubectl
/// passes the plugin's arguments through), and `-v` takes kubectl's levels in its spellings.
///
/// ArgumentParser accepts a subcommand's options only after its name, so the global options written before
/// it are moved, with their values and unchanged, to just after it: parsing, help and errors are then the
/// ones the options get when written after the subcommand.
enum GlobalArguments {
    /// Global options that take a value, as `--name value` or `--name=value`.
    static let valued: Set<String> = [
        "--kubeconfig", "--context", "-n", "--namespace", "-o", "--output", "--request-timeout",
    ]
    static let flags: Set<String> = ["--no-color"]
    /// kubectl spells it `-v=6` and `--v=6`; `-v` alone means 4, the steps' debug detail (what it always meant).
    static let verbosity: Set<String> = ["-v", "--v", "--verbose"]
    static let bareVerbosity = 4

    static func normalize(_ arguments: [String], root: any ParsableCommand.Type) -> [String] {
        hoist(verbosityNormalized(arguments), root: root)
    }

    /// Rewrites every spelling of `-v` into `--verbose=N`, stopping at `--`.
    static func verbosityNormalized(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let token = arguments[index]
            index += 1
            if token == "--" {
                result += arguments[(index - 1)...]
                break
            }
            if verbosity.contains(token) {
                if index < arguments.count, !arguments[index].isEmpty, arguments[index].allSatisfy(\.isNumber) {
                    result.append("--verbose=\(arguments[index])")
                    index += 1
                } else {
                    result.append("--verbose=\(bareVerbosity)")
                }
            } else if let equals = token.firstIndex(of: "="), verbosity.contains(String(token[..<equals])) {
                result.append("--verbose=" + token[token.index(after: equals)...])
            } else {
                result.append(token)
            }
        }
        return result
    }

    /// Moves the global options found among the leading subcommand names to just after the last of them.
    static func hoist(_ arguments: [String], root: any ParsableCommand.Type) -> [String] {
        var command = root
        var path: [String] = []
        var globals: [String] = []
        var index = 0
        while index < arguments.count {
            let token = arguments[index]
            let name = token.split(separator: "=", maxSplits: 1).first.map(String.init) ?? token
            if valued.contains(name) {
                if token.contains("=") {
                    globals.append(token)
                    index += 1
                } else {
                    // A value-taking option with nothing after it is left where it is, for ArgumentParser to refuse.
                    guard index + 1 < arguments.count else { break }
                    globals += [token, arguments[index + 1]]
                    index += 2
                }
            } else if flags.contains(token) || name == "--verbose" {
                globals.append(token)
                index += 1
            } else if let sub = command.configuration.subcommands.first(where: { $0._commandName == token }) {
                path.append(token)
                command = sub
                index += 1
            } else {
                break
            }
        }
        // No subcommand named: nothing to move after, so the root reports the option as it stands.
        guard !path.isEmpty, !globals.isEmpty else { return arguments }
        return path + globals + arguments[index...]
    }
}
