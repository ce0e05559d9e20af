import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// A Kubernetes API client that behaves like kubectl: kubeconfig auth and TLS, typed errors, retries, paging, watch.
public final class KubeClient: Sendable {
    /// The resolved kubeconfig this client talks with.
    public let config: KubeConfig
    let http: HTTPClient
    let credentials: CredentialProvider
    let logger: Logger
    /// AsyncHTTPClient's own log: only at `-v=9` and above, where it helps; below, its chatter hides the requests.
    let transportLogger: Logger
    /// kubectl's `-v` level: 6 logs one line per request, 8 also headers and bodies, redacted.
    let verbosity: Int
    let retryPolicy: RetryPolicy
    let requestTimeout: Duration
    /// Scheme, host and port requests are sent to; the host is `tls-server-name` when set (see `init`).
    let baseURL: String

    /// - Parameters:
    ///   - timeout: the limit for each request, retries aside; watches are bounded separately.
    ///   - verbosity: kubectl's `-v` level: 6 logs each request, 8 their headers and bodies, 9 AsyncHTTPClient's log.
    public convenience init(
        config: KubeConfig, timeout: Duration = .seconds(30), logger: Logger = Logger(label: "kpswitch.kubeapi"),
        verbosity: Int = 0
    ) {
        self.init(config: config, timeout: timeout, logger: logger, retryPolicy: RetryPolicy(), verbosity: verbosity)
    }

    /// - Parameter now: the clock credential expiry is judged by; tests move it forward.
    init(
        config: KubeConfig, timeout: Duration, logger: Logger, retryPolicy: RetryPolicy, verbosity: Int = 0,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.config = config
        self.logger = logger
        self.verbosity = verbosity
        var transportLogger = logger
        if verbosity < 9 { transportLogger.logLevel = .warning }
        self.transportLogger = transportLogger
        self.retryPolicy = retryPolicy
        self.requestTimeout = timeout
        self.credentials = CredentialProvider(config.credentials, now: now)
        for warning in config.warnings { logger.warning("\(warning)") }

        var server = config.server
        while server.hasSuffix("/") { server.removeLast() }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: config.tlsConfiguration(certificate: config.clientCertificate),
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10)))
        // Fail a connection attempt at once: RetryPolicy decides what is retried, and a refused certificate is not.
        configuration.connectionPool.retryConnectionEstablishment = false
        // kpswitch holds many long requests at once: a watch per agent pod (--node-concurrency, up to 100), the
        // rollout's watches, concurrent log reads. Against an API server speaking HTTP/2 they share one
        // connection; over HTTP/1.1 (kube-sim, HTTP/1.1-only proxies) each needs its own, and AsyncHTTPClient's
        // default of 8 made the ninth wait for a connection until it failed (Benchmarks/node-preflight.md).
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 128
        // tls-server-name: address the request to that name (SNI and certificate check use it) while the
        // connection goes to the server's real host.
        if let serverName = config.tls.serverName, let components = URLComponents(string: server),
            let host = components.host
        {
            configuration.dnsOverride = [serverName: host]
            var renamed = components
            renamed.host = serverName
            server = renamed.string ?? server
        }
        self.baseURL = server
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Closes connections; call once when done.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    struct Request: Sendable {
        var method: HTTPMethod
        var path: String
        var query: [(String, String)] = []
        var body: Data?
        var contentType: String?
        var accept = "application/json"
        /// The Kubernetes verb (`get`, `list`, `patch`…) and the object, for error messages.
        var verb: String
        var resource: ResourceRef
    }

    /// Sends `request` with retries and returns the whole body of a 2xx answer.
    func send(_ request: Request, maxBodyBytes: Int = 64 << 20) async throws(KubeAPIError) -> ByteBuffer {
        let response = try await open(request, deadline: .now() + .init(requestTimeout))
        do {
            let body = try await response.body.collect(upTo: maxBodyBytes)
            traceResponseBody(body)
            return body
        } catch {
            throw transportError(error, request)
        }
    }

    /// Sends `request` with retries and returns the 2xx response, its body not yet read (watch, large lists).
    func open(_ request: Request, deadline: NIODeadline) async throws(KubeAPIError) -> HTTPClientResponse {
        var attempt = 0
        var refreshedAfter401 = false
        while true {
            attempt += 1
            let auth = try await credentials.authorization()
            let outgoing = makeRequest(request, auth: auth)
            traceRequest(outgoing, body: request.body)
            let started = ContinuousClock.now
            let response: HTTPClientResponse
            do {
                response = try await http.execute(outgoing, deadline: deadline, logger: transportLogger)
                traceResponse(outgoing, response.status, after: ContinuousClock.now - started)
            } catch {
                traceResponse(outgoing, nil, after: ContinuousClock.now - started)
                let failure = transportError(error, request)
                guard failure.kind == .transport,
                    let wait = retryPolicy.delay(
                        method: request.method.rawValue, outcome: .connectionFailure, attempt: attempt,
                        retryAfter: nil, jitter: Double.random(in: 0..<1))
                else { throw failure }
                logger.debug("retrying after connection failure", metadata: ["request": "\(request.method) \(request.path)", "wait": "\(wait)"])
                try await pause(wait, request)
                continue
            }
            let code = Int(response.status.code)
            logger.trace("response", metadata: ["request": "\(request.method) \(request.path)", "code": "\(code)"])
            if (200..<300).contains(code) { return response }

            let status = await decodeStatus(response, code: code)
            if code == 401, !refreshedAfter401, await credentials.canRefresh {
                // An exec credential or rotated token file may be stale: fetch it again once.
                refreshedAfter401 = true
                await credentials.invalidate()
                continue
            }
            let retryAfter =
                response.headers.first(name: "Retry-After").flatMap { RetryPolicy.parseRetryAfter($0, now: Date()) }
                ?? status.details?.retryAfterSeconds.map { Duration.seconds($0) }
            if let wait = retryPolicy.delay(
                method: request.method.rawValue, outcome: .status(code), attempt: attempt, retryAfter: retryAfter,
                jitter: Double.random(in: 0..<1))
            {
                logger.debug("retrying", metadata: ["request": "\(request.method) \(request.path)", "code": "\(code)", "wait": "\(wait)"])
                try await pause(wait, request)
                continue
            }
            var failure = KubeAPIError.api(status: status, code: code, verb: request.verb, resource: request.resource)
            failure.retryAfter = retryAfter
            throw failure
        }
    }

    /// `open` for a stream: the response head within the request timeout, the body then bounded by `deadline`
    /// alone. Without this a watch sent to a server that never answers would wait until `deadline`, minutes.
    func openStream(_ request: Request, deadline: NIODeadline) async throws(KubeAPIError) -> HTTPClientResponse {
        let opening = Task { () async -> Result<HTTPClientResponse, KubeAPIError> in
            do throws(KubeAPIError) {
                return .success(try await open(request, deadline: deadline))
            } catch {
                return .failure(error)
            }
        }
        let timeout = requestTimeout
        let timer = Task { () async -> Bool in
            do { try await Task.sleep(for: timeout) } catch { return false }
            opening.cancel()
            return true
        }
        let result = await withTaskCancellationHandler { await opening.value } onCancel: { opening.cancel() }
        timer.cancel()
        guard await timer.value else { return try result.get() }
        throw KubeAPIError(
            .timeout,
            "\(request.verb) \(request.resource): no answer within \(requestTimeout) from \(config.server). Check that the API server is reachable and healthy.")
    }

    private func pause(_ wait: Duration, _ request: Request) async throws(KubeAPIError) {
        do {
            try await Task.sleep(for: wait)
        } catch {
            throw KubeAPIError(.timeout, "\(request.verb) \(request.resource) was cancelled while waiting to retry.")
        }
    }

    private func makeRequest(_ request: Request, auth: CredentialProvider.Authorization) -> HTTPClientRequest {
        var url = baseURL + request.path
        if !request.query.isEmpty {
            url += "?" + request.query.map { name, value in
                "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: .kubeQueryValueAllowed) ?? value)"
            }.joined(separator: "&")
        }
        var outgoing = HTTPClientRequest(url: url)
        outgoing.method = request.method
        outgoing.headers.add(name: "Accept", value: request.accept)
        outgoing.headers.add(name: "User-Agent", value: "kpswitch")
        if let header = auth.header { outgoing.headers.add(name: "Authorization", value: header) }
        if let body = request.body {
            outgoing.headers.add(name: "Content-Type", value: request.contentType ?? "application/json")
            outgoing.body = .bytes(ByteBuffer(bytes: body))
        }
        if let certificate = auth.certificate {
            // A new certificate gets its own connections: the pool is keyed by TLS configuration.
            outgoing.tlsConfiguration = config.tlsConfiguration(certificate: certificate)
        }
        return outgoing
    }

    /// The Status in a failure's body; a synthetic one when the body is not a Status (e.g. a proxy's page).
    private func decodeStatus(_ response: HTTPClientResponse, code: Int) async -> Status {
        var body = ByteBuffer()
        do {
            body = try await response.body.collect(upTo: 1 << 20)
            traceResponseBody(body)
        } catch {
            return Status(message: "HTTP \(code) (body unreadable: \(error))", code: code)
        }
        let bytes = body.readableBytesView
        do {
            let status = try JSONDecoder().decode(Status.self, from: Data(bytes))
            if status.kind == "Status" { return status }
        } catch {
            // Not a Status: described from the raw text below.
        }
        let text = String(decoding: bytes.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Status(message: text.isEmpty ? nil : text, code: code)
    }

    func transportError(_ error: any Error, _ request: Request) -> KubeAPIError {
        if let error = error as? KubeAPIError { return error }
        let what = "\(request.verb) \(request.resource)"
        if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout {
            return KubeAPIError(
                .timeout, "\(what) timed out after \(requestTimeout) against \(config.server). Check that the API server is reachable and healthy.")
        }
        // A certificate refused is configuration; any other TLS failure (a reset mid-handshake, an unclean
        // shutdown) is the connection breaking, as when the API server restarts.
        if error is NIOSSLExtraError || "\(error)".contains("CERTIFICATE_VERIFY_FAILED") {
            return KubeAPIError(
                .tls,
                "\(what): the TLS handshake with \(config.server) failed (\(error)). The server's certificate is not "
                    + "signed by the kubeconfig's certificate-authority, or does not name this host: check "
                    + "certificate-authority(-data) and tls-server-name.")
        }
        return KubeAPIError(
            .transport, "\(what): cannot reach \(config.server) (\(error)). Check the server address and the network.")
    }
}
