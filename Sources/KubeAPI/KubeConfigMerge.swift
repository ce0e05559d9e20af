import Foundation
import NIOSSL

/// kubectl's merge of several kubeconfig files and the resolution of one context into a `KubeConfig`.
struct KubeConfigMerge {
    let files: [KubeConfigFile]
    let currentContext: (name: String, file: String)?
    let clusters: [String: KubeConfigFile.Stanza]
    let contexts: [String: KubeConfigFile.Stanza]
    let users: [String: KubeConfigFile.Stanza]

    /// The first file to define a value or a named stanza wins; later files never change it, not even
    /// fields the first file's stanza lacks.
    init(files: [KubeConfigFile]) {
        self.files = files
        var current: (String, String)?
        var clusters: [String: KubeConfigFile.Stanza] = [:]
        var contexts: [String: KubeConfigFile.Stanza] = [:]
        var users: [String: KubeConfigFile.Stanza] = [:]
        for file in files {
            if current == nil, let name = file.currentContext { current = (name, file.path) }
            for stanza in file.clusters where clusters[stanza.name] == nil { clusters[stanza.name] = stanza }
            for stanza in file.contexts where contexts[stanza.name] == nil { contexts[stanza.name] = stanza }
            for stanza in file.users where users[stanza.name] == nil { users[stanza.name] = stanza }
        }
        self.currentContext = current
        self.clusters = clusters
        self.contexts = contexts
        self.users = users
    }

    private var fileList: String { files.map(\.path).joined(separator: ":") }

    func resolve(context override: String?) throws(KubeAPIError) -> KubeConfig {
        let contextName: String
        let contextSource: (file: String, field: String)
        if let override {
            contextName = override
            contextSource = (fileList, "--context")
        } else if let current = currentContext {
            contextName = current.name
            contextSource = (current.file, "current-context")
        } else {
            throw .kubeconfig(
                file: fileList, field: "current-context", "is not set",
                fix: "Pass --context or run `kubectl config use-context NAME`.")
        }
        guard let context = contexts[contextName] else {
            let known = contexts.keys.sorted().joined(separator: ", ")
            throw .kubeconfig(
                file: contextSource.file, field: contextSource.field,
                "names context \"\(contextName)\", which no kubeconfig file defines",
                fix: known.isEmpty ? "Add a contexts entry." : "Use one of: \(known).")
        }
        guard let clusterName = try context.string("cluster"), !clusterName.isEmpty else {
            throw .kubeconfig(
                file: context.file, field: "\(context.field).cluster", "is missing",
                fix: "Name the cluster this context uses.")
        }
        guard let cluster = clusters[clusterName] else {
            throw .kubeconfig(
                file: context.file, field: "\(context.field).cluster",
                "names cluster \"\(clusterName)\", which no kubeconfig file defines",
                fix: "Add a clusters entry named \(clusterName) or fix the name.")
        }
        var user: KubeConfigFile.Stanza?
        if let userName = try context.string("user"), !userName.isEmpty {
            guard let found = users[userName] else {
                throw .kubeconfig(
                    file: context.file, field: "\(context.field).user",
                    "names user \"\(userName)\", which no kubeconfig file defines",
                    fix: "Add a users entry named \(userName) or fix the name.")
            }
            user = found
        }
        let namespace = try context.string("namespace").flatMap { $0.isEmpty ? nil : $0 } ?? "default"

        var warnings: [String] = []
        let (server, tls) = try Self.clusterSettings(cluster, warnings: &warnings)
        let clusterInfo = Self.execClusterInfo(cluster: cluster, server: server, tls: tls)
        var credentials = Credentials.none
        var certificate: ClientCertificate?
        if let user {
            (credentials, certificate) = try Self.userSettings(user, clusterInfo: clusterInfo)
        }
        return KubeConfig(
            server: server, namespace: namespace, contextName: contextName, warnings: warnings,
            tls: tls, credentials: credentials, clientCertificate: certificate)
    }

    static func clusterSettings(
        _ cluster: KubeConfigFile.Stanza, warnings: inout [String]
    ) throws(KubeAPIError) -> (String, TLSSettings) {
        guard let server = try cluster.string("server"), !server.isEmpty else {
            throw .kubeconfig(
                file: cluster.file, field: "\(cluster.field).server", "is missing",
                fix: "Set the API server URL, e.g. https://HOST:6443.")
        }
        guard let url = URL(string: server), let scheme = url.scheme, ["https", "http"].contains(scheme),
            url.host != nil
        else {
            throw .kubeconfig(
                file: cluster.file, field: "\(cluster.field).server", "\"\(server)\" is not an http(s) URL",
                fix: "Write it as https://HOST:PORT.")
        }
        if cluster.fields["proxy-url"] != nil {
            throw .kubeconfig(
                file: cluster.file, field: "\(cluster.field).proxy-url", "is not supported by kpswitch",
                fix: "Remove it and reach the API server directly, or run kpswitch where it can.")
        }
        let insecure = try cluster.bool("insecure-skip-tls-verify") ?? false
        var tls = TLSSettings(
            certificateAuthority: nil, certificateAuthorityData: nil, insecureSkipVerify: insecure,
            serverName: try cluster.string("tls-server-name").flatMap { $0.isEmpty ? nil : $0 })
        // client-go: data wins over a file when both are set.
        if let pem = try pemBytes(cluster, dataKey: "certificate-authority-data", fileKey: "certificate-authority") {
            tls.certificateAuthority = try certificates(pem.bytes, stanza: cluster, field: pem.field)
            tls.certificateAuthorityData = Data(pem.bytes).base64EncodedString()
            if insecure {
                throw .kubeconfig(
                    file: cluster.file, field: "\(cluster.field).insecure-skip-tls-verify",
                    "is true while a certificate authority is set; a root certificate with the insecure flag is not allowed",
                    fix: "Remove insecure-skip-tls-verify so the CA is used.")
            }
        }
        if insecure {
            warnings.append(
                "TLS verification is OFF for cluster \(cluster.name) (insecure-skip-tls-verify: true in \(cluster.file)); "
                    + "the API server's identity is not checked.")
        }
        return (server, tls)
    }

    static func userSettings(
        _ user: KubeConfigFile.Stanza, clusterInfo: JSONValue
    ) throws(KubeAPIError) -> (Credentials, ClientCertificate?) {
        if user.fields["auth-provider"] != nil {
            throw .kubeconfig(
                file: user.file, field: "\(user.field).auth-provider",
                "built-in auth providers were removed from kubectl and are not supported",
                fix: "Use the provider's exec credential plugin (e.g. kubelogin, gke-gcloud-auth-plugin).")
        }
        let token = try user.string("token").flatMap { $0.isEmpty ? nil : $0 }
        let tokenFile = try user.string("tokenFile").flatMap { $0.isEmpty ? nil : $0 }
        let username = try user.string("username").flatMap { $0.isEmpty ? nil : $0 }
        let password = try user.string("password").flatMap { $0.isEmpty ? nil : $0 }
        let exec = user.fields["exec"]

        var methods: [String] = []
        if token != nil || tokenFile != nil { methods.append("token") }
        if username != nil || password != nil { methods.append("basic auth (username/password)") }
        if exec != nil, !(exec is NSNull) { methods.append("exec") }
        if methods.count > 1 {
            throw .kubeconfig(
                file: user.file, field: user.field,
                "sets more than one authentication method (\(methods.joined(separator: ", ")))",
                fix: "Keep exactly one of them.")
        }

        var certificate: ClientCertificate?
        let certPEM = try pemBytes(user, dataKey: "client-certificate-data", fileKey: "client-certificate")
        let keyPEM = try pemBytes(user, dataKey: "client-key-data", fileKey: "client-key")
        switch (certPEM, keyPEM) {
        case (let cert?, let key?):
            let chain = try certificates(cert.bytes, stanza: user, field: cert.field)
            let privateKey: NIOSSLPrivateKey
            do {
                privateKey = try NIOSSLPrivateKey(bytes: key.bytes, format: .pem)
            } catch {
                throw .kubeconfig(
                    file: user.file, field: "\(user.field).\(key.field)", "is not a PEM private key",
                    fix: "Provide the client's private key in PEM form.")
            }
            certificate = ClientCertificate(chain: chain, key: privateKey)
        case (let cert?, nil):
            throw .kubeconfig(
                file: user.file, field: "\(user.field).client-key",
                "is missing while \(cert.field) is set", fix: "Set client-key or client-key-data.")
        case (nil, let key?):
            throw .kubeconfig(
                file: user.file, field: "\(user.field).client-certificate",
                "is missing while \(key.field) is set", fix: "Set client-certificate or client-certificate-data.")
        case (nil, nil):
            break
        }

        if let tokenFile {
            let path = KubeConfig.absolutePath(tokenFile, relativeTo: URL(fileURLWithPath: user.file).deletingLastPathComponent().path)
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw .kubeconfig(
                    file: user.file, field: "\(user.field).tokenFile", "\(path) cannot be read",
                    fix: "Point tokenFile at a readable file.")
            }
            return (.tokenFile(path: path, fallback: token), certificate)
        }
        if let token { return (.token(token), certificate) }
        if username != nil || password != nil {
            return (.basic(username: username ?? "", password: password ?? ""), certificate)
        }
        if let exec, !(exec is NSNull) {
            return (.exec(try execConfig(exec, user: user, clusterInfo: clusterInfo)), certificate)
        }
        return (.none, certificate)
    }

    static func execConfig(
        _ value: Any, user: KubeConfigFile.Stanza, clusterInfo: JSONValue
    ) throws(KubeAPIError) -> ExecPluginConfig {
        let field = "\(user.field).exec"
        guard let fields = value as? [String: Any] else {
            throw .kubeconfig(file: user.file, field: field, "is not a mapping", fix: "Check its indentation.")
        }
        let exec = KubeConfigFile.Stanza(name: user.name, fields: fields, file: user.file, field: field)
        guard let command = try exec.string("command"), !command.isEmpty else {
            throw .kubeconfig(
                file: user.file, field: "\(field).command", "is missing", fix: "Name the credential plugin to run.")
        }
        guard let apiVersion = try exec.string("apiVersion") else {
            throw .kubeconfig(
                file: user.file, field: "\(field).apiVersion", "is missing",
                fix: "Set client.authentication.k8s.io/v1 (or v1beta1).")
        }
        guard ExecPlugin.supportedVersions.contains(apiVersion) else {
            throw .kubeconfig(
                file: user.file, field: "\(field).apiVersion", "\"\(apiVersion)\" is not supported",
                fix: "Use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1.")
        }
        let mode: ExecPluginConfig.InteractiveMode
        if let raw = try exec.string("interactiveMode") {
            guard let parsed = ExecPluginConfig.InteractiveMode(rawValue: raw) else {
                throw .kubeconfig(
                    file: user.file, field: "\(field).interactiveMode", "\"\(raw)\" is not valid",
                    fix: "Use Never, IfAvailable or Always.")
            }
            mode = parsed
        } else if apiVersion == "client.authentication.k8s.io/v1" {
            throw .kubeconfig(
                file: user.file, field: "\(field).interactiveMode", "is required for apiVersion v1",
                fix: "Set Never, IfAvailable or Always.")
        } else {
            mode = .ifAvailable
        }
        var args: [String] = []
        if let raw = fields["args"], !(raw is NSNull) {
            guard let list = raw as? [Any], list.allSatisfy({ $0 is String }) else {
                throw .kubeconfig(
                    file: user.file, field: "\(field).args", "must be a list of strings", fix: "Quote each argument.")
            }
            args = list.compactMap { $0 as? String }
        }
        var env: [(name: String, value: String)] = []
        if let raw = fields["env"], !(raw is NSNull) {
            guard let list = raw as? [Any] else {
                throw .kubeconfig(
                    file: user.file, field: "\(field).env", "must be a list of {name, value}",
                    fix: "Write each variable as `- name: X` and `value: Y`.")
            }
            for (index, item) in list.enumerated() {
                guard let pair = item as? [String: Any], let name = pair["name"] as? String, !name.isEmpty,
                    let value = pair["value"] as? String
                else {
                    throw .kubeconfig(
                        file: user.file, field: "\(field).env[\(index)]", "needs a string name and value",
                        fix: "Write it as `- name: X` and `value: \"Y\"`.")
                }
                env.append((name, value))
            }
        }
        // A command with a slash is a path, relative to the kubeconfig's directory; a bare name is looked up in PATH.
        let resolved =
            command.contains("/")
            ? KubeConfig.absolutePath(command, relativeTo: URL(fileURLWithPath: user.file).deletingLastPathComponent().path)
            : command
        return ExecPluginConfig(
            command: resolved, args: args, env: env, apiVersion: apiVersion, interactiveMode: mode,
            installHint: try exec.string("installHint"),
            provideClusterInfo: try exec.bool("provideClusterInfo") ?? false,
            clusterInfo: clusterInfo, file: user.file)
    }

    static func execClusterInfo(cluster: KubeConfigFile.Stanza, server: String, tls: TLSSettings) -> JSONValue {
        var info: JSONValue = ["server": .string(server), "insecure-skip-tls-verify": .bool(tls.insecureSkipVerify)]
        if let data = tls.certificateAuthorityData { info["certificate-authority-data"] = .string(data) }
        if let name = tls.serverName { info["tls-server-name"] = .string(name) }
        return info
    }

    /// The PEM bytes of `dataKey` (base64) or else of the file `fileKey` names, relative to the stanza's file.
    static func pemBytes(
        _ stanza: KubeConfigFile.Stanza, dataKey: String, fileKey: String
    ) throws(KubeAPIError) -> (bytes: [UInt8], field: String)? {
        if let data = try stanza.string(dataKey), !data.isEmpty {
            let compact = data.filter { !$0.isWhitespace }
            guard let decoded = Data(base64Encoded: compact) else {
                throw .kubeconfig(
                    file: stanza.file, field: "\(stanza.field).\(dataKey)", "is not valid base64",
                    fix: "Encode the PEM with `base64 -w0`.")
            }
            return (Array(decoded), dataKey)
        }
        if let path = try stanza.string(fileKey), !path.isEmpty {
            let directory = URL(fileURLWithPath: stanza.file).deletingLastPathComponent().path
            let absolute = KubeConfig.absolutePath(path, relativeTo: directory)
            guard let contents = FileManager.default.contents(atPath: absolute) else {
                throw .kubeconfig(
                    file: stanza.file, field: "\(stanza.field).\(fileKey)", "\(absolute) cannot be read",
                    fix: "Relative paths are relative to the kubeconfig's directory; point \(fileKey) at a readable file.")
            }
            return (Array(contents), fileKey)
        }
        return nil
    }

    static func certificates(
        _ bytes: [UInt8], stanza: KubeConfigFile.Stanza, field: String
    ) throws(KubeAPIError) -> [NIOSSLCertificate] {
        var certificates: [NIOSSLCertificate] = []
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            // Reported below with the file and field; NIOSSL's own error names neither.
        }
        guard !certificates.isEmpty else {
            throw .kubeconfig(
                file: stanza.file, field: "\(stanza.field).\(field)", "holds no PEM certificate",
                fix: "Provide a PEM certificate (-----BEGIN CERTIFICATE-----).")
        }
        return certificates
    }
}
