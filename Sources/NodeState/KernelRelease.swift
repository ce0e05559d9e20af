import Foundation
/// A kernel release as `uname -r` prints it (`6.1.0-28-amd64`), compared by its numeric prefix.
public struct KernelRelease: Comparable, Codable, Sendable, CustomStringConvertible {
    public let text: String
    public let major: Int
    public let minor: Int
    public let patch: Int

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let numeric = trimmed.prefix { $0.isNumber || $0 == "." }
        let parts = numeric.split(separator: ".").map { Int($0) }
        guard parts.count >= 2, let major = parts[0], let minor = parts[1] else { return nil }
        self.text = trimmed
        self.major = major
        self.minor = minor
        patch = parts.count > 2 ? (parts[2] ?? 0) : 0
    }

    public init(major: Int, minor: Int, patch: Int = 0) {
        text = "\(major).\(minor).\(patch)"
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    public var description: String { text }

    public static func < (lhs: KernelRelease, rhs: KernelRelease) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    public static func == (lhs: KernelRelease, rhs: KernelRelease) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) == (rhs.major, rhs.minor, rhs.patch)
    }
}
