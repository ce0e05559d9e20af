import AsyncHTTPClient
import Foundation
import NIOCore

/// A change to a watched object.
public enum WatchEvent<R: KubeResource>: Sendable {
    case added(R)
    case modified(R)
    case deleted(R)
    /// The server has sent everything up to this resourceVersion.
    case bookmark(resourceVersion: String)
}

/// An object's identity and version: what a list delivered, for a watch started from that list's version.
public struct ObjectVersion: Sendable, Hashable {
    public let namespace: String?
    public let name: String
    public let resourceVersion: String?

    public init(_ object: some KubeResource) {
        namespace = object.namespace
        name = object.name
        resourceVersion = object.resourceVersion
    }
}

extension KubeClient {
    /// Watches `R` like client-go's reflector: list (unless `resourceVersion` is given), then watch from the list's
    /// resourceVersion with bookmarks; reconnect from the last version seen after a dropped connection, re-list after
    /// 410 Gone or an ERROR event. Re-lists are diffed against the objects seen, so a consumer gets each change once:
    /// nothing lost, nothing repeated.
    ///
    /// - Parameters:
    ///   - resourceVersion: start after this version instead of listing first; objects unseen by the stream that
    ///     a later re-list finds are then reported as `added`.
    ///   - listed: with `resourceVersion`, the objects of the list that version came from (only their names and
    ///     versions, so a big list need not be held): they count as delivered, so a later re-list reports those
    ///     deleted meanwhile as `deleted`.
    ///   - timeoutSeconds: how long the server keeps one watch connection open before the client reconnects.
    ///   - keeping: the members of each object the caller reads, as `listPages(keeping:)` takes them.
    ///
    /// A server that takes a connection and does not answer within the client's request timeout (a frozen API
    /// server) ends the stream with `.timeout`: retrying here would hide the outage from the caller, who decides
    /// how long to wait for the API server.
    public func watch<R: KubeResource>(
        _ type: R.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        resourceVersion: String? = nil, listed: [ObjectVersion]? = nil, timeoutSeconds: Int = 300,
        keeping: JSONProjection = .all
    ) -> AsyncThrowingStream<WatchEvent<R>, any Error> {
        let (stream, continuation) = AsyncThrowingStream<WatchEvent<R>, any Error>.makeStream()
        let reflector = Reflector<R>(
            client: self, namespace: listNamespace(type, namespace), labelSelector: labelSelector,
            fieldSelector: fieldSelector, timeoutSeconds: timeoutSeconds, keeping: keeping, continuation: continuation)
        if resourceVersion != nil, let listed { reflector.seed(listed) }
        let task = Task {
            do {
                try await reflector.run(from: resourceVersion)
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// The list-then-watch loop behind `KubeClient.watch`; one per stream, driven by one task.
final class Reflector<R: KubeResource>: @unchecked Sendable {
    // Only the task in `watch` touches the mutable state below.
    let client: KubeClient
    let namespace: String?
    let labelSelector: String?
    let fieldSelector: String?
    let timeoutSeconds: Int
    let keeping: JSONProjection
    /// An event's type, and of its object what the caller keeps.
    let eventProjection: JSONProjection
    let continuation: AsyncThrowingStream<WatchEvent<R>, any Error>.Continuation

    /// The resourceVersion last delivered of each object, by namespace/name: the versions are all a replay or a
    /// re-list is compared by, and holding whole objects would grow with the collection (a thousand pods).
    private var known: [String: String] = [:]
    /// True once a list has shown the whole collection, so an unknown object's DELETED is a repeat.
    private var complete = false
    private var version = ""

    init(
        client: KubeClient, namespace: String?, labelSelector: String?, fieldSelector: String?, timeoutSeconds: Int,
        keeping: JSONProjection, continuation: AsyncThrowingStream<WatchEvent<R>, any Error>.Continuation
    ) {
        self.client = client
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.timeoutSeconds = timeoutSeconds
        self.keeping = keeping
        eventProjection = .only(["type": .all, "object": JSONProjection.identity.union(keeping)])
        self.continuation = continuation
    }

    /// Takes `objects` as delivered: the whole collection at the version the watch starts from.
    func seed(_ objects: [ObjectVersion]) {
        for object in objects { known["\(object.namespace ?? "")/\(object.name)"] = object.resourceVersion ?? "" }
        complete = true
    }

    private var ref: ResourceRef { ResourceRef(R.resource, namespace: namespace, name: nil) }

    private static func key(_ object: R) -> String { "\(object.namespace ?? "")/\(object.name)" }

    func run(from start: String?) async throws {
        if let start { version = start } else { try await relist() }
        var failures = 0
        while !Task.isCancelled {
            do {
                switch try await watchOnce() {
                case .expired: try await relist()
                case .closed: break
                }
                failures = 0
            } catch let error as KubeAPIError where error.kind == .gone {
                try await relist()
            } catch let error as KubeAPIError
                where [.transport, .serverError, .serviceUnavailable, .tooManyRequests].contains(error.kind)
            {
                failures += 1
                guard failures < client.retryPolicy.maxAttempts * 2 else { throw error }
                let wait =
                    client.retryPolicy.delay(
                        method: "GET", outcome: .connectionFailure, attempt: min(failures, client.retryPolicy.maxAttempts - 1),
                        retryAfter: nil, jitter: Double.random(in: 0..<1)) ?? .seconds(1)
                client.logger.debug("watch reconnecting", metadata: ["resource": "\(ref)", "after": "\(error.kind)"])
                try await Task.sleep(for: wait)
            }
        }
    }

    private enum End { case closed, expired }

    /// One watch connection, until the server closes it, the connection drops, or the history expires.
    private func watchOnce() async throws -> End {
        var query: [(String, String)] = [
            ("watch", "1"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", String(timeoutSeconds)),
        ]
        if !version.isEmpty { query.append(("resourceVersion", version)) }
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        let request = KubeClient.Request(
            method: .GET, path: R.resource.collectionPath(namespace: namespace), query: query, verb: "watch",
            resource: ref)
        let response = try await client.openStream(request, deadline: .now() + .seconds(Int64(timeoutSeconds) + 30))
        var pending: [UInt8] = []
        do {
            for try await chunk in response.body {
                pending += chunk.readableBytesView
                // Events are newline-delimited JSON; a chunk may hold part of one or several.
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[..<newline]
                    defer { pending.removeSubrange(...newline) }
                    if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
                    if try handle(line) == .expired { return .expired }
                }
            }
        } catch let error as KubeAPIError {
            throw error
        } catch {
            // The connection dropped mid-stream: reconnect from the last version seen.
            throw client.transportError(error, request)
        }
        return .closed
    }

    private enum Outcome { case handled, expired }

    private func handle(_ line: ArraySlice<UInt8>) throws -> Outcome {
        var event: JSONValue
        do {
            event = try JSONParser.parse(line, keeping: eventProjection)
            // An ERROR event's object is a Status, not an R: read whole. They are rare.
            if event["type"]?.stringValue == "ERROR" { event = try JSONParser.parse(line) }
        } catch {
            throw KubeAPIError(.unexpectedResponse, "watch \(ref): the server sent a line that is not JSON.")
        }
        let object = event["object"] ?? .null
        switch event["type"]?.stringValue {
        case "BOOKMARK":
            if let rv = object[path: ["metadata", "resourceVersion"]]?.stringValue {
                version = rv
                continuation.yield(.bookmark(resourceVersion: rv))
            }
        case "ERROR":
            let status: Status
            do {
                status = try JSONDecoder().decode(Status.self, from: try object.encoded())
            } catch {
                throw KubeAPIError(.unexpectedResponse, "watch \(ref): the server sent an ERROR event without a Status.")
            }
            // Test the code, not the reason: "Expired" since 1.18, "Gone" before (client-go isExpiredError).
            if status.code == 410 { return .expired }
            throw KubeAPIError.api(status: status, code: status.code ?? 500, verb: "watch", resource: ref)
        case "ADDED", "MODIFIED":
            record(R(json: object))
        case "DELETED":
            let gone = R(json: object)
            let key = Self.key(gone)
            if let rv = gone.resourceVersion { version = rv }
            if known.removeValue(forKey: key) != nil || !complete { continuation.yield(.deleted(gone)) }
        default:
            throw KubeAPIError(.unexpectedResponse, "watch \(ref): unknown event type \(event["type"]?.stringValue ?? "(none)").")
        }
        return .handled
    }

    /// Yields the object unless this exact version was already delivered (a replay after a reconnect).
    private func record(_ object: R) {
        let key = Self.key(object)
        if let rv = object.resourceVersion { version = rv }
        let previous = known[key]
        if let previous, previous == object.resourceVersion { return }
        known[key] = object.resourceVersion ?? ""
        continuation.yield(previous == nil ? .added(object) : .modified(object))
    }

    /// Lists afresh and reports the difference from what the stream has delivered.
    private func relist() async throws {
        var seen = Set<String>()
        var listVersion: String?
        for try await page in client.listPages(
            R.self, namespace: namespace ?? "", labelSelector: labelSelector, fieldSelector: fieldSelector, keeping: keeping)
        {
            listVersion = page.resourceVersion
            for object in page.items {
                seen.insert(Self.key(object))
                let key = Self.key(object)
                let previous = known[key]
                if let previous, previous == object.resourceVersion { continue }
                known[key] = object.resourceVersion ?? ""
                continuation.yield(previous == nil ? .added(object) : .modified(object))
            }
        }
        for (key, version) in known where !seen.contains(key) {
            known[key] = nil
            // Only its name and last version are known: the object itself was not kept.
            let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            var metadata: JSONValue = ["name": .string(parts.count == 2 ? parts[1] : key), "resourceVersion": .string(version)]
            if parts.count == 2, !parts[0].isEmpty { metadata["namespace"] = .string(parts[0]) }
            continuation.yield(.deleted(R(json: ["metadata": metadata])))
        }
        complete = true
        version = listVersion ?? ""
    }
}
