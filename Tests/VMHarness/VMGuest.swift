import Foundation

/// Runs shell scripts as root in a QEMU guest booted on Debian's Linux kernel, for tests that need a
/// real kernel with IPVS, netfilter and module loading (see Tests/VM/README.md).
public enum VMGuest {
    /// False when `KPSWITCH_SKIP_VM=1`: tests gate on it with `.enabled(if: VMGuest.isEnabled)` and
    /// then show as skipped, never as passed.
    public static var isEnabled: Bool {
        ProcessInfo.processInfo.environment["KPSWITCH_SKIP_VM"] != "1"
    }

    /// Why VM tests are skipped, for the `.enabled(if:)` comment.
    public static let skipComment = "KPSWITCH_SKIP_VM=1 runs host tests only"

    /// Boots the guest, runs `script` under `sh -e` in it with `files` added, and returns what it
    /// reported. A failing or hanging guest script is a `VMRun` whose `succeeded` is false (call
    /// `requireSuccess()` to turn that into a thrown error with the console tail); an image that cannot
    /// be built or a guest that never reports throws `VMHarnessError`.
    ///
    /// - Parameters:
    ///   - script: shell for busybox `sh -e`; `. /vm/lib.sh` gives the scenario helpers, and files
    ///     written to `$RESULTS` come back in `VMRun.results`.
    ///   - files: binaries and data to put into the guest for this run only.
    ///   - timeout: how long the guest may run, boot included, before it is killed.
    public static func run(
        script: String, files: [VMFile] = [], timeout: Duration = .seconds(300)
    ) async throws -> VMRun {
        try await ImageBuilder.shared.ensureImage()
        await BootSlots.shared.acquire()
        do {
            let run = try await boot(script: script, files: files, timeout: timeout)
            await BootSlots.shared.release()
            return run
        } catch {
            await BootSlots.shared.release()
            throw error
        }
    }

    /// The folder with Tests/VM's scripts; `KPSWITCH_VM_DIR` overrides it.
    static let scriptsDirectory: URL = {
        if let path = ProcessInfo.processInfo.environment["KPSWITCH_VM_DIR"] {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("VM")
    }()

    private static func boot(script: String, files: [VMFile], timeout: Duration) async throws -> VMRun {
        let work = try FileManager.default.url(
            for: .itemReplacementDirectory, in: .userDomainMask,
            appropriateFor: URL(fileURLWithPath: NSTemporaryDirectory()), create: true)
        defer { try? FileManager.default.removeItem(at: work) }  // a leftover temp folder harms nothing
        let scriptFile = work.appendingPathComponent("guest.sh")
        try Data(script.utf8).write(to: scriptFile)
        let resultsDirectory = work.appendingPathComponent("results")

        var arguments = ["--timeout", String(timeout.components.seconds), "--results", resultsDirectory.path]
        for (index, file) in files.enumerated() {
            arguments += ["--add", try file.stage(in: work, index: index)]
        }
        let streamConsole = ProcessInfo.processInfo.environment["KPSWITCH_VM_CONSOLE"] == "1"
        if !streamConsole { arguments.append("--quiet") }
        arguments.append(scriptFile.path)

        let runnerLog = work.appendingPathComponent("runner.log")
        let status = try await HostProcess.run(
            scriptsDirectory.appendingPathComponent("run-guest.sh"), arguments,
            standardOutput: streamConsole ? .standardError : .nullDevice, standardError: runnerLog)
        let log = (try? String(contentsOf: runnerLog, encoding: .utf8)) ?? ""
        let console = (try? String(contentsOf: resultsDirectory.appendingPathComponent("console.log"), encoding: .utf8)) ?? ""
        if status == 125 {
            throw VMHarnessError.guestDidNotReport(log: log, consoleTail: VMRun.tail(of: console))
        }
        return VMRun(
            status: status, timedOut: status == 124, runnerLog: log, console: console,
            results: try readResults(resultsDirectory))
    }

    private static func readResults(_ directory: URL) throws -> [String: Data] {
        var results: [String: Data] = [:]
        let prefix = directory.resolvingSymlinksInPath().path + "/"
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else {
            return results
        }
        for case let url as URL in walker where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            let name = String(url.resolvingSymlinksInPath().path.dropFirst(prefix.count))
            results[name] = try Data(contentsOf: url)
        }
        return results
    }
}

/// The base image is built once per test process, before the first boot; concurrent callers wait
/// for that one build instead of racing on Tests/VM/cache.
actor ImageBuilder {
    static let shared = ImageBuilder()
    private var build: Task<Void, any Error>?

    func ensureImage() async throws {
        if build == nil {
            build = Task {
                let work = FileManager.default.temporaryDirectory
                    .appendingPathComponent("kpswitch-vm-build-\(ProcessInfo.processInfo.processIdentifier).log")
                defer { try? FileManager.default.removeItem(at: work) }  // only a log
                let status = try await HostProcess.run(
                    VMGuest.scriptsDirectory.appendingPathComponent("build-image.sh"), [],
                    standardOutput: .nullDevice, standardError: work)
                if status != 0 {
                    let log = (try? String(contentsOf: work, encoding: .utf8)) ?? ""
                    throw VMHarnessError.imageBuildFailed(status: status, log: log)
                }
            }
        }
        guard let build else { return }
        try await build.value
    }
}

/// At most two guests at once: each is one busy TCG thread, and CI has two cores.
actor BootSlots {
    static let shared = BootSlots()
    private var free = 2
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
