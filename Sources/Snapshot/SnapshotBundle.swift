import Foundation

/// A bundle on disk, opened through its manifest.
public struct SnapshotBundle: Sendable {
    public let url: URL
    public let manifest: BundleManifest

    /// Reads and decodes `manifest.json`; a bundle without a readable manifest cannot be trusted at all.
    public static func open(_ url: URL) throws(SnapshotError) -> SnapshotBundle {
        let manifestURL = url.appendingPathComponent(BundleManifest.fileName)
        let data: Data
        do {
            data = try Data(contentsOf: manifestURL)
        } catch {
            throw SnapshotError(
                file: BundleManifest.fileName, "\(manifestURL.path) cannot be read: \(error.localizedDescription).",
                remediation: "Give the directory written by 'kpswitch snapshot' (it holds manifest.json).")
        }
        let manifest: BundleManifest
        do {
            manifest = try JSONDecoder().decode(BundleManifest.self, from: data)
        } catch {
            throw SnapshotError(
                file: BundleManifest.fileName, "\(manifestURL.path) is not a kpswitch manifest: \(error).",
                remediation: "The bundle is damaged or was edited; use another copy.")
        }
        guard manifest.formatVersion == BundleManifest.currentFormatVersion else {
            throw SnapshotError(
                file: BundleManifest.fileName,
                "\(manifestURL.path) has format version \(manifest.formatVersion); this kpswitch reads version \(BundleManifest.currentFormatVersion).",
                remediation: "Use the kpswitch version named in the manifest (\(manifest.kpswitchVersion)).")
        }
        for file in manifest.files {
            try BundleWriter.checkRelative(file.name)
        }
        return SnapshotBundle(url: url, manifest: manifest)
    }

    /// Every file whose content no longer matches the manifest, every listed file that is gone and every
    /// file the manifest does not list; empty when the bundle is intact.
    public func verify() -> [BundleProblem] {
        var problems: [BundleProblem] = []
        for file in manifest.files {
            let fileURL = url.appendingPathComponent(file.name)
            guard FileManager.default.fileExists(atPath: fileURL.path) else {
                problems.append(BundleProblem(file: file.name, kind: .missing))
                continue
            }
            do {
                let digest = try FileDigest.sha256(of: fileURL, name: file.name)
                if digest.hex != file.sha256 {
                    problems.append(BundleProblem(file: file.name, kind: .modified(expected: file.sha256, found: digest.hex)))
                }
            } catch {
                problems.append(BundleProblem(file: file.name, kind: .unreadable(error.message)))
            }
        }
        let listed = Set(manifest.files.map(\.name) + [BundleManifest.fileName])
        for name in Self.regularFiles(under: url) where !listed.contains(name) {
            problems.append(BundleProblem(file: name, kind: .unlisted))
        }
        return problems
    }

    /// Whether the manifest lists `name`.
    public func contains(_ name: String) -> Bool {
        manifest.files.contains { $0.name == name }
    }

    /// The content of a listed file.
    public func contents(of name: String) throws(SnapshotError) -> Data {
        guard contains(name) else {
            throw SnapshotError(
                file: name, "\(url.path) has no \(name).", remediation: "Run 'kpswitch snapshot show' to see what it holds.")
        }
        do {
            return try Data(contentsOf: url.appendingPathComponent(name))
        } catch {
            throw SnapshotError(
                file: name, "\(name) in \(url.path) cannot be read: \(error.localizedDescription).",
                remediation: "Check the bundle's permissions (run as root).")
        }
    }

    private static func regularFiles(under root: URL) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var names: [String] = []
        while let name = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root.appendingPathComponent(name).path, isDirectory: &isDirectory),
                !isDirectory.boolValue
            {
                names.append(name)
            }
        }
        return names.sorted()
    }
}

/// One reason a bundle fails verification, naming the file.
public struct BundleProblem: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case missing
        case modified(expected: String, found: String)
        case unlisted
        case unreadable(String)
    }

    public let file: String
    public let kind: Kind

    public var description: String {
        switch kind {
        case .missing: "\(file): listed in the manifest but missing"
        case .modified(let expected, let found): "\(file): SHA-256 is \(found), the manifest says \(expected)"
        case .unlisted: "\(file): not listed in the manifest"
        case .unreadable(let reason): "\(file): unreadable (\(reason))"
        }
    }
}
