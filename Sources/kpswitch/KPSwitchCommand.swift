import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KPSwitch
import Logging

@main
struct KPSwitchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kpswitch",
        abstract: "Migrate kube-proxy between iptables, IPVS and nftables: check, snapshot, switch, verify, roll back.",
        discussion: """
            Exit status: 0 success; 1 runtime error; 2 usage error or invalid input; 3 preflight found \
            blocking errors; 4 migration failed and was rolled back cleanly; 5 migration failed and the \
            rollback is incomplete (the message says what a human must do).

            Global options, before or after the command (as kubectl takes them): --kubeconfig PATH, \
            --context NAME, -n/--namespace NAMESPACE, -o/--output text|json, -v LEVEL (kubectl's levels: \
            -v, -v=6, --v=6, -v 8), --no-color. `kpswitch COMMAND --help` describes them.

            Runbooks: Runbooks/migrate.md, Runbooks/rollback.md, Runbooks/troubleshooting.md.
            """,
        version: KPSwitchVersion.current,
        subcommands: [
            Preflight.self, Advise.self, Snapshot.self, Migrate.self, Rollback.self, Status.self, Cleanup.self,
            Restore.self,
        ]
    )

    /// One malloc arena: glibc gives each thread that allocates (NIO's event loops, the concurrency pool) an
    /// arena of its own, and on a 1,000-node migration their free lists held more than the heap itself (peak
    /// heap 14 MiB, RSS 70 MiB; with one arena 56 MiB, the same CPU): kpswitch waits on the network, not on
    /// malloc. Glibc's module map leaves out malloc.h, so `mallopt` is looked up; `M_ARENA_MAX` is -8 there.
    static func limitMallocArenas() {
        #if canImport(Glibc)
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        if let mallopt = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
            _ = unsafeBitCast(mallopt, to: MallOpt.self)(-8, 1)
        }
        #endif
    }

    /// Parses, runs and maps every outcome to DESIGN.md's exit codes; ArgumentParser's own usage
    /// status (64 on Linux) becomes 2 here, once.
    static func main() async {
        limitMallocArenas()
        let command: any ParsableCommand
        do {
            command = try await asyncParseAsRoot(
                GlobalArguments.normalize(Array(CommandLine.arguments.dropFirst()), root: KPSwitchCommand.self))
        } catch {
            exit(usageFailure: error)
        }
        let global = (command as? any GlobalOptionsCommand)?.global
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = switch global?.verbose ?? 0 {
            case 9...: .trace
            case 4...: .debug
            default: .info
            }
            return handler
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
        } catch let error as KPSwitchError {
            Renderer(options: global).fail(error)
        } catch let code as ExitCode {
            // A command that already rendered its report (a blocking preflight, say) only sets the status.
            Foundation.exit(code.rawValue)
        } catch {
            exit(usageFailure: error)
        }
    }

    private static func exit(usageFailure error: any Error) -> Never {
        let code = exitCode(for: error)
        if code == .success {
            print(fullMessage(for: error))
            Foundation.exit(0)
        }
        var stderr = StandardError()
        if code == .validationFailure {
            print("Error: \(message(for: error))", to: &stderr)
            Foundation.exit(ExitStatus.usageError.rawValue)
        }
        print(fullMessage(for: error), to: &stderr)
        Foundation.exit(code.rawValue == 0 ? ExitStatus.runtimeError.rawValue : code.rawValue)
    }
}

/// A command that carries the global options, so `main` can honour `-o`, `-v` and `--no-color` for it.
protocol GlobalOptionsCommand: ParsableCommand {
    var global: GlobalOptions { get }
}
