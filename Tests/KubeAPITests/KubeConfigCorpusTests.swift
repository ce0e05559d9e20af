import Foundation
import Testing

@testable import KubeAPI

/// Every malformed kubeconfig is refused with an invalid-input error naming the file and the field.
@Suite("malformed kubeconfigs")
struct KubeConfigCorpusTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let fixture: String
        let field: String
        var testDescription: String { fixture }
    }

    static let cases: [Case] = [
        Case(fixture: "bad-yaml", field: "(YAML)"),
        Case(fixture: "top-level-list", field: "(top level)"),
        Case(fixture: "duplicate-keys", field: "(YAML)"),
        Case(fixture: "clusters-not-list", field: "clusters"),
        Case(fixture: "cluster-without-name", field: "clusters[0].name"),
        Case(fixture: "no-current-context", field: "current-context"),
        Case(fixture: "unknown-current-context", field: "current-context"),
        Case(fixture: "context-without-cluster", field: "contexts[name=c].context.cluster"),
        Case(fixture: "context-unknown-cluster", field: "contexts[name=c].context.cluster"),
        Case(fixture: "context-unknown-user", field: "contexts[name=c].context.user"),
        Case(fixture: "cluster-without-server", field: "clusters[name=k].cluster.server"),
        Case(fixture: "server-not-url", field: "clusters[name=k].cluster.server"),
        Case(fixture: "server-not-string", field: "clusters[name=k].cluster.server"),
        Case(fixture: "missing-ca-file", field: "clusters[name=k].cluster.certificate-authority"),
        Case(fixture: "bad-base64-ca", field: "clusters[name=k].cluster.certificate-authority-data"),
        Case(fixture: "bad-pem-ca", field: "clusters[name=k].cluster.certificate-authority-data"),
        Case(fixture: "ca-and-insecure", field: "clusters[name=k].cluster.insecure-skip-tls-verify"),
        Case(fixture: "insecure-not-bool", field: "clusters[name=k].cluster.insecure-skip-tls-verify"),
        Case(fixture: "proxy-url", field: "clusters[name=k].cluster.proxy-url"),
        Case(fixture: "bad-base64-client-cert", field: "users[name=u].user.client-certificate-data"),
        Case(fixture: "bad-pem-client-cert", field: "users[name=u].user.client-certificate-data"),
        Case(fixture: "bad-pem-client-key", field: "users[name=u].user.client-key-data"),
        Case(fixture: "cert-without-key", field: "users[name=u].user.client-key"),
        Case(fixture: "key-without-cert", field: "users[name=u].user.client-certificate"),
        Case(fixture: "missing-client-cert-file", field: "users[name=u].user.client-certificate"),
        Case(fixture: "token-and-exec", field: "users[name=u].user"),
        Case(fixture: "token-and-basic", field: "users[name=u].user"),
        Case(fixture: "missing-token-file", field: "users[name=u].user.tokenFile"),
        Case(fixture: "auth-provider", field: "users[name=u].user.auth-provider"),
        Case(fixture: "exec-without-command", field: "users[name=u].user.exec.command"),
        Case(fixture: "exec-without-apiversion", field: "users[name=u].user.exec.apiVersion"),
        Case(fixture: "exec-unknown-apiversion", field: "users[name=u].user.exec.apiVersion"),
        Case(fixture: "exec-v1-without-interactive-mode", field: "users[name=u].user.exec.interactiveMode"),
        Case(fixture: "exec-bad-interactive-mode", field: "users[name=u].user.exec.interactiveMode"),
        Case(fixture: "exec-bad-env", field: "users[name=u].user.exec.env[0]"),
        Case(fixture: "exec-args-not-strings", field: "users[name=u].user.exec.args"),
    ]

    /// Values in the fixtures that must never appear in a message.
    static let secrets = ["fixture-token", "secret", "abc", "LS0tLS1CRUdJTi", "not base64!"]

    @Test("each fixture is covered by the table")
    func tableCoversCorpus() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.kubeconfigs)
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }
        #expect(Set(files) == Set(Self.cases.map(\.fixture)))
        #expect(files.count >= 20)
    }

    @Test("refused with file and field", arguments: cases)
    func refused(_ testCase: Case) throws {
        let path = Fixtures.kubeconfigs + "/\(testCase.fixture).yaml"
        let error = try #require(throws: KubeAPIError.self) {
            try KubeConfig.load(kubeconfig: path, environment: [:])
        }
        #expect(error.kind == .invalidKubeConfig)
        #expect(error.isInvalidInput)
        #expect(error.file == path)
        #expect(error.field == testCase.field)
        #expect(error.description.contains(path))
        #expect(error.description.contains(testCase.field))
        for secret in Self.secrets { #expect(!error.description.contains(secret)) }
    }

    @Test("--kubeconfig naming a missing file")
    func missingFile() throws {
        let error = try #require(throws: KubeAPIError.self) {
            try KubeConfig.load(kubeconfig: "does-not-exist.yaml", environment: [:], workingDirectory: "/tmp")
        }
        #expect(error.isInvalidInput)
        #expect(error.file == "/tmp/does-not-exist.yaml")
        #expect(error.field == "--kubeconfig")
    }

    @Test("--context naming a context no file defines")
    func unknownContextFlag() throws {
        let path = Fixtures.kubeconfigs + "/unknown-current-context.yaml"
        let error = try #require(throws: KubeAPIError.self) {
            try KubeConfig.load(kubeconfig: path, context: "other", environment: [:])
        }
        #expect(error.isInvalidInput)
        #expect(error.field == "--context")
        #expect(error.description.contains("\"other\""))
    }

    @Test("no kubeconfig anywhere and not in a pod")
    func nothingFound() throws {
        let error = try #require(throws: KubeAPIError.self) {
            try KubeConfig.load(environment: ["HOME": "/nonexistent-home"])
        }
        #expect(error.isInvalidInput)
        #expect(error.description.contains("/nonexistent-home/.kube/config"))
    }
}
