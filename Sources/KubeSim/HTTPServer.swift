import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// The open watch streams, so a fault can cut them all at once.
final class WatchRegistry: Sendable {
    private let closers = Mutex<[Int: @Sendable () -> Void]>([:])
    private let counter = Atomic<Int>(0)

    func add(_ close: @escaping @Sendable () -> Void) -> Int {
        let id = counter.add(1, ordering: .relaxed).newValue
        closers.withLock { $0[id] = close }
        return id
    }

    func remove(_ id: Int) { _ = closers.withLock { $0.removeValue(forKey: id) } }

    var count: Int { closers.withLock { $0.count } }

    /// Cuts every open watch connection, as a load balancer or API server restart would.
    func dropAll() {
        let all = closers.withLock { c in
            let values = Array(c.values)
            c.removeAll()
            return values
        }
        for close in all { close() }
    }
}

/// One watch stream's bookkeeping, shared by the closures that feed and end it.
final class WatchStreamState: Sendable {
    let ended = Atomic<Bool>(false)
    let timers = Mutex<[@Sendable () -> Void]>([])
    let registryID = Mutex<Int?>(nil)
}

/// HTTP/1.1 over TLS: reads one request, asks the cluster, writes the answer or streams a watch.
final class APIChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let cluster: SimulatedCluster
    private let watches: WatchRegistry
    private let bookmarkInterval: Duration
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var certificateUser: UserInfo?
    private var certificateRead = false
    private var watchCleanup: (() -> Void)?

    init(cluster: SimulatedCluster, watches: WatchRegistry, bookmarkInterval: Duration) {
        self.cluster = cluster
        self.watches = watches
        self.bookmarkInterval = bookmarkInterval
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            self.head = nil
            switch cluster.faults.outage {
            case .hang?:
                // Read and never answered: the client's own timeout is the only way out.
                return
            case .refuse?:
                context.close(promise: nil)
                return
            case .unavailable?:
                let status = APIError(code: 503, reason: "ServiceUnavailable", message: "The server is currently unable to handle the request").status
                write(context: context, head: head, status: 503, contentType: "application/json", body: status.serialized(),
                      extra: [("Retry-After", "1")])
                return
            case nil:
                break
            }
            let latency = cluster.faults.latency
            if latency > .zero {
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
                let requestBody = body
                context.eventLoop.scheduleTask(in: .nanoseconds(APIChannelHandler.nanoseconds(latency))) {
                    bound.value.serve(context: boundContext.value, head: head, body: requestBody)
                }
            } else {
                serve(context: context, head: head, body: body)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        watchCleanup?()
        watchCleanup = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func user(context: ChannelHandlerContext) -> UserInfo? {
        if !certificateRead {
            certificateRead = true
            do {
                if let certificate = try context.pipeline.syncOperations.nioSSL_peerCertificate() {
                    certificateUser = try UserInfo(certificateDER: try certificate.toDERBytes())
                }
            } catch {
                certificateUser = nil
            }
        }
        return cluster.user(bearer: head?.headers.first(name: "Authorization"), certificateUser: certificateUser)
    }

    private func serve(context: ChannelHandlerContext, head: HTTPRequestHead, body: [UInt8]) {
        self.head = head
        defer { self.head = nil }
        guard let user = user(context: context) else {
            write(context: context, head: head, status: 401, contentType: "application/json", body: APIError.unauthorized.status.serialized())
            return
        }
        let request = APIRequest(
            method: head.method.rawValue, uri: head.uri, contentType: head.headers.first(name: "Content-Type") ?? "",
            accept: head.headers.first(name: "Accept") ?? "", body: body, user: user)
        switch cluster.handle(request) {
        case .json(let status, let document):
            var headers: [(String, String)] = []
            if status == 429 { headers.append(("Retry-After", "1")) }
            write(context: context, head: head, status: status, contentType: "application/json", body: document.serialized(), extra: headers)
        case .text(let status, let contentType, let text):
            write(context: context, head: head, status: status, contentType: contentType, body: Array(text.utf8))
        case .watch(let plan):
            stream(context: context, head: head, plan: plan)
        }
    }

    private func write(context: ChannelHandlerContext, head: HTTPRequestHead, status: Int, contentType: String,
                       body: [UInt8], extra: [(String, String)] = []) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Cache-Control", value: "no-cache, private")
        for (name, value) in extra { headers.add(name: name, value: value) }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .init(statusCode: status), headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private static func line(_ type: String, _ object: JSONValue) -> [UInt8] {
        var bytes = JSONValue.object(["type": .string(type), "object": object]).serialized()
        bytes.append(10)
        return bytes
    }

    private func stream(context: ChannelHandlerContext, head: HTTPRequestHead, plan: WatchPlan) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Cache-Control", value: "no-cache, private")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)

        let channel = context.channel
        let eventLoop = context.eventLoop
        let send: @Sendable ([UInt8]) -> Void = { bytes in
            eventLoop.execute {
                channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(bytes: bytes))), promise: nil)
            }
        }
        let resource = plan.resource
        let accept = plan.accept
        let watchID: Int
        do {
            watchID = try cluster.store.watch(plan.resource, filter: plan.filter, from: plan.start) { event in
                var object = event.object
                object["kind"] = .string(resource.kind)
                object["apiVersion"] = .string(resource.groupVersion)
                let rv: JSONValue = ["resourceVersion": .string(String(event.resourceVersion))]
                if let table = Tables.render(object, resource: resource, accept: accept, listMetadata: rv) { object = table }
                send(APIChannelHandler.line(event.type, object))
            }
        } catch {
            // kube-apiserver's watch cache answers a too-old version with 200 and one ERROR event (cacher.go).
            send(APIChannelHandler.line("ERROR", error.status))
            eventLoop.execute { channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil) }
            return
        }
        let store = cluster.store
        let bookmark: @Sendable (Bool) -> [UInt8] = { initialEnd in
            var metadata: JSONValue = ["resourceVersion": .string(String(store.currentResourceVersion))]
            if initialEnd { metadata["annotations"] = ["k8s.io/initial-events-end": "true"] }
            return APIChannelHandler.line("BOOKMARK", ["kind": .string(resource.kind), "apiVersion": .string(resource.groupVersion), "metadata": metadata])
        }
        if plan.initialEventsEnd { send(bookmark(true)) }

        let state = WatchStreamState()
        let watches = self.watches
        let finish: @Sendable (_ closeConnection: Bool) -> Void = { closeConnection in
            guard !state.ended.exchange(true, ordering: .relaxed) else { return }
            store.stopWatch(watchID)
            if let id = state.registryID.withLock({ $0 }) { watches.remove(id) }
            for cancel in state.timers.withLock({ $0 }) { cancel() }
            eventLoop.execute {
                channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
                if closeConnection { channel.close(promise: nil) }
            }
        }
        let registered = watches.add { finish(true) }
        state.registryID.withLock { $0 = registered }
        if plan.bookmarks {
            let interval = TimeAmount.nanoseconds(APIChannelHandler.nanoseconds(bookmarkInterval))
            let repeated = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                if !state.ended.load(ordering: .relaxed) { send(bookmark(false)) }
            }
            state.timers.withLock { $0.append { repeated.cancel() } }
        }
        if let timeout = plan.timeout {
            let task = eventLoop.scheduleTask(in: .nanoseconds(APIChannelHandler.nanoseconds(timeout))) { finish(false) }
            state.timers.withLock { $0.append { task.cancel() } }
        }
        watchCleanup = { finish(true) }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}

/// Owns the listening socket and the event loops. The socket can be closed and opened again on the same port
/// (an outage that refuses connections), so it lives behind a lock.
final class HTTPServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let watches: WatchRegistry
    let port: Int
    private let listener: Mutex<Channel?>
    private let bind: @Sendable (Int) -> EventLoopFuture<Channel>

    init(cluster: SimulatedCluster, pki: SimulatorPKI, port: Int, bookmarkInterval: Duration) async throws {
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(pki.serverCertificatePEM.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(pki.serverKeyPEM.utf8), format: .pem)))
        tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(pki.caPEM.utf8), format: .pem)])
        // Client certificates are optional: token users and anonymous requests connect without one.
        tls.certificateVerification = .optionalVerification
        tls.applicationProtocols = ["http/1.1"]
        let sslContext = try NIOSSLContext(configuration: tls)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(2, System.coreCount))
        let watches = WatchRegistry()
        let bind: @Sendable (Int) -> EventLoopFuture<Channel> = { port in
            ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: 256)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            APIChannelHandler(cluster: cluster, watches: watches, bookmarkInterval: bookmarkInterval))
                    }
                }
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .bind(host: "127.0.0.1", port: port)
        }
        let channel: Channel
        do {
            channel = try await bind(port).get()
        } catch {
            // The bind failure is the error worth reporting; the idle loops stop on their own at exit.
            group.shutdownGracefully { _ in }
            throw KubeSimError.server("cannot listen on 127.0.0.1:\(port): \(error). Choose another --port, or 0 for any free port")
        }
        self.group = group
        self.watches = watches
        self.bind = bind
        self.port = channel.localAddress?.port ?? 0
        listener = Mutex(channel)
    }

    /// Closes the listening socket: new connections are refused until `listenAgain`.
    func stopListening() {
        listener.withLock { channel in
            channel?.close(promise: nil)
            channel = nil
        }
    }

    /// Listens again on the same port; retried while the old socket is still being closed.
    func listenAgain(attempt: Int = 1) {
        let port = self.port
        bind(port).whenComplete { result in
            switch result {
            case .success(let channel):
                let stale = self.listener.withLock { current -> Channel? in
                    defer { current = channel }
                    return current
                }
                stale?.close(promise: nil)
            case .failure:
                guard attempt < 50 else { return }
                self.group.next().scheduleTask(in: .milliseconds(100)) { self.listenAgain(attempt: attempt + 1) }
            }
        }
    }

    func shutdown() async throws {
        watches.dropAll()
        if let channel = listener.withLock({ channel -> Channel? in
            defer { channel = nil }
            return channel
        }) {
            try await channel.close()
        }
        try await group.shutdownGracefully()
    }
}
