import Foundation
import Testing

@Suite("command-line contract")
struct CommandContractTests {
    static let commands: [[String]] = [
        ["preflight"], ["advise"], ["snapshot"], ["snapshot", "create"], ["snapshot", "verify"],
        ["snapshot", "show"], ["migrate"], ["rollback"], ["status"], ["cleanup"], ["restore"],
    ]

    @Test("the root help lists every command of DESIGN.md")
    func rootHelpListsCommands() throws {
        let result = try KPSwitchBinary.run(["--help"])
        #expect(result.status == 0)
        for name in ["preflight", "advise", "snapshot", "migrate", "rollback", "status", "cleanup", "restore"] {
            #expect(result.stdout.contains("\n  \(name) "), "root help lacks \(name)")
        }
        #expect(result.stdout.contains("5 migration failed and the rollback is incomplete"))
    }

    @Test("every command has help with its usage and the global options", arguments: commands)
    func commandHelp(_ command: [String]) throws {
        let result = try KPSwitchBinary.run(command + ["--help"])
        #expect(result.status == 0, "\(command): \(result.stderr)")
        #expect(result.stdout.contains("USAGE: kpswitch \(command.joined(separator: " "))"))
        if command != ["snapshot"] {
            for option in ["--kubeconfig", "--context", "--namespace", "--output", "--verbose", "--no-color"] {
                #expect(result.stdout.contains(option), "\(command) help lacks \(option)")
            }
        }
    }

    @Test("the version is printed")
    func version() throws {
        let result = try KPSwitchBinary.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }
}
