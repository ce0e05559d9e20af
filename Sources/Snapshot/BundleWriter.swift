import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes one bundle: files go into a hidden staging directory, and the bundle appears under its final
/// name only when `commit` renames it there, so a failed capture never leaves a half bundle behind.
///
/// Directories are 0700 and files 0600 whatever the umask: a bundle holds a node's whole firewall.
public final class BundleWriter {
    /// Where the bundle will be once committed.
    public let url: URL
    let stagingURL: URL
    private var written: Set<String> = []
    private var finished = false

    /// Creates the staging directory beside the bundle's final place; fails if that place is taken.
    public init(parent: URL, name: String) throws(SnapshotError) {
        url = parent.appendingPathComponent(name, isDirectory: true)
        stagingURL = parent.appendingPathComponent(".\(name).partial", isDirectory: true)
        guard !FileManager.default.fileExists(atPath: url.path) else {
            throw SnapshotError(
                "\(url.path) already exists.", remediation: "Choose another --out directory or move the old bundle.")
        }
        try Self.makeDirectory(stagingURL, bundleName: name)
    }

    /// Writes a whole file from memory.
    public func write(_ name: String, contents: some DataProtocol) throws(SnapshotError) {
        let descriptor = try create(name)
        defer { close(descriptor) }
        let bytes = [UInt8](contents)
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return Glibc.write(descriptor, base + offset, buffer.count - offset)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.ioError(name, "writing", errno)
            }
            offset += count
        }
        try sync(descriptor, name)
    }

    /// Opens a new file and hands its descriptor to `body`, which streams into it (a child process's
    /// stdout, say) without holding the content in memory; the descriptor is closed afterwards.
    public func withFile<T>(
        _ name: String, _ body: (Int32) async throws -> T
    ) async throws -> T {
        let descriptor = try create(name)
        defer { close(descriptor) }
        let result = try await body(descriptor)
        try sync(descriptor, name)
        return result
    }

    /// Removes a file written earlier: a capture that turned out to have nothing to say.
    public func remove(_ name: String) throws(SnapshotError) {
        guard written.remove(name) != nil else { return }
        if unlink(stagingURL.appendingPathComponent(name).path) != 0 {
            throw Self.ioError(name, "removing", errno)
        }
    }

    /// Hashes every file written, writes the manifest and renames the staging directory into place.
    @discardableResult
    public func commit(
        header: BundleManifest.Header, skipped: [BundleManifest.Skipped]
    ) throws(SnapshotError) -> BundleManifest {
        var files: [BundleManifest.File] = []
        for name in written.sorted() {
            let digest = try FileDigest.sha256(of: stagingURL.appendingPathComponent(name), name: name)
            files.append(.init(name: name, size: digest.size, sha256: digest.hex))
        }
        let manifest = BundleManifest(header: header, files: files, skipped: skipped)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(manifest)
        } catch {
            throw SnapshotError(
                file: BundleManifest.fileName, "The manifest could not be encoded: \(error).",
                remediation: "Report this as a kpswitch bug.")
        }
        try write(BundleManifest.fileName, contents: data + Data("\n".utf8))
        written.remove(BundleManifest.fileName)
        if rename(stagingURL.path, url.path) != 0 {
            throw Self.ioError(url.lastPathComponent, "moving the finished bundle into place", errno)
        }
        let parent = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        if parent >= 0 {
            // The rename is the commit; make it durable before anyone relies on the bundle.
            fsync(parent)
            close(parent)
        }
        finished = true
        return manifest
    }

    /// Deletes the staging directory and everything in it; called when a capture failed.
    public func discard() {
        guard !finished else { return }
        finished = true
        do {
            try FileManager.default.removeItem(at: stagingURL)
        } catch {
            // Called on the failure path, whose own error is what the user must see; a staging
            // directory that could not be removed is hidden and its name says it is partial.
        }
    }

    deinit {
        discard()
    }

    private func create(_ name: String) throws(SnapshotError) -> Int32 {
        try Self.checkRelative(name)
        guard !written.contains(name) else {
            throw SnapshotError(file: name, "\(name) was written twice.", remediation: "Report this as a kpswitch bug.")
        }
        let fileURL = stagingURL.appendingPathComponent(name)
        let directory = fileURL.deletingLastPathComponent()
        if directory.path != stagingURL.path, !FileManager.default.fileExists(atPath: directory.path) {
            try Self.makeDirectory(directory, bundleName: name)
        }
        let descriptor = open(fileURL.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.ioError(name, "creating", errno) }
        fchmod(descriptor, 0o600)
        written.insert(name)
        return descriptor
    }

    private func sync(_ descriptor: Int32, _ name: String) throws(SnapshotError) {
        if fsync(descriptor) != 0 { throw Self.ioError(name, "flushing", errno) }
    }

    static func checkRelative(_ name: String) throws(SnapshotError) {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, !name.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
        else {
            throw SnapshotError(
                file: name, "'\(name)' is not a plain relative file name inside a bundle.",
                remediation: "Bundle file names must not be absolute or contain '.' or '..' parts.")
        }
    }

    private static func makeDirectory(_ directory: URL, bundleName: String) throws(SnapshotError) {
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SnapshotError(
                "Could not create \(directory.path): \(error.localizedDescription).",
                remediation: "Check that --out names a writable directory.")
        }
        chmod(directory.path, 0o700)
    }

    static func ioError(_ name: String, _ action: String, _ code: Int32) -> SnapshotError {
        SnapshotError(
            file: name, "Failed \(action) \(name): \(String(cString: strerror(code))).",
            remediation: "Check free space and permissions of the --out directory.")
    }
}

/// SHA-256 of a file, read in chunks so a large ruleset never sits in memory twice.
enum FileDigest {
    static func sha256(of url: URL, name: String) throws(SnapshotError) -> (hex: String, size: Int) {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw BundleWriter.ioError(name, "reading", errno) }
        defer { close(descriptor) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var size = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw BundleWriter.ioError(name, "reading", errno)
            }
            if count == 0 { break }
            size += count
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        let hex = hasher.finalize().map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }.joined()
        return (hex, size)
    }
}
