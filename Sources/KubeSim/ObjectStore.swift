import Foundation
import Synchronization

/// One change to one object, as a watch stream reports it.
struct WatchEvent: Sendable {
    let type: String  // ADDED, MODIFIED, DELETED
    let resource: ResourceType
    let object: JSONValue
    let resourceVersion: Int64
}

/// A selection of objects: a namespace, a label selector and a field selector.
struct ObjectFilter: Sendable {
    var namespace: String? = nil
    var labels: LabelSelector = .everything
    var fields: FieldSelector = .everything

    func matches(_ object: JSONValue) -> Bool {
        if let namespace, object[path: ["metadata", "namespace"]]?.stringValue != namespace { return false }
        return labels.matches(object) && fields.matches(object)
    }
}

/// The simulator's etcd: every object by resource and key, one resourceVersion counter, and a bounded event
/// history that watches resume from.
final class ObjectStore: Sendable {
    struct Watcher: Sendable {
        let resource: ResourceType
        let filter: ObjectFilter
        let send: @Sendable (WatchEvent) -> Void
    }

    private struct State {
        var objects: [ResourceType: [String: JSONValue]] = [:]
        var resourceVersion: Int64 = 1000
        var history: [WatchEvent] = []
        var historyStart = 0
        /// Events at or below this version are gone: a watch from before it gets 410 Expired.
        var compactedThrough: Int64 = 1000
        var watchers: [Int: Watcher] = [:]
        /// Keys per resource in etcd order, rebuilt lazily after a create or delete.
        var sortedKeys: [ResourceType: [String]] = [:]
        var nextWatcherID = 0
        var uidCounter: UInt64 = 0
    }

    private let state = Mutex(State())
    private let historyLimit: Int
    private let onChange: @Sendable (ResourceType) -> Void

    init(historyLimit: Int, onChange: @escaping @Sendable (ResourceType) -> Void) {
        self.historyLimit = historyLimit
        self.onChange = onChange
    }

    static func key(namespace: String?, name: String) -> String { "\(namespace ?? "")/\(name)" }

    static func key(of object: JSONValue) -> String {
        key(namespace: object[path: ["metadata", "namespace"]]?.stringValue,
            name: object[path: ["metadata", "name"]]?.stringValue ?? "")
    }

    var currentResourceVersion: Int64 { state.withLock { $0.resourceVersion } }

    func get(_ resource: ResourceType, namespace: String?, name: String) -> JSONValue? {
        state.withLock { $0.objects[resource]?[ObjectStore.key(namespace: namespace, name: name)] }
    }

    /// A consistent snapshot of the matching objects sorted by key (etcd's order), with the version it was taken at.
    func list(_ resource: ResourceType, filter: ObjectFilter) -> (items: [(key: String, object: JSONValue)], resourceVersion: Int64) {
        let (all, rv) = state.withLock { ($0.objects[resource] ?? [:], $0.resourceVersion) }
        let items = all.filter { filter.matches($0.value) }.sorted { $0.key < $1.key }.map { (key: $0.key, object: $0.value) }
        return (items, rv)
    }

    /// One page of a list in key order: up to `limit` matching objects after the key `after`, how many matching
    /// objects remain beyond the page, and the current resourceVersion.
    func page(_ resource: ResourceType, filter: ObjectFilter, after: String?, limit: Int?)
        -> (items: [(key: String, object: JSONValue)], remaining: Int, resourceVersion: Int64)
    {
        let (keys, objects, rv) = state.withLock { s -> ([String], [String: JSONValue], Int64) in
            let objects = s.objects[resource] ?? [:]
            if s.sortedKeys[resource] == nil { s.sortedKeys[resource] = objects.keys.sorted() }
            return (s.sortedKeys[resource] ?? [], objects, s.resourceVersion)
        }
        var start = 0
        if let after {
            // Binary search for the first key after the continue token's key.
            var low = 0, high = keys.count
            while low < high {
                let mid = (low + high) / 2
                if keys[mid] <= after { low = mid + 1 } else { high = mid }
            }
            start = low
        }
        var items: [(key: String, object: JSONValue)] = []
        var remaining = 0
        for key in keys[start...] {
            guard let object = objects[key], filter.matches(object) else { continue }
            if let limit, items.count >= limit {
                remaining += 1
            } else {
                items.append((key, object))
            }
        }
        return (items, remaining, rv)
    }

    func count(_ resource: ResourceType) -> Int { state.withLock { $0.objects[resource]?.count ?? 0 } }

    /// Creates an object, filling in the fields the server owns. Throws AlreadyExists.
    @discardableResult
    func create(_ resource: ResourceType, _ object: JSONValue, now: Date = Date()) throws(APIError) -> JSONValue {
        let result: JSONValue = try state.withLock { (s: inout State) throws(APIError) -> JSONValue in
            let key = ObjectStore.key(of: object)
            if s.objects[resource]?[key] != nil {
                throw APIError.alreadyExists(resource, name: object[path: ["metadata", "name"]]?.stringValue ?? "")
            }
            var stored = object
            s.resourceVersion += 1
            s.uidCounter += 1
            stored[path: ["metadata", "resourceVersion"]] = .string(String(s.resourceVersion))
            if stored[path: ["metadata", "uid"]] == nil {
                stored[path: ["metadata", "uid"]] = .string(ObjectStore.makeUID(s.uidCounter))
            }
            if stored[path: ["metadata", "creationTimestamp"]] == nil || stored[path: ["metadata", "creationTimestamp"]] == .null {
                stored[path: ["metadata", "creationTimestamp"]] = .string(Timestamps.rfc3339(now))
            }
            s.objects[resource, default: [:]][key] = stored
            s.sortedKeys[resource] = nil
            record(&s, WatchEvent(type: "ADDED", resource: resource, object: stored, resourceVersion: s.resourceVersion))
            return stored
        }
        onChange(resource)
        return result
    }

    /// Reads, transforms and writes one object atomically. `transform` sees the stored object and returns the new
    /// one; the store checks nothing else, so callers enforce preconditions inside it.
    @discardableResult
    func modify(
        _ resource: ResourceType, namespace: String?, name: String,
        _ transform: (JSONValue) throws(APIError) -> JSONValue
    ) throws(APIError) -> JSONValue {
        let result: JSONValue = try state.withLock { (s: inout State) throws(APIError) -> JSONValue in
            let key = ObjectStore.key(namespace: namespace, name: name)
            guard let current = s.objects[resource]?[key] else { throw APIError.notFound(resource, name: name) }
            var updated = try transform(current)
            if updated == current { return current }
            s.resourceVersion += 1
            updated[path: ["metadata", "resourceVersion"]] = .string(String(s.resourceVersion))
            s.objects[resource, default: [:]][key] = updated
            record(&s, WatchEvent(type: "MODIFIED", resource: resource, object: updated, resourceVersion: s.resourceVersion))
            return updated
        }
        onChange(resource)
        return result
    }

    /// Deletes an object after `precondition` accepts it; returns the object as it was last stored.
    @discardableResult
    func delete(
        _ resource: ResourceType, namespace: String?, name: String,
        precondition: (JSONValue) throws(APIError) -> Void = { _ in }
    ) throws(APIError) -> JSONValue {
        let result: JSONValue = try state.withLock { (s: inout State) throws(APIError) -> JSONValue in
            let key = ObjectStore.key(namespace: namespace, name: name)
            guard var current = s.objects[resource]?[key] else { throw APIError.notFound(resource, name: name) }
            try precondition(current)
            s.objects[resource]?[key] = nil
            s.sortedKeys[resource] = nil
            s.resourceVersion += 1
            current[path: ["metadata", "resourceVersion"]] = .string(String(s.resourceVersion))
            record(&s, WatchEvent(type: "DELETED", resource: resource, object: current, resourceVersion: s.resourceVersion))
            return current
        }
        onChange(resource)
        return result
    }

    // Controllers race with users as in a real cluster: an object deleted meanwhile is simply gone, and the
    // controller's next pass (every change triggers one) sees the new state. Only NotFound can happen here.

    /// Deletes an object if it still exists; returns it, or nil when it was already gone.
    @discardableResult
    func deleteIfPresent(_ resource: ResourceType, namespace: String?, name: String) -> JSONValue? {
        do {
            return try delete(resource, namespace: namespace, name: name)
        } catch {
            return nil
        }
    }

    /// `modify` for controllers: nil when the object was deleted meanwhile.
    @discardableResult
    func modifyIfPresent(_ resource: ResourceType, namespace: String?, name: String, _ transform: (JSONValue) -> JSONValue) -> JSONValue? {
        do {
            return try modify(resource, namespace: namespace, name: name) { (current) throws(APIError) -> JSONValue in transform(current) }
        } catch {
            return nil
        }
    }

    /// `create` for controllers whose generated names may, rarely, collide: nil when the name is taken.
    @discardableResult
    func createIfAbsent(_ resource: ResourceType, _ object: JSONValue) -> JSONValue? {
        do {
            return try create(resource, object)
        } catch {
            return nil
        }
    }

    private func record(_ s: inout State, _ event: WatchEvent) {
        s.history.append(event)
        if s.history.count - s.historyStart > historyLimit {
            s.compactedThrough = s.history[s.historyStart].resourceVersion
            s.historyStart += 1
            // Drop the dead prefix now and then instead of shifting the array on every write.
            if s.historyStart > historyLimit {
                s.history.removeFirst(s.historyStart)
                s.historyStart = 0
            }
        }
        for watcher in s.watchers.values where watcher.resource == event.resource && watcher.filter.matches(event.object) {
            watcher.send(event)
        }
    }

    /// Versions at or below this one have been compacted away (continue tokens from before it are expired).
    var compactedThrough: Int64 { state.withLock { $0.compactedThrough } }

    /// Forgets the whole event history, as an etcd compaction does: watches from any earlier version get 410.
    func compact() {
        state.withLock { s in
            s.compactedThrough = s.resourceVersion
            s.history.removeAll()
            s.historyStart = 0
        }
    }

    enum WatchStart {
        /// Synthetic ADDED events for every current object, then changes.
        case currentState
        /// Changes after this version, replayed from history.
        case after(Int64)
    }

    /// Registers a watcher and replays what it missed, atomically with respect to writes. Throws 410 Expired when
    /// the requested version has been compacted away.
    func watch(
        _ resource: ResourceType, filter: ObjectFilter, from start: WatchStart,
        send: @escaping @Sendable (WatchEvent) -> Void
    ) throws(APIError) -> Int {
        try state.withLock { (s: inout State) throws(APIError) -> Int in
            switch start {
            case .currentState:
                let objects = (s.objects[resource] ?? [:]).sorted { $0.key < $1.key }
                for (_, object) in objects where filter.matches(object) {
                    let rv = object[path: ["metadata", "resourceVersion"]]?.intValue ?? s.resourceVersion
                    send(WatchEvent(type: "ADDED", resource: resource, object: object, resourceVersion: rv))
                }
            case .after(let version):
                if version < s.compactedThrough {
                    throw APIError.expired("too old resource version: \(version) (\(s.compactedThrough + 1))")
                }
                for event in s.history[s.historyStart...] where event.resourceVersion > version
                    && event.resource == resource && filter.matches(event.object)
                {
                    send(event)
                }
            }
            let id = s.nextWatcherID
            s.nextWatcherID += 1
            s.watchers[id] = Watcher(resource: resource, filter: filter, send: send)
            return id
        }
    }

    func stopWatch(_ id: Int) {
        _ = state.withLock { $0.watchers.removeValue(forKey: id) }
    }

    private static func makeUID(_ counter: UInt64) -> String {
        var rng = SystemRandomNumberGenerator()
        let random = rng.next() as UInt64
        let hex = String(format: "%016llx%016llx", counter, random)
        let c = Array(hex)
        return "\(String(c[0..<8]))-\(String(c[8..<12]))-4\(String(c[13..<16]))-a\(String(c[17..<20]))-\(String(c[20..<32]))"
    }
}

enum Timestamps {
    /// RFC 3339 in UTC with seconds, as metadata timestamps are written.
    static func rfc3339(_ date: Date) -> String { date.ISO8601Format() }

    /// RFC 3339 with microseconds, as MicroTime fields (Lease renewTime) are written.
    static func rfc3339Micro(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micros = Int((date.timeIntervalSince1970 - seconds) * 1_000_000)
        return "\(rfc3339(date).dropLast()).\(String(format: "%06d", micros))Z"
    }
}
