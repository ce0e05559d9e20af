import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// kubectl's request log (`-v=6`: one line per request; `-v=8`: headers and bodies too), with what a log must
/// never hold redacted: credentials, private keys and Secret data, wherever they appear in a body.
extension KubeClient {
    static let requestLogLevel = 6
    static let bodyLogLevel = 8
    /// kubectl truncates logged bodies as well; a whole list of 10,000 Services helps nobody read a log.
    static let bodyLogLimit = 10_240

    func traceRequest(_ request: HTTPClientRequest, body: Data?) {
        guard verbosity >= Self.bodyLogLevel else { return }
        let headers = request.headers.map { name, value in
            "\(name): \(name.lowercased() == "authorization" ? Self.maskedAuthorization(value) : value)"
        }
        logger.info("Request Headers: \(headers.joined(separator: ", "))")
        if let body { logger.info("Request Body: \(Self.loggable(body))") }
    }

    /// The `-v=6` line: `GET https://… 200 OK in 12ms`; a request that got no answer says so.
    func traceResponse(_ request: HTTPClientRequest, _ status: HTTPResponseStatus?, after elapsed: Duration) {
        guard verbosity >= Self.requestLogLevel else { return }
        let answer = status.map { "\($0.code) \($0.reasonPhrase)" } ?? "(no response)"
        logger.info("\(request.method.rawValue) \(request.url) \(answer) in \(Self.milliseconds(elapsed))ms")
    }

    func traceResponseBody(_ body: ByteBuffer) {
        guard verbosity >= Self.bodyLogLevel else { return }
        logger.info("Response Body: \(Self.loggable(Data(body.readableBytesView)))")
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// kubectl prints `Authorization: Bearer <masked>`: the scheme helps, the credential must not appear.
    static func maskedAuthorization(_ value: String) -> String {
        let scheme = value.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
        return scheme.isEmpty ? "<masked>" : "\(scheme) <masked>"
    }

    /// A body as it may be logged: Secret data emptied, credential fields and private keys redacted, truncated.
    static func loggable(_ body: Data) -> String {
        var text = String(decoding: redactingSecretData(body), as: UTF8.self)
        for (pattern, replacement) in redactions {
            text = pattern.stringByReplacingMatches(
                in: text, range: NSRange(text.startIndex..., in: text), withTemplate: replacement)
        }
        guard text.count > bodyLogLimit else { return text }
        return String(text.prefix(bodyLogLimit)) + " [truncated \(text.count - bodyLogLimit) characters]"
    }

    /// A Secret's `data` and `stringData` (alone or in a list) with every value replaced.
    static func redactingSecretData(_ body: Data) -> Data {
        guard var object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let kind = object["kind"] as? String, kind == "Secret" || kind == "SecretList"
        else { return body }
        func redacted(_ secret: [String: Any]) -> [String: Any] {
            var secret = secret
            for field in ["data", "stringData"] {
                if let values = secret[field] as? [String: Any] {
                    secret[field] = values.mapValues { _ in "<redacted>" }
                }
            }
            return secret
        }
        if kind == "Secret" {
            object = redacted(object)
        } else if let items = object["items"] as? [[String: Any]] {
            object["items"] = items.map(redacted)
        }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("<redacted Secret>".utf8)
    }

    /// Text patterns for credentials inside any body: a ConfigMap can carry a kubeconfig or a key as a string.
    private static let redactions: [(NSRegularExpression, String)] = {
        let patterns = [
            // PEM private keys (RSA, EC, PKCS#8, encrypted), also inside a JSON string with escaped newlines.
            (#"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----"#, "<redacted $1PRIVATE KEY>"),
            // kubeconfig and token fields, as JSON (`"token": "…"`) or YAML (`token: …`) text.
            (#"("?(?:token|client-key-data|password|id-token|refresh-token|access-token)"?\s*[:=]\s*)("[^"]*"|[^\s",}]+)"#,
             "$1<redacted>"),
            (#"(Bearer\s+)[A-Za-z0-9._~+/=-]+"#, "$1<masked>"),
        ]
        return patterns.compactMap { pattern, replacement in
            (try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])).map { ($0, replacement) }
        }
    }()
}
