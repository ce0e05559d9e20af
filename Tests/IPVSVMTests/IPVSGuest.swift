import Foundation
import Testing

/// One boot of the real-kernel guest (Tests/VM/run-guest.sh) running Guest/ipvs-scenarios.sh with the built
/// `ipvs-probe`; every test of IPVSVMTests judges the files that boot left behind, so the suite costs one boot.
struct IPVSGuest: Sendable {
    let results: URL

    /// Set KPSWITCH_SKIP_VM=1 to skip the guest (no QEMU, or no time).
    static let skipped = ProcessInfo.processInfo.environment["KPSWITCH_SKIP_VM"] == "1"

    static let boot: Result<IPVSGuest, GuestFailure> = {
        do { return .success(try IPVSGuest.run()) } catch let failure as GuestFailure {
            return .failure(failure)
        } catch {
            return .failure(GuestFailure(message: "\(error)"))
        }
    }()

    static func shared() throws -> IPVSGuest { try boot.get() }

    struct GuestFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    /// The probe sits beside the test bundle, as SwiftPM builds every product into one folder.
    static var probe: URL {
        if let path = ProcessInfo.processInfo.environment["IPVS_PROBE_BIN"] { return URL(fileURLWithPath: path) }
        var directory = Bundle.main.bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("ipvs-probe")
    }

    private static func run() throws -> IPVSGuest {
        let fileManager = FileManager.default
        guard fileManager.isExecutableFile(atPath: probe.path) else {
            throw GuestFailure(message: "no ipvs-probe at \(probe.path): run `swift build --build-tests` first")
        }
        let work = fileManager.temporaryDirectory.appendingPathComponent("ipvs-vm-\(getpid())")
        try? fileManager.removeItem(at: work)
        let bin = work.appendingPathComponent("bin")
        try fileManager.createDirectory(at: bin, withIntermediateDirectories: true)
        try fileManager.copyItem(at: probe, to: bin.appendingPathComponent("ipvs-probe"))
        // Everything goes in as folders, so that run-guest.sh adds no libraries of its own: it would place
        // them under /lib/..., and a /lib folder in the per-run archive replaces the guest's /lib -> usr/lib
        // link. The probe's libraries go to the guest's canonical paths instead.
        var arguments = [
            "--quiet", "--timeout", "1800", "--results", work.appendingPathComponent("results").path,
            "--add", "\(bin.path):/opt/ipvs",
        ]
        var folders: [String: URL] = [:]
        for library in try libraries(of: probe) {
            let library = URL(fileURLWithPath: library)
            var guestFolder = library.deletingLastPathComponent().path
            if guestFolder.hasPrefix("/lib/") { guestFolder = "/usr" + guestFolder }
            let folder = folders[guestFolder] ?? work.appendingPathComponent("lib\(folders.count)")
            if folders[guestFolder] == nil {
                try fileManager.createDirectory(at: folder, withIntermediateDirectories: true)
                folders[guestFolder] = folder
            }
            let target = folder.appendingPathComponent(library.lastPathComponent)
            try fileManager.copyItem(at: library.resolvingSymlinksInPath(), to: target)
        }
        for (guestFolder, folder) in folders.sorted(by: { $0.key < $1.key }) {
            arguments += ["--add", "\(folder.path):\(guestFolder)"]
        }
        let runner = testsDirectory.deletingLastPathComponent().appendingPathComponent("VM/run-guest.sh")
        arguments.append(testsDirectory.appendingPathComponent("Guest/ipvs-scenarios.sh").path)
        let (status, output) = try execute(runner.path, arguments)
        guard status == 0 else {
            throw GuestFailure(message: "the guest run failed with status \(status):\n\(output.suffix(4000))")
        }
        let results = work.appendingPathComponent("results")
        let listings = try fileManager.contentsOfDirectory(atPath: results.path).filter { $0.hasSuffix(".gz") }
        let (unpacked, message) = try execute("/bin/gunzip", ["-f"] + listings.map { results.appendingPathComponent($0).path })
        guard unpacked == 0 else { throw GuestFailure(message: "gunzip of the guest's listings failed: \(message)") }
        return IPVSGuest(results: results)
    }

    // Everything ldd lists except what every guest has (glibc's loader, libc, libm).
    private static func libraries(of binary: URL) throws -> [String] {
        let (status, output) = try execute("/usr/bin/ldd", [binary.path])
        guard status == 0 else { throw GuestFailure(message: "ldd \(binary.path) failed: \(output)") }
        return output.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count >= 3, fields[1] == "=>", fields[2].hasPrefix("/") else { return nil }
            let name = fields[0]
            if name.hasPrefix("libc.so") || name.hasPrefix("libm.so") { return nil }
            return String(fields[2])
        }
    }

    private static func execute(_ path: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    // MARK: Reading what the guest left

    func text(_ name: String) throws -> String {
        try String(contentsOf: results.appendingPathComponent(name), encoding: .utf8)
    }

    func status(_ name: String) throws -> Int {
        let raw = try text("\(name).status").trimmingCharacters(in: .whitespacesAndNewlines)
        return try #require(Int(raw), "status file of \(name) holds \(raw)")
    }

    func output(_ name: String) throws -> String { try text("\(name).out") }

    /// Records an issue, with the command's stderr, unless the guest command `name` exited 0.
    func expectSuccess(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let status = try status(name)
        let errors = try errors(name)
        #expect(status == 0, "\(name) exited \(status): \(errors)", sourceLocation: sourceLocation)
    }

    func errors(_ name: String) throws -> String { try text("\(name).err") }

    /// The non-empty lines of a command's output, right-trimmed (ipvsadm pads listing columns), as a set.
    func lines(_ name: String) throws -> Set<String> {
        Set(try output(name).split(separator: "\n").map { line in
            String(line.reversed().drop { $0 == " " }.reversed())
        }.filter { !$0.isEmpty })
    }
}
