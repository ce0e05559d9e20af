import Foundation
import NIOSSL

/// Where and how to reach one cluster: the result of kubectl's kubeconfig loading and context resolution.
public struct KubeConfig: Sendable {
    /// The API server URL, e.g. `https://10.0.0.1:6443`.
    public let server: String
    /// The context's namespace, else `default`.
    public let namespace: String
    /// The context used, nil for in-cluster config.
    public let contextName: String?
    /// Things the user should know, such as TLS verification being off by their request.
    public let warnings: [String]

    let tls: TLSSettings
    let credentials: Credentials
    let clientCertificate: ClientCertificate?
}

struct TLSSettings: Sendable {
    /// Trust exactly these roots; nil means the system roots.
    var certificateAuthority: [NIOSSLCertificate]?
    /// Base64 of the CA PEM, passed to exec plugins with `provideClusterInfo`.
    var certificateAuthorityData: String?
    var insecureSkipVerify: Bool
    var serverName: String?
}

struct ClientCertificate: Sendable {
    var chain: [NIOSSLCertificate]
    var key: NIOSSLPrivateKey
}

enum Credentials: Sendable {
    case none
    case token(String)
    /// Re-read when the file changes; `fallback` is the kubeconfig's `token`, used until a read succeeds.
    case tokenFile(path: String, fallback: String?)
    case basic(username: String, password: String)
    case exec(ExecPluginConfig)
}

struct ExecPluginConfig: Sendable {
    enum InteractiveMode: String, Sendable { case never = "Never", ifAvailable = "IfAvailable", always = "Always" }

    var command: String
    var args: [String]
    var env: [(name: String, value: String)]
    var apiVersion: String
    var interactiveMode: InteractiveMode
    var installHint: String?
    var provideClusterInfo: Bool
    var clusterInfo: JSONValue
    /// The kubeconfig that declared the plugin, for messages.
    var file: String
}

extension KubeConfig {
    /// Loads the kubeconfig kubectl would use: `kubeconfig` (the `--kubeconfig` flag) alone, else the files in
    /// `KUBECONFIG` merged (first file to set a value wins), else `~/.kube/config`, else in-cluster config.
    ///
    /// - Parameters:
    ///   - kubeconfig: the `--kubeconfig` path, relative to `workingDirectory`.
    ///   - context: the `--context` name; else the merged `current-context`.
    ///   - environment: where `KUBECONFIG`, `HOME` and in-cluster variables are read.
    public static func load(
        kubeconfig: String? = nil, context: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) throws(KubeAPIError) -> KubeConfig {
        let files = try files(kubeconfig: kubeconfig, environment: environment, workingDirectory: workingDirectory)
        if files.isEmpty {
            if environment["KUBERNETES_SERVICE_HOST"] != nil { return try inCluster(environment: environment) }
            throw noKubeconfig(kubeconfig: kubeconfig, environment: environment)
        }
        return try KubeConfigMerge(files: files).resolve(context: context)
    }

    /// Every context the kubeconfig kubectl would use defines (merged as `load` merges), sorted by name as
    /// `kubectl config get-contexts` lists them.
    public static func contextNames(
        kubeconfig: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) throws(KubeAPIError) -> [String] {
        let files = try files(kubeconfig: kubeconfig, environment: environment, workingDirectory: workingDirectory)
        if files.isEmpty { throw noKubeconfig(kubeconfig: kubeconfig, environment: environment) }
        return KubeConfigMerge(files: files).contexts.keys.sorted()
    }

    private static func noKubeconfig(kubeconfig: String?, environment: [String: String]) -> KubeAPIError {
        let looked = kubeconfig ?? environment["KUBECONFIG"] ?? ((environment["HOME"] ?? "~") + "/.kube/config")
        return KubeAPIError(
            .invalidKubeConfig,
            "no kubeconfig found (looked at \(looked)) and not running in a pod. "
                + "Pass --kubeconfig or set KUBECONFIG.", file: looked, field: "(file)")
    }

    private static func files(
        kubeconfig: String?, environment: [String: String], workingDirectory: String
    ) throws(KubeAPIError) -> [KubeConfigFile] {
        var files: [KubeConfigFile] = []
        if let kubeconfig {
            let path = absolutePath(kubeconfig, relativeTo: workingDirectory)
            guard FileManager.default.fileExists(atPath: path) else {
                throw .kubeconfig(
                    file: path, field: "--kubeconfig", "file does not exist",
                    fix: "Pass the path of an existing kubeconfig file.")
            }
            files = [try KubeConfigFile.read(path: path)]
        } else if let list = environment["KUBECONFIG"], !list.isEmpty {
            // client-go skips missing files in KUBECONFIG but fails on unreadable ones.
            for entry in list.split(separator: ":").map(String.init) where !entry.isEmpty {
                let path = absolutePath(entry, relativeTo: workingDirectory)
                if FileManager.default.fileExists(atPath: path) { files.append(try KubeConfigFile.read(path: path)) }
            }
        } else if let home = environment["HOME"] {
            let path = home + "/.kube/config"
            if FileManager.default.fileExists(atPath: path) { files = [try KubeConfigFile.read(path: path)] }
        }
        return files
    }

    static func absolutePath(_ path: String, relativeTo directory: String) -> String {
        // No "~" expansion: the shell does it for flags, and client-go does not for paths inside a kubeconfig.
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: directory).appendingPathComponent(path).standardizedFileURL.path
    }
}
