import Foundation
import Testing
import VMHarness

/// One boot of the real-kernel guest running Guest/ipvs-scenarios.sh with the built `ipvs-probe`; every test
/// of IPVSVMTests judges the files that boot left behind, so the suite costs one boot.
struct IPVSGuest: Sendable {
    private let results: [String: String]

    private static let boot = Task { () async throws -> IPVSGuest in
        let script = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Guest/ipvs-scenarios.sh"),
            encoding: .utf8)
        let run = try await VMGuest.run(
            script: script, files: [try VMFile.product("ipvs-probe")], timeout: .seconds(1800))
        try run.requireSuccess()
        var results: [String: String] = [:]
        for (name, data) in run.results {
            if name.hasSuffix(".gz") {
                results[String(name.dropLast(3))] = try gunzip(data)
            } else {
                results[name] = String(decoding: data, as: UTF8.self)
            }
        }
        return IPVSGuest(results: results)
    }

    static func shared() async throws -> IPVSGuest { try await boot.value }

    struct MissingResult: Error, CustomStringConvertible {
        let name: String
        var description: String { "the guest left no \(name)" }
    }

    // The guest compresses its bulky listings: they travel back over an emulated serial port.
    private static func gunzip(_ data: Data) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gunzip")
        process.arguments = ["-c"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // Feed and drain at once so that neither pipe can fill up and block the other side.
        let writer = Thread { input.fileHandleForWriting.write(data); try? input.fileHandleForWriting.close() }
        writer.start()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: text, as: UTF8.self)
    }

    // MARK: Reading what the guest left

    func text(_ name: String) throws -> String {
        guard let text = results[name] else { throw MissingResult(name: name) }
        return text
    }

    func status(_ name: String) throws -> Int {
        let raw = try text("\(name).status").trimmingCharacters(in: .whitespacesAndNewlines)
        return try #require(Int(raw), "status file of \(name) holds \(raw)")
    }

    func output(_ name: String) throws -> String { try text("\(name).out") }

    func errors(_ name: String) throws -> String { try text("\(name).err") }

    /// Records an issue, with the command's stderr, unless the guest command `name` exited 0.
    func expectSuccess(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let status = try status(name)
        let errors = try errors(name)
        #expect(status == 0, "\(name) exited \(status): \(errors)", sourceLocation: sourceLocation)
    }

    /// The non-empty lines of a command's output, right-trimmed (ipvsadm pads listing columns), as a set.
    func lines(_ name: String) throws -> Set<String> {
        Set(try output(name).split(separator: "\n").map { line in
            String(line.reversed().drop { $0 == " " }.reversed())
        }.filter { !$0.isEmpty })
    }
}
