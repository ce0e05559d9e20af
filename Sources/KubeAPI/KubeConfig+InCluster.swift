import Foundation
import NIOSSL

extension KubeConfig {
    /// The config of a pod's service account, as client-go's `rest.InClusterConfig` builds it.
    ///
    /// - Parameter serviceAccountDirectory: where the token, `ca.crt` and `namespace` are mounted.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount"
    ) throws(KubeAPIError) -> KubeConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubeAPIError(
                .notInCluster,
                "not running in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set. "
                    + "Pass --kubeconfig or set KUBECONFIG.")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let tokenPath = serviceAccountDirectory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeAPIError(
                .notInCluster,
                "in-cluster config: \(tokenPath) cannot be read. Mount the service account token "
                    + "(automountServiceAccountToken) or pass --kubeconfig.", file: tokenPath, field: "token")
        }
        let caPath = serviceAccountDirectory + "/ca.crt"
        guard let caBytes = FileManager.default.contents(atPath: caPath) else {
            // client-go logs and falls back to the system roots here; it never disables verification.
            throw KubeAPIError(
                .notInCluster, "in-cluster config: \(caPath) cannot be read. Mount the service account's ca.crt.",
                file: caPath, field: "ca.crt")
        }
        let ca: [NIOSSLCertificate]
        do {
            ca = try NIOSSLCertificate.fromPEMBytes(Array(caBytes))
        } catch {
            throw KubeAPIError(
                .notInCluster, "in-cluster config: \(caPath) holds no PEM certificate.", file: caPath, field: "ca.crt")
        }
        var namespace = "default"
        if let data = FileManager.default.contents(atPath: serviceAccountDirectory + "/namespace"),
            let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
            !text.isEmpty
        {
            namespace = text
        }
        return KubeConfig(
            server: "https://\(hostPart):\(port)", namespace: namespace, contextName: nil, warnings: [],
            tls: TLSSettings(
                certificateAuthority: ca, certificateAuthorityData: caBytes.base64EncodedString(),
                insecureSkipVerify: false, serverName: nil),
            credentials: .tokenFile(path: tokenPath, fallback: nil), clientCertificate: nil)
    }

    /// The TLS configuration for this cluster: the kubeconfig's CA as the only trust root when set, TLS ≥ 1.2,
    /// verification always on unless the kubeconfig explicitly says `insecure-skip-tls-verify: true`.
    func tlsConfiguration(certificate: ClientCertificate?) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let ca = tls.certificateAuthority {
            // Only these roots: never the system store, nor SSL_CERT_FILE from the environment.
            configuration.trustRoots = .certificates(ca)
        } else {
            configuration.trustRoots = .default
        }
        configuration.certificateVerification = tls.insecureSkipVerify ? .none : .fullVerification
        if let certificate {
            configuration.certificateChain = certificate.chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(certificate.key)
        }
        return configuration
    }
}
