import Foundation
import Testing

/// Colour is decided by the terminal: `script` gives the binary a real pseudo-terminal.
@Suite("colour", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) from bsdutils"))
struct ColourTests {
    static func onTerminal(_ arguments: String, environment: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", "\(KPSwitchBinary.url.path) \(arguments)", "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NO_COLOR")
        env.merge(environment) { _, new in new }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("on a terminal the labels are coloured")
    func coloured() throws {
        #expect(try Self.onTerminal("preflight --scope node --to nftables").contains("\u{1B}[32m[OK NFTablesKernel]\u{1B}[0m"))
    }

    @Test("--no-color and NO_COLOR turn colour off even on a terminal")
    func off() throws {
        let flag = try Self.onTerminal("preflight --scope node --to nftables --no-color")
        let environment = try Self.onTerminal("preflight --scope node --to nftables", environment: ["NO_COLOR": "1"])
        for output in [flag, environment] {
            #expect(output.contains("[OK NFTablesKernel]"))
            #expect(!output.contains("\u{1B}["))
        }
    }
}
