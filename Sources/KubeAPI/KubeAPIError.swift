/// Every failure of KubeAPI: a bad kubeconfig, an API `Status`, a transport or credential problem.
///
/// The description says what failed, where and what to do; it never contains a token, key or certificate.
public struct KubeAPIError: Error, Sendable, CustomStringConvertible {
    /// The class of failure callers branch on; API failures follow the Status `reason`, else the HTTP code.
    public enum Kind: Sendable, Equatable {
        case invalidKubeConfig
        case notInCluster
        case badRequest
        case unauthorized
        case forbidden
        case notFound
        case methodNotAllowed
        case conflict
        case alreadyExists
        case gone
        case invalid
        case tooManyRequests
        case serverError
        case serviceUnavailable
        case timeout
        case transport
        /// The server's certificate was refused (wrong CA, wrong name); never retried.
        case tls
        case credentialPlugin
        case unexpectedResponse
    }

    public let kind: Kind
    /// The API server's Status, when it sent one.
    public let status: Status?
    /// The HTTP verb and resource path of the failed request, when there was one.
    public let request: String?
    /// The kubeconfig file and field at fault, for `.invalidKubeConfig`.
    public let file: String?
    public let field: String?
    /// How long the server asked the client to wait (`Retry-After`, or the Status' retryAfterSeconds).
    public internal(set) var retryAfter: Duration?
    let message: String

    init(
        _ kind: Kind, _ message: String, status: Status? = nil, request: String? = nil,
        file: String? = nil, field: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.status = status
        self.request = request
        self.file = file
        self.field = field
    }

    public var description: String { message }

    /// True when the user's input (kubeconfig, flags) is at fault; the CLI exits 2 for these.
    public var isInvalidInput: Bool { kind == .invalidKubeConfig || kind == .notInCluster }

    /// The API server is away or overloaded, not refusing the request: a timeout, a refused or broken
    /// connection (a TLS reset included), 429, 500/502/503/504, or etcd's "leader changed". Waiting and
    /// asking again is the answer; nothing about the request or the cluster's objects is wrong.
    public var isAPIUnavailable: Bool {
        switch kind {
        case .tooManyRequests, .serviceUnavailable, .timeout, .transport: return true
        case .serverError: return code != 501
        default: return message.contains("leader changed")
        }
    }

    /// The HTTP status code, when the server answered.
    public var code: Int? { status?.code }

    static func kubeconfig(file: String, field: String, _ problem: String, fix: String) -> KubeAPIError {
        KubeAPIError(
            .invalidKubeConfig, "kubeconfig \(file): \(field): \(problem). \(fix)",
            file: file, field: field)
    }
}

extension KubeAPIError {
    /// The kind for an API failure: the reason when the server gave a known one, else the HTTP code.
    static func kind(reason: String?, code: Int) -> Kind {
        switch reason {
        case "BadRequest": return .badRequest
        case "Unauthorized": return .unauthorized
        case "Forbidden": return .forbidden
        case "NotFound": return .notFound
        case "MethodNotAllowed": return .methodNotAllowed
        case "Conflict": return .conflict
        case "AlreadyExists": return .alreadyExists
        case "Gone", "Expired": return .gone
        case "Invalid": return .invalid
        case "TooManyRequests": return .tooManyRequests
        case "InternalError": return .serverError
        case "ServiceUnavailable": return .serviceUnavailable
        case "ServerTimeout", "Timeout": return .timeout
        default: break
        }
        switch code {
        case 400: return .badRequest
        case 401: return .unauthorized
        case 403: return .forbidden
        case 404: return .notFound
        case 405: return .methodNotAllowed
        case 409: return .conflict
        case 410: return .gone
        case 422: return .invalid
        case 429: return .tooManyRequests
        case 503: return .serviceUnavailable
        case 504: return .timeout
        case 500...599: return .serverError
        default: return .unexpectedResponse
        }
    }

    /// The error for a non-2xx answer, naming the verb and resource and saying what to do next.
    static func api(status: Status, code: Int, verb: String, resource: ResourceRef) -> KubeAPIError {
        let kind = kind(reason: status.reason, code: code)
        let what = "\(verb) \(resource)"
        let server = status.message.map { ": \($0)" } ?? ""
        let text: String
        switch kind {
        case .forbidden:
            text = "forbidden to \(what)\(server). Grant the user RBAC permission to \(verb) \(resource.typeName)"
                + (resource.namespace.map { " in namespace \($0)" } ?? "") + ", or use a context that has it."
        case .unauthorized:
            text = "unauthorized to \(what)\(server). The credentials were rejected: check the user's token, "
                + "client certificate or exec plugin in the kubeconfig."
        case .notFound:
            text = "\(resource) not found (\(verb))\(server)."
        case .conflict:
            text = "conflict on \(what)\(server). The object changed since it was read: read it again and retry."
        case .alreadyExists:
            text = "\(resource) already exists (\(verb))\(server)."
        case .gone:
            text = "\(what): resource version expired\(server). List again."
        case .tooManyRequests:
            text = "\(what): the API server is throttling requests\(server). Retry later."
        case .invalid, .badRequest:
            let causes = (status.details?.causes ?? []).compactMap { cause in
                cause.field.map { "\($0): \(cause.message ?? cause.reason ?? "")" }
            }
            let detail = causes.isEmpty ? "" : " (" + causes.joined(separator: "; ") + ")"
            text = "the API server rejected \(what)\(server)\(detail)."
        default:
            text = "\(what) failed with HTTP \(code)\(server)."
        }
        var completed = status
        completed.code = completed.code ?? code
        return KubeAPIError(kind, text, status: completed, request: what)
    }
}
