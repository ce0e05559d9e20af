import Foundation

/// A file put into the guest for one run, on top of the cached base image.
public struct VMFile: Sendable {
    private enum Source: Sendable {
        case host(URL)
        case contents(Data)
    }

    private let source: Source
    /// The absolute path in the guest.
    public let guestPath: String

    /// A host file or folder copied to `guestPath`. A dynamically linked executable brings the shared
    /// libraries `ldd` lists (the Swift runtime included) at the same paths, so it runs as on the host.
    public static func copy(_ host: URL, to guestPath: String) -> VMFile {
        VMFile(source: .host(host), guestPath: guestPath)
    }

    /// A file with the given text, for scenario data (a kube-proxy config, an ipvsadm restore file).
    public static func text(_ text: String, at guestPath: String) -> VMFile {
        VMFile(source: .contents(Data(text.utf8)), guestPath: guestPath)
    }

    /// An executable this package built (`kpswitch`, a test tool), installed as
    /// `/usr/local/bin/NAME` in the guest with the libraries it needs.
    public static func product(_ name: String) throws -> VMFile {
        let url = BuildProducts.directory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw VMHarnessError.productMissing(name: name, directory: BuildProducts.directory.path)
        }
        return .copy(url, to: "/usr/local/bin/\(name)")
    }

    /// The `HOST:GUEST` argument run-guest.sh takes, writing generated contents under `work` first.
    func stage(in work: URL, index: Int) throws -> String {
        switch source {
        case .host(let url):
            return "\(url.path):\(guestPath)"
        case .contents(let data):
            let url = work.appendingPathComponent("file-\(index)")
            try data.write(to: url)
            return "\(url.path):\(guestPath)"
        }
    }
}

/// Where SwiftPM put this package's executables: beside the test bundle, whatever the scratch path;
/// `KPSWITCH_BIN_DIR` overrides it.
enum BuildProducts {
    static let directory: URL = {
        if let path = ProcessInfo.processInfo.environment["KPSWITCH_BIN_DIR"] {
            return URL(fileURLWithPath: path)
        }
        var directory = Bundle.main.bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        return directory
    }()
}
