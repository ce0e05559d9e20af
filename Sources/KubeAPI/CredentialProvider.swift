import Foundation

/// Hands out the credentials for each request: re-reads a token file when it changes, caches an exec plugin's
/// credential until it expires or the server answers 401.
actor CredentialProvider {
    struct Authorization: Sendable {
        var header: String?
        /// A client certificate from an exec plugin, replacing the kubeconfig's for this request.
        var certificate: ClientCertificate?
    }

    private struct FileStamp: Equatable {
        var modified: Date
        var size: Int
    }

    private let credentials: Credentials
    private let now: @Sendable () -> Date
    private var tokenFileToken: String?
    private var tokenFileStamp: FileStamp?
    private var execCredential: ExecPlugin.Credential?
    private var execRun: Task<ExecPlugin.Credential, any Error>?

    init(_ credentials: Credentials, now: @escaping @Sendable () -> Date = { Date() }) {
        self.credentials = credentials
        self.now = now
    }

    /// Whether a 401 may be cured by fetching the credential again.
    var canRefresh: Bool {
        switch credentials {
        case .exec, .tokenFile: return true
        case .none, .token, .basic: return false
        }
    }

    func authorization() async throws(KubeAPIError) -> Authorization {
        switch credentials {
        case .none:
            return Authorization()
        case .token(let token):
            return Authorization(header: "Bearer \(token)")
        case .basic(let username, let password):
            return Authorization(header: "Basic " + Data("\(username):\(password)".utf8).base64EncodedString())
        case .tokenFile(let path, let fallback):
            refreshTokenFile(path)
            guard let token = tokenFileToken ?? fallback else {
                throw KubeAPIError(
                    .invalidKubeConfig, "the token file \(path) is empty or unreadable. Point tokenFile at a valid token.",
                    file: path, field: "tokenFile")
            }
            return Authorization(header: "Bearer \(token)")
        case .exec(let config):
            let credential = try await execCredential(config)
            return Authorization(header: credential.token.map { "Bearer \($0)" }, certificate: credential.certificate)
        }
    }

    /// Called after a 401: the next request runs the plugin again or re-reads the token file.
    func invalidate() {
        execCredential = nil
        tokenFileStamp = nil
    }

    private func execCredential(_ config: ExecPluginConfig) async throws(KubeAPIError) -> ExecPlugin.Credential {
        if let cached = execCredential, cached.expiry.map({ $0 > now() }) ?? true { return cached }
        // Concurrent requests share one plugin run.
        let run = execRun ?? Task { try await ExecPlugin.run(config) }
        execRun = run
        defer { execRun = nil }
        do {
            let credential = try await run.value
            execCredential = credential
            return credential
        } catch let error as KubeAPIError {
            throw error
        } catch {
            throw KubeAPIError(.credentialPlugin, "credential plugin \(config.command) failed: \(error)")
        }
    }

    /// Reads the file again when its size or modification time changed; the last good token stays otherwise.
    private func refreshTokenFile(_ path: String) {
        var stamp: FileStamp?
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            stamp = (attributes[.modificationDate] as? Date).map {
                FileStamp(modified: $0, size: (attributes[.size] as? Int) ?? 0)
            }
        } catch {
            // No stamp: read the file anyway; if that fails too the last good token stays, as in client-go.
        }
        guard stamp == nil || stamp != tokenFileStamp else { return }
        if let data = FileManager.default.contents(atPath: path),
            let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
            !text.isEmpty
        {
            tokenFileToken = text
            tokenFileStamp = stamp
        }
    }
}
