import Foundation
import NIOSSL
import Testing

@testable import KubeAPI

@Suite("kubeconfig loading and merging")
struct KubeConfigTests {
    static let pki = Fixtures.kubeconfigs + "/pki"

    /// A kubeconfig whose CA path is relative, so it only loads if resolved against the file's own directory.
    static func file(
        current: String?, cluster: String, server: String, user: String, userBody: String, context: String,
        namespace: String? = nil, caPath: String = "ca.crt"
    ) -> String {
        """
        apiVersion: v1
        kind: Config
        \(current.map { "current-context: \($0)" } ?? "")
        clusters:
        - name: \(cluster)
          cluster:
            server: \(server)
            certificate-authority: \(caPath)
        users:
        - name: \(user)
          user:
        \(userBody)
        contexts:
        - name: \(context)
          context:
            cluster: \(cluster)
            user: \(user)
        \(namespace.map { "    namespace: \($0)" } ?? "")
        """
    }

    /// Two directories, each with its own ca.crt beside its kubeconfig.
    static func twoFiles() throws -> (first: String, second: String) {
        let root = try Fixtures.scratchDirectory()
        for dir in ["one", "two"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(dir)", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: pki + "/ca.crt", toPath: "\(root)/\(dir)/ca.crt")
        }
        let first = "\(root)/one/config"
        let second = "\(root)/two/config"
        try Fixtures.write(
            file(
                current: "alpha", cluster: "c1", server: "https://one.example:6443", user: "red",
                userBody: "    token: first-token", context: "alpha"), to: first)
        try Fixtures.write(
            file(
                current: "beta", cluster: "c2", server: "https://two.example:6443", user: "red",
                userBody: "    token: second-token", context: "beta", namespace: "kube-system")
                + "\n- name: alpha\n  context:\n    cluster: c2\n    user: red\n", to: second)
        // The second file's "alpha" context is a duplicate of the first's and must lose.
        return (first, second)
    }

    @Test("KUBECONFIG merges: the first file to set a value or a stanza wins")
    func mergeFirstWins() throws {
        let (first, second) = try Self.twoFiles()
        let config = try KubeConfig.load(environment: ["KUBECONFIG": "\(first)::\(second)"])
        #expect(config.contextName == "alpha")
        #expect(config.server == "https://one.example:6443")
        guard case .token(let token) = config.credentials else {
            Issue.record("expected token credentials, got \(config.credentials)")
            return
        }
        #expect(token == "first-token")
        #expect(config.namespace == "default")
    }

    @Test("--context picks a context from a later file; its relative CA path resolves against that file")
    func contextFromSecondFile() throws {
        let (first, second) = try Self.twoFiles()
        let config = try KubeConfig.load(context: "beta", environment: ["KUBECONFIG": "\(first):\(second)"])
        #expect(config.server == "https://two.example:6443")
        #expect(config.namespace == "kube-system")
        // User "red" comes from the first file: its later definition is ignored entirely.
        guard case .token("first-token") = config.credentials else {
            Issue.record("expected the first file's user, got \(config.credentials)")
            return
        }
        #expect(config.tls.certificateAuthority?.count == 1)
    }

    @Test("missing files in KUBECONFIG are skipped")
    func missingFilesSkipped() throws {
        let (first, _) = try Self.twoFiles()
        let config = try KubeConfig.load(environment: ["KUBECONFIG": "/nonexistent/config:\(first)"])
        #expect(config.contextName == "alpha")
    }

    @Test("--kubeconfig uses only that file, relative to the working directory")
    func explicitFileOnly() throws {
        let (first, second) = try Self.twoFiles()
        let directory = URL(fileURLWithPath: second).deletingLastPathComponent().path
        let config = try KubeConfig.load(
            kubeconfig: "config", environment: ["KUBECONFIG": first], workingDirectory: directory)
        #expect(config.contextName == "beta")
        guard case .token("second-token") = config.credentials else {
            Issue.record("expected the second file's token")
            return
        }
    }

    @Test("TLS: the kubeconfig's CA is the only trust root and verification is on")
    func caIsOnlyRoot() throws {
        let (first, _) = try Self.twoFiles()
        let config = try KubeConfig.load(kubeconfig: first, environment: [:])
        let tls = config.tlsConfiguration(certificate: nil)
        #expect(tls.certificateVerification == .fullVerification)
        #expect(tls.minimumTLSVersion == .tlsv12)
        guard case .certificates(let roots) = tls.trustRoots else {
            Issue.record("expected explicit roots, got \(String(describing: tls.trustRoots))")
            return
        }
        #expect(roots.count == 1)
        #expect(config.warnings.isEmpty)
    }

    @Test("insecure-skip-tls-verify only when set, and then with a warning")
    func insecureOnlyWhenSet() throws {
        let dir = try Fixtures.scratchDirectory()
        let path = dir + "/config"
        let text = """
            clusters:
            - name: k
              cluster:
                server: https://127.0.0.1:6443
                insecure-skip-tls-verify: true
            contexts:
            - name: c
              context: {cluster: k}
            current-context: c
            """
        try Fixtures.write(text, to: path)
        let insecure = try KubeConfig.load(kubeconfig: path, environment: [:])
        #expect(insecure.tlsConfiguration(certificate: nil).certificateVerification == .none)
        #expect(insecure.warnings.count == 1)
        #expect(insecure.warnings.first?.contains("TLS verification is OFF") == true)

        try Fixtures.write(text.replacingOccurrences(of: "    insecure-skip-tls-verify: true\n", with: ""), to: path)
        let absent = try KubeConfig.load(kubeconfig: path, environment: [:])
        #expect(absent.tlsConfiguration(certificate: nil).certificateVerification == .fullVerification)
        #expect(absent.warnings.isEmpty)
    }

    @Test("client certificate and key from files relative to the kubeconfig, tls-server-name kept")
    func clientCertificateFiles() throws {
        let dir = try Fixtures.scratchDirectory()
        for name in ["ca.crt", "client.crt", "client.key"] {
            try FileManager.default.copyItem(atPath: Self.pki + "/" + name, toPath: dir + "/" + name)
        }
        try Fixtures.write(
            """
            clusters:
            - name: k
              cluster: {server: "https://10.0.0.1:6443", certificate-authority: ca.crt, tls-server-name: api.internal}
            users:
            - name: u
              user: {client-certificate: client.crt, client-key: client.key}
            contexts:
            - name: c
              context: {cluster: k, user: u, namespace: kube-system}
            current-context: c
            """, to: dir + "/config")
        let config = try KubeConfig.load(kubeconfig: dir + "/config", environment: [:])
        #expect(config.clientCertificate?.chain.count == 1)
        #expect(config.tls.serverName == "api.internal")
        #expect(config.namespace == "kube-system")
        let tls = config.tlsConfiguration(certificate: config.clientCertificate)
        #expect(tls.certificateChain.count == 1)
        #expect(tls.privateKey != nil)
    }

    @Test("exec: relative command resolves against the kubeconfig, v1beta1 defaults interactiveMode")
    func execStanza() throws {
        let dir = try Fixtures.scratchDirectory()
        try Fixtures.write(
            """
            clusters:
            - name: k
              cluster: {server: "https://127.0.0.1:6443"}
            users:
            - name: u
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1beta1
                  command: ./bin/get-token
                  args: ["--cluster", "k"]
                  env: [{name: REGION, value: eu}]
                  provideClusterInfo: true
            contexts:
            - name: c
              context: {cluster: k, user: u}
            current-context: c
            """, to: dir + "/config")
        let config = try KubeConfig.load(kubeconfig: dir + "/config", environment: [:])
        guard case .exec(let exec) = config.credentials else {
            Issue.record("expected exec credentials")
            return
        }
        #expect(exec.command == dir + "/bin/get-token")
        #expect(exec.args == ["--cluster", "k"])
        #expect(exec.env.map(\.name) == ["REGION"])
        #expect(exec.interactiveMode == .ifAvailable)
        #expect(exec.clusterInfo["server"] == "https://127.0.0.1:6443")
    }

    @Test("in-cluster config: service account token file, CA, namespace; IPv6 host bracketed")
    func inCluster() throws {
        let dir = try Fixtures.scratchDirectory()
        try FileManager.default.copyItem(atPath: Self.pki + "/ca.crt", toPath: dir + "/ca.crt")
        try Fixtures.write("sa-token\n", to: dir + "/token")
        try Fixtures.write("kube-system\n", to: dir + "/namespace")
        let config = try KubeConfig.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"],
            serviceAccountDirectory: dir)
        #expect(config.server == "https://[fd00::1]:443")
        #expect(config.namespace == "kube-system")
        #expect(config.tls.certificateAuthority?.count == 1)
        #expect(!config.tls.insecureSkipVerify)

        let outside = try #require(throws: KubeAPIError.self) {
            try KubeConfig.inCluster(environment: [:], serviceAccountDirectory: dir)
        }
        #expect(outside.kind == .notInCluster)
        #expect(outside.isInvalidInput)
    }

    @Test("a token file is re-read when it changes, keeping the last good token")
    func tokenFileRotation() async throws {
        let dir = try Fixtures.scratchDirectory()
        let path = dir + "/token"
        try Fixtures.write("one\n", to: path)
        let provider = CredentialProvider(.tokenFile(path: path, fallback: nil))
        #expect(try await provider.authorization().header == "Bearer one")
        try Fixtures.write("two-rotated\n", to: path)
        #expect(try await provider.authorization().header == "Bearer two-rotated")
        try FileManager.default.removeItem(atPath: path)
        #expect(try await provider.authorization().header == "Bearer two-rotated")
    }
}
