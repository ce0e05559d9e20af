import Foundation
import KubeAPI

/// The run lock: Lease `kpswitch` in kube-proxy's namespace (Docs/migration-state.md). Taken before any
/// write, renewed every 10 s by a background task, deleted at the end.
actor MigrationLock {
    static let leaseName = "kpswitch"
    static let duration = 30
    static let renewInterval: Duration = .seconds(10)

    let client: KubeClient
    let namespace: String
    let identity: String
    private var renewal: Task<Void, Never>?
    /// Set when a renewal found the Lease held by someone else: the run must stop.
    private(set) var lostTo: String?
    private var released = false
    private var abandoned = false

    init(client: KubeClient, namespace: String, identity: String = LockHolder.current.description) {
        self.client = client
        self.namespace = namespace
        self.identity = identity
    }

    /// Takes the Lease or throws a refusal naming the holder (exit 1).
    func acquire() async throws(KPSwitchError) {
        let now = Date()
        do throws(KubeAPIError) {
            var lease = Lease(name: Self.leaseName, namespace: namespace)
            fill(&lease, now: now, acquired: true)
            let fresh = lease
            _ = try await TransientRetry.create { () async throws(KubeAPIError) in try await client.create(fresh) }
        } catch let error where error.kind == .alreadyExists {
            try await takeOver(now: now)
        } catch {
            throw KPSwitchError(error)
        }
        startRenewing()
    }

    private func takeOver(now: Date) async throws(KPSwitchError) {
        var lease: Lease
        do {
            lease = try await client.get(Lease.self, name: Self.leaseName, namespace: namespace)
        } catch {
            throw KPSwitchError(error)
        }
        switch LockHolder.decide(lease: lease, me: identity, now: now, isAlive: LockHolder.isAlive) {
        case .refuse(let holder, let until):
            throw Self.held(by: holder, until: until, namespace: namespace)
        case .take:
            let previous = lease.holderIdentity ?? ""
            fill(&lease, now: now, acquired: previous != identity)
            if previous != identity { lease.leaseTransitions = (lease.leaseTransitions ?? 0) + 1 }
            do throws(KubeAPIError) {
                _ = try await client.update(lease)
            } catch let error where error.kind == .conflict {
                // Someone else took it between our read and our write.
                var holder = "another kpswitch"
                do {
                    holder = try await client.get(Lease.self, name: Self.leaseName, namespace: namespace).holderIdentity ?? holder
                } catch {
                    // The 409 already proves it is held; the name is only a courtesy.
                }
                throw Self.held(by: holder, until: nil, namespace: namespace)
            } catch {
                throw KPSwitchError(error)
            }
        }
    }

    private func fill(_ lease: inout Lease, now: Date, acquired: Bool) {
        lease.holderIdentity = identity
        lease.leaseDurationSeconds = Self.duration
        if acquired || lease.acquireTime == nil { lease.acquireTime = Timestamp.microTime(now) }
        lease.renewTime = Timestamp.microTime(now)
    }

    private func startRenewing() {
        renewal?.cancel()
        renewal = Task { [weak self] in
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: Self.renewInterval)
                } catch {
                    return
                }
                await self?.renew()
            }
        }
    }

    /// One renewal. A failed request is tried again at the next interval (the Lease lasts three of them);
    /// a Lease now held by someone else marks the lock as lost.
    func renew() async {
        guard !released else { return }
        do {
            var lease = try await client.get(Lease.self, name: Self.leaseName, namespace: namespace)
            // release() may have run while the read was in flight (actor reentrancy).
            guard !released else { return }
            guard lease.holderIdentity == identity else {
                lostTo = lease.holderIdentity ?? "nobody"
                return
            }
            lease.renewTime = Timestamp.microTime(Date())
            _ = try await client.update(lease)
        } catch {
            // Transient: the next renewal retries; three misses in a row would let another process take over.
        }
    }

    /// Throws when the Lease was lost, so that the run stops before its next step.
    func check() throws(KPSwitchError) {
        if let lostTo { throw Self.lost(to: lostTo, namespace: namespace, during: nil) }
    }

    static func lost(to holder: String, namespace: String, during: String?) -> KPSwitchError {
        KPSwitchError(
            status: .runtimeError,
            message: "the kpswitch Lease in \(namespace) is now held by \(holder)\(during.map { " (taken \($0))" } ?? ""); this run stopped before its next step and wrote nothing more.",
            remediation: "Check who runs kpswitch (kpswitch status); the migration state stays in ConfigMap kpswitch-state.")
    }

    enum Holding: Equatable {
        case held
        case lostTo(String)
    }

    /// After the API server was away: whether the Lease is still ours, renewed at once if so (the renewals
    /// may have missed long enough for it to expire). A Lease deleted meanwhile is taken again.
    func confirm() async -> Result<Holding, KubeAPIError> {
        var contended: KubeAPIError?
        for _ in 0..<3 {
            let read: Result<Lease, KubeAPIError>
            do throws(KubeAPIError) {
                read = .success(try await client.get(Lease.self, name: Self.leaseName, namespace: namespace))
            } catch {
                read = .failure(error)
            }
            let written: Result<Void, KubeAPIError>
            switch read {
            case .success(var lease):
                guard lease.holderIdentity == identity else {
                    lostTo = lease.holderIdentity ?? "nobody"
                    return .success(.lostTo(lostTo ?? "nobody"))
                }
                lease.renewTime = Timestamp.microTime(Date())
                written = await outcome { () async throws(KubeAPIError) in _ = try await client.update(lease) }
            case .failure(let error) where error.kind == .notFound:
                var lease = Lease(name: Self.leaseName, namespace: namespace)
                fill(&lease, now: Date(), acquired: true)
                let fresh = lease
                written = await outcome { () async throws(KubeAPIError) in _ = try await client.create(fresh) }
            case .failure(let error):
                return .failure(error)
            }
            switch written {
            case .success: return .success(.held)
            case .failure(let error) where error.kind == .conflict || error.kind == .alreadyExists:
                // Written by someone meanwhile (or our own renewal): read again to see by whom.
                contended = error
                continue
            case .failure(let error):
                return .failure(error)
            }
        }
        // Three writes in a row lost to someone else's: the next renewal or step check sees who holds it.
        return contended.map { .failure($0) } ?? .success(.held)
    }

    private func outcome(_ body: () async throws(KubeAPIError) -> Void) async -> Result<Void, KubeAPIError> {
        do throws(KubeAPIError) {
            try await body()
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// Stops renewing and never touches the Lease again: it is someone else's now, or the API server is
    /// unreachable and the Lease will expire by itself.
    func abandon() {
        abandoned = true
        released = true
        renewal?.cancel()
        renewal = nil
    }

    /// Stops renewing and deletes the Lease if it is still ours.
    func release() async throws(KPSwitchError) {
        guard !abandoned else { return }
        released = true
        renewal?.cancel()
        renewal = nil
        // A renewal already in flight can change the resourceVersion between our read and our delete: read again.
        for attempt in 1...3 {
            do throws(KubeAPIError) {
                let lease = try await client.get(Lease.self, name: Self.leaseName, namespace: namespace)
                guard lease.holderIdentity == identity else { return }
                try await client.delete(Lease.self, name: Self.leaseName, namespace: namespace, resourceVersion: lease.resourceVersion)
                return
            } catch let error where error.kind == .notFound {
                return
            } catch let error where error.kind == .conflict && attempt < 3 {
                continue
            } catch {
                throw KPSwitchError(error)
            }
        }
    }

    static func held(by holder: String, until: Date?, namespace: String) -> KPSwitchError {
        let expiry = until.map { " until at least \(Timestamp.rfc3339($0))" } ?? ""
        return KPSwitchError(
            status: .runtimeError,
            message: "another migration is running: Lease \(namespace)/\(leaseName) is held by \(holder)\(expiry).",
            remediation: "Wait for it to finish (kpswitch status shows its progress); if that process is gone, the Lease expires \(duration) s after its last renewal.",
            runbook: .migrate("during-the-migration"))
    }
}

/// `<user>@<hostname>/pid-<pid>`, and the rule for a holder that is gone.
struct LockHolder: Equatable, CustomStringConvertible {
    let user: String
    let host: String
    let pid: Int32

    static var current: LockHolder {
        let env = ProcessInfo.processInfo.environment
        let user = env["USER"] ?? env["LOGNAME"] ?? getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid-\(getuid())"
        return LockHolder(user: user, host: ProcessInfo.processInfo.hostName, pid: getpid())
    }

    var description: String { "\(user)@\(host)/pid-\(pid)" }

    init(user: String, host: String, pid: Int32) {
        self.user = user
        self.host = host
        self.pid = pid
    }

    init?(parsing text: String) {
        guard let at = text.lastIndex(of: "@"), let slash = text[at...].range(of: "/pid-"),
            let pid = Int32(text[slash.upperBound...])
        else { return nil }
        self.init(user: String(text[..<at]), host: String(text[text.index(after: at)..<slash.lowerBound]), pid: pid)
    }

    enum Decision: Equatable {
        case take
        case refuse(holder: String, until: Date?)
    }

    /// Take an empty, own, expired, or same-host dead-pid Lease; respect any other.
    static func decide(lease: Lease, me: String, now: Date, isAlive: (Int32) -> Bool) -> Decision {
        guard let holder = lease.holderIdentity, !holder.isEmpty, holder != me else { return .take }
        let until = lease.renewTime.flatMap(Timestamp.parse).map { $0.addingTimeInterval(Double(lease.leaseDurationSeconds ?? duration)) }
        if let until, until < now { return .take }
        if let parsed = LockHolder(parsing: holder), let mine = LockHolder(parsing: me), parsed.host == mine.host,
            parsed.pid != mine.pid, !isAlive(parsed.pid)
        {
            return .take
        }
        return .refuse(holder: holder, until: until)
    }

    static let duration = MigrationLock.duration

    /// `kill(pid, 0)`: ESRCH means no such process; EPERM means it exists under another user. A process
    /// killed but not yet reaped by its parent is a zombie (`Z` in /proc/PID/stat): gone for this purpose.
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        let stat: String
        do {
            stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        } catch {
            // No /proc (macOS): kill's answer stands.
            return true
        }
        guard let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
    }
}
