import Foundation
import NIOSSL
import Subprocess

#if canImport(Glibc)
    import Glibc
#endif

/// A client-go credential plugin (`client.authentication.k8s.io` v1 and v1beta1): run it, read its ExecCredential.
enum ExecPlugin {
    static let supportedVersions = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]

    struct Credential: Sendable {
        var token: String?
        var certificate: ClientCertificate?
        /// nil: valid until a 401 or the process exits.
        var expiry: Date?
    }

    static func run(_ config: ExecPluginConfig, stdinIsTerminal: Bool = isatty(0) == 1) async throws(KubeAPIError)
        -> Credential
    {
        let interactive: Bool
        switch config.interactiveMode {
        case .never: interactive = false
        case .ifAvailable: interactive = stdinIsTerminal
        case .always:
            guard stdinIsTerminal else {
                throw failure(
                    config, "needs an interactive terminal (interactiveMode: Always) and stdin is not one",
                    fix: "Run it from a terminal, or log in first so the plugin has cached credentials.")
            }
            interactive = true
        }
        var spec: JSONValue = ["interactive": .bool(interactive)]
        if config.provideClusterInfo { spec["cluster"] = config.clusterInfo }
        let input: JSONValue = ["apiVersion": .string(config.apiVersion), "kind": "ExecCredential", "spec": spec]
        let execInfo: String
        do {
            execInfo = String(decoding: try input.encoded(), as: UTF8.self)
        } catch {
            throw failure(config, "could not encode KUBERNETES_EXEC_INFO", fix: "Report this as a kpswitch bug.")
        }
        var overrides: [Environment.Key: String?] = [:]
        for variable in config.env {
            guard let key = Environment.Key(rawValue: variable.name) else {
                throw failure(config, "has an invalid env name \(variable.name)", fix: "Fix user.exec.env.")
            }
            overrides[key] = variable.value
        }
        overrides["KUBERNETES_EXEC_INFO"] = execInfo
        let executable: Executable = config.command.contains("/") ? .path(.init(config.command)) : .name(config.command)

        let status: TerminationStatus
        let output: String?
        do {
            if interactive {
                let result = try await Subprocess.run(
                    executable, arguments: .init(config.args), environment: .inherit.updating(overrides),
                    input: .currentStandardInput, output: .string(limit: 1 << 20), error: .currentStandardError)
                (status, output) = (result.terminationStatus, result.standardOutput)
            } else {
                let result = try await Subprocess.run(
                    executable, arguments: .init(config.args), environment: .inherit.updating(overrides),
                    input: .none, output: .string(limit: 1 << 20), error: .currentStandardError)
                (status, output) = (result.terminationStatus, result.standardOutput)
            }
        } catch {
            let hint = config.installHint.map { " \($0)" } ?? ""
            throw failure(
                config, "could not be started (\(error))",
                fix: "Install it or fix user.exec.command.\(hint)")
        }
        guard status.isSuccess else {
            throw failure(config, "failed (\(status))", fix: "Run it by hand to see why; its stderr is shown above.")
        }
        return try parse(output ?? "", config: config)
    }

    static func parse(_ output: String, config: ExecPluginConfig) throws(KubeAPIError) -> Credential {
        let reply: JSONValue
        do {
            reply = try JSONValue.decode(Array(output.utf8))
        } catch {
            throw failure(config, "printed something that is not an ExecCredential JSON document", fix: "Check the plugin.")
        }
        guard reply["apiVersion"]?.stringValue == config.apiVersion else {
            throw failure(
                config,
                "replied with apiVersion \(reply["apiVersion"]?.stringValue ?? "(none)") but was asked for \(config.apiVersion)",
                fix: "Set user.exec.apiVersion to the version the plugin speaks.")
        }
        guard let status = reply["status"] else {
            throw failure(config, "replied without a status", fix: "Check the plugin.")
        }
        var credential = Credential()
        if let text = status["expirationTimestamp"]?.stringValue {
            guard let date = parseRFC3339(text) else {
                throw failure(config, "replied with an expirationTimestamp that is not RFC 3339", fix: "Check the plugin.")
            }
            credential.expiry = date
        }
        let certificate = status["clientCertificateData"]?.stringValue
        let key = status["clientKeyData"]?.stringValue
        switch (certificate, key) {
        case (let certificate?, let key?):
            do {
                credential.certificate = ClientCertificate(
                    chain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)),
                    key: try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
            } catch {
                throw failure(config, "replied with a client certificate or key that is not PEM", fix: "Check the plugin.")
            }
        case (nil, nil):
            break
        default:
            throw failure(
                config, "replied with only one of clientCertificateData and clientKeyData",
                fix: "A plugin must return both or neither.")
        }
        credential.token = status["token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        guard credential.token != nil || credential.certificate != nil else {
            throw failure(config, "replied with neither a token nor a client certificate", fix: "Check the plugin.")
        }
        return credential
    }

    static func parseRFC3339(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    private static func failure(_ config: ExecPluginConfig, _ problem: String, fix: String) -> KubeAPIError {
        KubeAPIError(
            .credentialPlugin, "credential plugin \(config.command) (user.exec in \(config.file)) \(problem). \(fix)")
    }
}
