import CNetlink
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One generic-netlink socket to the kernel's IPVS, in the caller's network namespace: the family is
/// resolved once and every request (a whole-table read is 1 + N dumps) reuses the socket, unlike libipvs,
/// which opens a socket and resolves the family per request.
///
/// Not safe for concurrent use: one request is in flight at a time.
public final class IPVSHandle {
    private let socket: OpaquePointer
    private let family: Int32
    private let receiveTimeout: Int
    private let exchange = Exchange()
    private var isPoisoned = false

    /// Opens the socket and resolves the "IPVS" family. Runs no `modprobe`: when the family is missing this
    /// throws `IPVSError.unavailable`, saying whether `modprobe ip_vs` can help. (Kernels with generic-netlink
    /// module aliases, Debian's 6.1 among them, load ip_vs themselves during the resolution, as for libipvs.)
    /// - Parameter receiveTimeoutSeconds: how long to wait for each answer of the kernel.
    public init(receiveTimeoutSeconds: Int = 10) throws(IPVSError) {
        guard let socket = nl_socket_alloc() else {
            throw .netlink(operation: "open socket", code: Int32(NLE_NOMEM))
        }
        self.socket = socket
        self.receiveTimeout = receiveTimeoutSeconds
        var resolved: Int32 = -1
        do {
            resolved = try Self.connect(socket, timeoutSeconds: receiveTimeoutSeconds)
        } catch {
            nl_socket_free(socket)
            throw error
        }
        self.family = resolved
        installCallbacks()
    }

    deinit {
        nl_socket_free(socket)
    }

    private static func connect(_ socket: OpaquePointer, timeoutSeconds: Int) throws(IPVSError) -> Int32 {
        // Requests ask for an ACK only where one is due (writes); dumps end with NLMSG_DONE, doit reads with
        // their reply. libnl's automatic ACK would leave a second message queued after every doit reply.
        nl_socket_disable_auto_ack(socket)
        // A receive buffer of at least 32 KiB lets the kernel build 32 KiB dump skbs instead of 16 KiB ones
        // (af_netlink.c max_recvmsg_len), halving the rounds of the O(N) restart per service-dump skb.
        // Setting it also stops libnl from peeking every message before reading it.
        guard nl_socket_set_msg_buf_size(socket, 64 * 1024) == 0 else {
            throw .netlink(operation: "set message buffer size", code: Int32(NLE_NOMEM))
        }
        let connected = genl_connect(socket)
        guard connected == 0 else { throw .netlink(operation: "connect", code: -connected) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        guard setsockopt(nl_socket_get_fd(socket), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                         socklen_t(MemoryLayout<timeval>.size)) == 0
        else { throw .kernel(operation: "set receive timeout", errno: errno) }
        let family = genl_ctrl_resolve(socket, IPVSKernel.familyName)
        if family == -Int32(NLE_OBJ_NOTFOUND) {
            throw .unavailable(IPVSUnavailability.diagnoseRunningKernel())
        }
        guard family >= 0 else { throw .netlink(operation: "resolve the IPVS family", code: -family) }
        return family
    }

    // MARK: Reading

    /// The IPVS version and connection table size.
    public func info() throws(IPVSError) -> IPVSInfo {
        var info: IPVSInfo?
        try request("read info", command: IPVSKernel.Command.getInfo, expecting: .reply) { (payload: [UInt8]) throws(MalformedAttributes) in
            info = try IPVSCodec.decodeInfo(payload)
        }
        guard let info else { throw .malformedReply(operation: "read info", reason: "no reply message") }
        return info
    }

    /// The TCP, TCP FIN and UDP connection timeouts.
    public func timeouts() throws(IPVSError) -> IPVSTimeouts {
        var timeouts: IPVSTimeouts?
        try request("read timeouts", command: IPVSKernel.Command.getConfig, expecting: .reply) { (payload: [UInt8]) throws(MalformedAttributes) in
            timeouts = try IPVSCodec.decodeTimeouts(payload)
        }
        guard let timeouts else { throw .malformedReply(operation: "read timeouts", reason: "no reply message") }
        return timeouts
    }

    /// Every virtual service, in the kernel's hash order.
    public func services() throws(IPVSError) -> [IPVSService] {
        var services: [IPVSService] = []
        try request("list services", command: IPVSKernel.Command.getService, expecting: .dump) { (payload: [UInt8]) throws(MalformedAttributes) in
            services.append(try IPVSCodec.decodeService(payload))
        }
        return services
    }

    /// The destinations of one service; empty when it has none. A service that does not exist also yields an
    /// empty list: the kernel's GET_DEST dump ends empty without ESRCH (seen on Debian 6.1; use `contains`).
    public func destinations(of key: IPVSService.Key) throws(IPVSError) -> [IPVSDestination] {
        var destinations: [IPVSDestination] = []
        let family = key.family
        try request("list destinations of \(key)", command: IPVSKernel.Command.getDest, expecting: .dump,
                    payload: IPVSCodec.serviceKeyPayload(key)) { (payload: [UInt8]) throws(MalformedAttributes) in
            destinations.append(try IPVSCodec.decodeDestination(payload, serviceFamily: family))
        }
        return destinations
    }

    /// The whole table: one service dump, then one destination dump per service, all on this socket.
    public func table() throws(IPVSError) -> IPVSTable {
        let services = try services()
        var entries: [IPVSTable.Entry] = []
        entries.reserveCapacity(services.count)
        for service in services {
            entries.append(IPVSTable.Entry(service: service, destinations: try destinations(of: service.key)))
        }
        return IPVSTable(entries: entries)
    }

    /// Whether a service exists (GET_SERVICE for one key; ESRCH means no).
    public func contains(_ key: IPVSService.Key) throws(IPVSError) -> Bool {
        do {
            try request("look up \(key)", command: IPVSKernel.Command.getService, expecting: .reply,
                        payload: IPVSCodec.serviceKeyPayload(key)) { _ in }
            return true
        } catch .kernel(_, let code) where code == ESRCH {
            return false
        }
    }

    // MARK: Writing

    public func create(_ service: IPVSService) throws(IPVSError) {
        try write("create service \(service.key)", IPVSKernel.Command.newService, IPVSCodec.servicePayload(service))
    }

    /// Replaces the scheduler, flags, persistence and persistence engine of an existing service.
    public func update(_ service: IPVSService) throws(IPVSError) {
        try write("update service \(service.key)", IPVSKernel.Command.setService, IPVSCodec.servicePayload(service))
    }

    /// Deletes one service and its destinations.
    public func delete(_ key: IPVSService.Key) throws(IPVSError) {
        try write("delete service \(key)", IPVSKernel.Command.delService, IPVSCodec.serviceKeyPayload(key))
    }

    public func create(_ destination: IPVSDestination, in key: IPVSService.Key) throws(IPVSError) {
        try write("add destination \(Self.name(destination)) to \(key)", IPVSKernel.Command.newDest,
                  IPVSCodec.destinationPayload(destination, of: key, full: true))
    }

    /// Replaces forwarding, weight, thresholds and tunnel settings of an existing destination.
    public func update(_ destination: IPVSDestination, in key: IPVSService.Key) throws(IPVSError) {
        try write("update destination \(Self.name(destination)) of \(key)", IPVSKernel.Command.setDest,
                  IPVSCodec.destinationPayload(destination, of: key, full: true))
    }

    /// Deletes the destination at `destination`'s address and port.
    public func delete(_ destination: IPVSDestination, in key: IPVSService.Key) throws(IPVSError) {
        try write("delete destination \(Self.name(destination)) of \(key)", IPVSKernel.Command.delDest,
                  IPVSCodec.destinationPayload(destination, of: key, full: false))
    }

    /// Deletes exactly the given services, never others: services already gone are returned, not errors;
    /// every other failure is collected and thrown together after all deletions were tried.
    @discardableResult
    public func deleteServices(_ keys: some Sequence<IPVSService.Key>) throws(IPVSError) -> [IPVSService.Key] {
        var absent: [IPVSService.Key] = []
        var failures: [IPVSError] = []
        for key in keys {
            do {
                try delete(key)
            } catch .kernel(_, let code) where code == ESRCH {
                absent.append(key)
            } catch {
                failures.append(error)
            }
        }
        if failures.count == 1, let only = failures.first { throw only }
        if !failures.isEmpty { throw .several(failures) }
        return absent
    }

    /// Creates every service of `table` with its destinations; stops at the first failure.
    public func restore(_ table: IPVSTable) throws(IPVSError) {
        for entry in table.entries {
            try create(entry.service)
            for destination in entry.destinations {
                try create(destination, in: entry.service.key)
            }
        }
    }

    /// Applies one ipvsadm rule, as `ipvsadm -R` would.
    public func apply(_ rule: IPVSRule) throws(IPVSError) {
        switch rule {
        case .addService(let service): try create(service)
        case .editService(let service): try update(service)
        case .deleteService(let key): try delete(key)
        case .addDestination(let destination, let key): try create(destination, in: key)
        case .editDestination(let destination, let key): try update(destination, in: key)
        case .deleteDestination(let destination, let key): try delete(destination, in: key)
        }
    }

    private static func name(_ destination: IPVSDestination) -> String {
        IPVSService.hostPort(destination.address, destination.port)
    }

    // MARK: One request

    private func write(_ operation: String, _ command: UInt8, _ payload: [UInt8]) throws(IPVSError) {
        try request(operation, command: command, expecting: .ack, payload: payload) { _ in }
    }

    private func request(
        _ operation: String, command: UInt8, expecting answer: Exchange.Answer, payload: [UInt8] = [],
        onMessage: @escaping ([UInt8]) throws(MalformedAttributes) -> Void
    ) throws(IPVSError) {
        guard !isPoisoned else { throw .handleUnusable }
        guard let message = nlmsg_alloc() else { throw .netlink(operation: operation, code: Int32(NLE_NOMEM)) }
        defer { nlmsg_free(message) }
        let flags = switch answer {
        case .dump: NetlinkHeader.dumpFlags
        case .ack: NetlinkHeader.ackFlag
        case .reply: Int32(0)
        }
        guard genlmsg_put(message, UInt32(NL_AUTO_PORT), UInt32(NL_AUTO_SEQ), family, 0, flags, command,
                          IPVSKernel.familyVersion) != nil
        else { throw .netlink(operation: operation, code: Int32(NLE_NOMEM)) }
        if !payload.isEmpty {
            let appended = payload.withUnsafeBytes { raw in
                nlmsg_append(message, UnsafeMutableRawPointer(mutating: raw.baseAddress), raw.count, Int32(NLMSG_ALIGNTO))
            }
            guard appended == 0 else { throw .netlink(operation: operation, code: -appended) }
        }
        exchange.begin(answer: answer, onMessage: onMessage)
        let sent = nl_send_auto(socket, message)
        guard sent >= 0 else { throw .netlink(operation: operation, code: -sent) }
        exchange.sequence = nlmsg_hdr(message)?.pointee.nlmsg_seq
        defer { exchange.end() }

        while !exchange.isComplete {
            let received = nl_recvmsgs_report(socket, nl_socket_get_cb(socket))
            if let code = exchange.kernelErrno {
                throw code == EPERM ? .permissionDenied(operation: operation) : .kernel(operation: operation, errno: code)
            }
            if received < 0 { throw .netlink(operation: operation, code: -received) }
            if received == 0 && !exchange.isComplete {
                isPoisoned = true
                throw .timedOut(operation: operation, seconds: receiveTimeout)
            }
        }
        if let failure = exchange.decodeFailure {
            throw .malformedReply(operation: operation, reason: failure.reason)
        }
    }

    private func installCallbacks() {
        let context = Unmanaged.passUnretained(exchange).toOpaque()
        nl_socket_modify_cb(socket, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, { message, context in
            guard let message, let context else { return Int32(NL_SKIP.rawValue) }
            let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
            // Anything not answering the request in flight is stale; drop it.
            guard let header = nlmsg_hdr(message) else { return Int32(NL_SKIP.rawValue) }
            return exchange.isCurrent(header.pointee.nlmsg_seq)
                ? Int32(NL_OK.rawValue) : Int32(NL_SKIP.rawValue)
        }, context)
        nl_socket_modify_cb(socket, NL_CB_VALID, NL_CB_CUSTOM, { message, context in
            guard let message, let context else { return Int32(NL_SKIP.rawValue) }
            let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
            guard let header = nlmsg_hdr(message) else { return Int32(NL_SKIP.rawValue) }
            let start = NetlinkHeader.messageHeaderLength + NetlinkHeader.genericHeaderLength
            let length = Int(header.pointee.nlmsg_len)
            let payload = length >= start
                ? Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(header), count: length)[start...])
                : nil
            exchange.receive(payload)
            return Int32(NL_OK.rawValue)
        }, context)
        nl_socket_modify_cb(socket, NL_CB_FINISH, NL_CB_CUSTOM, { message, context in
            guard let context else { return Int32(NL_STOP.rawValue) }
            let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
            // Newer kernels put a dump's error in NLMSG_DONE's payload (an int).
            if let message, let header = nlmsg_hdr(message) {
                if Int(header.pointee.nlmsg_len) >= NetlinkHeader.messageHeaderLength + 4 {
                    let code = UnsafeRawPointer(header).loadUnaligned(
                        fromByteOffset: NetlinkHeader.messageHeaderLength, as: Int32.self)
                    if code < 0 { exchange.kernelErrno = -code }
                }
            }
            exchange.isComplete = true
            return Int32(NL_STOP.rawValue)
        }, context)
        nl_socket_modify_cb(socket, NL_CB_ACK, NL_CB_CUSTOM, { _, context in
            guard let context else { return Int32(NL_STOP.rawValue) }
            Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue().isComplete = true
            return Int32(NL_STOP.rawValue)
        }, context)
        nl_socket_modify_err_cb(socket, NL_CB_CUSTOM, { _, error, context in
            guard let error, let context else { return Int32(NL_STOP.rawValue) }
            let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
            guard exchange.isCurrent(error.pointee.msg.nlmsg_seq) else { return Int32(NL_SKIP.rawValue) }
            exchange.kernelErrno = -error.pointee.error
            exchange.isComplete = true
            return Int32(NL_STOP.rawValue)
        }, context)
    }
}

/// The state of the one request in flight, shared with libnl's C callbacks through their context pointer.
private final class Exchange {
    enum Answer { case reply, dump, ack }

    var answer = Answer.ack
    var sequence: UInt32?
    var isComplete = false
    var kernelErrno: Int32?
    var decodeFailure: MalformedAttributes?
    private var onMessage: (([UInt8]) throws(MalformedAttributes) -> Void)?

    func begin(answer: Answer, onMessage: @escaping ([UInt8]) throws(MalformedAttributes) -> Void) {
        self.answer = answer
        self.onMessage = onMessage
        sequence = nil
        isComplete = false
        kernelErrno = nil
        decodeFailure = nil
    }

    func end() {
        onMessage = nil
        sequence = nil
    }

    func isCurrent(_ sequence: UInt32) -> Bool {
        self.sequence == nil || self.sequence == sequence
    }

    // After a decoding failure the rest of a dump is still read, so that the socket stays in step.
    func receive(_ payload: [UInt8]?) {
        if answer == .reply { isComplete = true }
        guard decodeFailure == nil else { return }
        guard let payload else {
            decodeFailure = MalformedAttributes("a message shorter than its netlink and genl headers")
            return
        }
        do {
            try onMessage?(payload)
        } catch {
            decodeFailure = error
        }
    }
}
