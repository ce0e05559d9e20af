/// `manifest.json`: what a bundle is, where and when it was taken, and the SHA-256 of every file in it.
///
/// Its shape is part of the contract (README, "Snapshot bundles"); `formatVersion` changes when it does.
public struct BundleManifest: Codable, Equatable, Sendable {
    public static let fileName = "manifest.json"
    public static let currentFormatVersion = 1

    public let formatVersion: Int
    public let kpswitchVersion: String
    public let host: String
    public let kernel: String
    public let scope: String
    /// RFC 3339 UTC, as in the bundle's directory name.
    public let createdAt: String
    /// Every file of the bundle except the manifest itself, sorted by name.
    public let files: [File]
    /// Captures that were not taken, each with why, so a missing file is never mistaken for an empty one.
    public let skipped: [Skipped]

    public struct File: Codable, Equatable, Sendable {
        public let name: String
        public let size: Int
        public let sha256: String
    }

    public struct Skipped: Codable, Equatable, Sendable {
        public let name: String
        public let reason: String

        public init(name: String, reason: String) {
            self.name = name
            self.reason = reason
        }
    }

    /// What describes the bundle apart from its files; the writer adds the files and their sums.
    public struct Header: Sendable {
        public let kpswitchVersion: String
        public let host: String
        public let kernel: String
        public let scope: String
        public let createdAt: String

        public init(kpswitchVersion: String, host: String, kernel: String, scope: String, createdAt: String) {
            self.kpswitchVersion = kpswitchVersion
            self.host = host
            self.kernel = kernel
            self.scope = scope
            self.createdAt = createdAt
        }
    }

    init(header: Header, files: [File], skipped: [Skipped]) {
        formatVersion = Self.currentFormatVersion
        kpswitchVersion = header.kpswitchVersion
        host = header.host
        kernel = header.kernel
        scope = header.scope
        createdAt = header.createdAt
        self.files = files.sorted { $0.name < $1.name }
        self.skipped = skipped.sorted { $0.name < $1.name }
    }

    private enum CodingKeys: String, CodingKey {
        case formatVersion, kpswitchVersion, host, kernel, scope, createdAt, files, skipped
    }
}
