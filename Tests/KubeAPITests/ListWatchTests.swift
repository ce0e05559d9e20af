import Foundation
import KubeSim
import Testing

@testable import KubeAPI

@Suite("lists and watches against KubeSim", .serialized)
struct ListWatchTests {
    @Test("10,000 objects page by page: 20 pages of at most 500, one snapshot, nothing lost or repeated")
    func pagination() async throws {
        let objects: [KubeSim.JSONValue] = (0..<10_000).map { index in
            [
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": [
                    "name": .string(String(format: "bulk-%05d", index)), "namespace": "bulk",
                    "labels": ["parity": index % 2 == 0 ? "even" : "odd"],
                ],
                "data": ["index": .string(String(index))],
            ]
        }
        let cluster = try await SimCluster.start(Scenario(objects: objects))
        let client = try cluster.client()
        do {
            cluster.sim.resetRequestCounts()
            var pages = 0
            var largestPage = 0
            var names = Set<String>()
            var versions = Set<String>()
            for try await page in client.listPages(ConfigMap.self, namespace: "bulk", pageSize: 500) {
                pages += 1
                largestPage = max(largestPage, page.items.count)
                for item in page.items { names.insert(item.name) }
                versions.insert(page.resourceVersion ?? "")
                #expect(page.isConsistent)
            }
            #expect(pages == 20)
            #expect(largestPage == 500, "never more than one page held")
            #expect(names.count == 10_000)
            #expect(versions.count == 1, "one consistent snapshot across pages")
            #expect(cluster.sim.requestCounts["list configmaps"] == 20)

            var odd = 0
            for try await page in client.listPages(ConfigMap.self, namespace: "bulk", labelSelector: "parity=odd", pageSize: 1000) {
                odd += page.items.count
                #expect(page.items.allSatisfy { $0.labels["parity"] == "odd" })
            }
            #expect(odd == 5_000)
            let one = try await client.list(ConfigMap.self, namespace: "bulk", fieldSelector: "metadata.name=bulk-00042")
            #expect(one.items.map(\.data) == [["index": "42"]])
        } catch {
            try await cluster.finish(client)
            throw error
        }
        try await cluster.finish(client)
    }

    @Test("an expired continue token goes on with the server's fresh token, marked inconsistent")
    func expiredContinue() async throws {
        let objects: [KubeSim.JSONValue] = (0..<6).map { index in
            ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string("page-\(index)"), "namespace": "paged"]]
        }
        let cluster = try await SimCluster.start(Scenario(objects: objects))
        let client = try cluster.client()
        do {
            var pages = client.listPages(ConfigMap.self, namespace: "paged", pageSize: 2).makeAsyncIterator()
            let first = try #require(try await pages.next())
            #expect(first.isConsistent)
            // A later write, then compaction: the first page's snapshot is gone.
            _ = try await client.create(ConfigMap(name: "elsewhere", namespace: "default"))
            cluster.sim.compactHistory()
            cluster.sim.resetRequestCounts()
            var names = first.items.map(\.name)
            var consistency: [Bool] = []
            while let page = try await pages.next() {
                names += page.items.map(\.name)
                consistency.append(page.isConsistent)
            }
            #expect(names == (0..<6).map { "page-\($0)" })
            #expect(consistency == [false, false])
            #expect(cluster.sim.requestCounts["list configmaps"] == 3, "one 410, then two pages")
        } catch {
            try await cluster.finish(client)
            throw error
        }
        try await cluster.finish(client)
    }

    /// Collects events until `count` arrive or 30 s pass (then the test fails rather than hangs).
    static func collect(
        _ events: AsyncThrowingStream<WatchEvent<ConfigMap>, any Error>.AsyncIterator, count: Int
    ) async throws -> (
        [String], AsyncThrowingStream<WatchEvent<ConfigMap>, any Error>.AsyncIterator
    ) {
        var iterator = events
        var seen: [String] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while seen.count < count, ContinuousClock.now < deadline {
            guard let event = try await iterator.next() else { break }
            switch event {
            case .added(let map): seen.append("ADDED \(map.name) \(map.data["v"] ?? "")")
            case .modified(let map): seen.append("MODIFIED \(map.name) \(map.data["v"] ?? "")")
            case .deleted(let map): seen.append("DELETED \(map.name)")
            case .bookmark: continue
            }
        }
        return (seen, iterator)
    }

    @Test(
        "a watch survives a dropped connection and a 410 without losing or repeating an event, whole or projected",
        arguments: [JSONProjection.all, .only(["data": .only(["v": .all])])])
    func watchSurvives(keeping: JSONProjection) async throws {
        let cluster = try await SimCluster.start(
            Scenario(
                objects: [["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "before", "namespace": "w"], "data": ["v": "0"]]],
                // No bookmarks here: they would move the watch's resourceVersion past the compaction below.
                watchBookmarkInterval: .seconds(3600)))
        let client = try cluster.client()
        let writer = try cluster.client()
        do {
            let stream = client.watch(ConfigMap.self, namespace: "w", timeoutSeconds: 60, keeping: keeping)
            var (seen, iterator) = try await Self.collect(stream.makeAsyncIterator(), count: 1)
            #expect(seen == ["ADDED before 0"])

            func put(_ name: String, _ value: String) async throws {
                var map = ConfigMap(name: name, namespace: "w")
                map.data = ["v": value]
                _ = try await writer.create(map)
            }
            func edit(_ name: String, _ value: String) async throws {
                var map = try await writer.get(ConfigMap.self, name: name, namespace: "w")
                map.data = ["v": value]
                _ = try await writer.update(map)
            }

            try await put("a", "1")
            var more: [String]
            (more, iterator) = try await Self.collect(iterator, count: 1)
            seen += more

            // Dropped connection: changes made meanwhile are replayed from the last resourceVersion.
            cluster.sim.dropWatches()
            try await put("b", "1")
            try await edit("a", "2")
            (more, iterator) = try await Self.collect(iterator, count: 2)
            seen += more

            // History compacted and the connection dropped: the reconnect gets 410, the watch re-lists and
            // reports only the difference.
            // A write the watch does not see keeps its resourceVersion behind the compaction point.
            _ = try await writer.create(ConfigMap(name: "elsewhere", namespace: "default"))
            cluster.sim.compactHistory()
            cluster.sim.dropWatches()
            try await edit("b", "2")
            try await writer.delete(ConfigMap.self, name: "before", namespace: "w")
            try await put("c", "1")
            (more, iterator) = try await Self.collect(iterator, count: 3)
            seen += more

            try await edit("c", "2")
            (more, iterator) = try await Self.collect(iterator, count: 1)
            seen += more

            #expect(
                seen == [
                    "ADDED before 0", "ADDED a 1", "ADDED b 1", "MODIFIED a 2", "MODIFIED b 2", "DELETED before",
                    "ADDED c 1", "MODIFIED c 2",
                ] || Set(seen).count == seen.count && seen.count == 8 && Set(seen) == [
                    "ADDED before 0", "ADDED a 1", "ADDED b 1", "MODIFIED a 2", "MODIFIED b 2", "DELETED before",
                    "ADDED c 1", "MODIFIED c 2",
                ])
            #expect(cluster.sim.requestCounts["watch configmaps", default: 0] >= 3)
            #expect(cluster.sim.requestCounts["list configmaps"] == 2, "one list at the start, one re-list after the 410")
            _ = iterator
        } catch {
            try await cluster.finish(client, writer)
            throw error
        }
        try await cluster.finish(client, writer)
    }

    @Test("a projected list and watch keep the members asked for and every object's identity, nothing else")
    func projected() async throws {
        let object: KubeSim.JSONValue = [
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": ["name": "first", "namespace": "p", "labels": ["big": "yes"]],
            "data": ["keep": "1", "drop": .string(String(repeating: "x", count: 10_000))],
        ]
        let cluster = try await SimCluster.start(Scenario(objects: [object]))
        let client = try cluster.client()
        let writer = try cluster.client()
        do {
            let keeping: JSONProjection = .only(["data": .only(["keep": .all])])
            func expectProjected(_ map: ConfigMap, _ name: String) {
                #expect(map.name == name)
                #expect(map.namespace == "p")
                #expect(map.uid?.isEmpty == false)
                #expect(map.resourceVersion?.isEmpty == false)
                #expect(map.data == ["keep": "1"])
                #expect(map.labels.isEmpty)
                #expect(map.json["kind"] == nil)
            }
            var listVersion: String?
            for try await page in client.listPages(ConfigMap.self, namespace: "p", keeping: keeping) {
                listVersion = page.resourceVersion
                for map in page.items { expectProjected(map, "first") }
            }
            #expect(listVersion?.isEmpty == false, "the list's own metadata is kept")
            var second = ConfigMap(name: "second", namespace: "p")
            second.labels = ["big": "yes"]
            second.data = ["keep": "1", "drop": "2"]
            var events = client.watch(ConfigMap.self, namespace: "p", keeping: keeping).makeAsyncIterator()
            var seen: [String] = []
            while seen.count < 2, let event = try await events.next() {
                if case .added(let map) = event {
                    expectProjected(map, map.name)
                    seen.append(map.name)
                    if seen.count == 1 { _ = try await writer.create(second) }
                }
            }
            #expect(Set(seen) == ["first", "second"])
        } catch {
            try await cluster.finish(client, writer)
            throw error
        }
        try await cluster.finish(client, writer)
    }

    @Test("bookmarks arrive with a resourceVersion")
    func bookmarks() async throws {
        let cluster = try await SimCluster.start(Scenario(watchBookmarkInterval: .milliseconds(100)))
        let client = try cluster.client()
        var bookmark: String?
        for try await event in client.watch(ConfigMap.self, namespace: "kube-system") {
            if case .bookmark(let version) = event {
                bookmark = version
                break
            }
        }
        #expect(bookmark?.isEmpty == false)
        try await cluster.finish(client)
    }

    @Test("a watch from a given resourceVersion starts after it, without listing")
    func watchFromVersion() async throws {
        let cluster = try await SimCluster.start()
        let client = try cluster.client()
        let version = try #require(try await client.list(ConfigMap.self, namespace: "default").resourceVersion)
        _ = try await client.create(ConfigMap(name: "after", namespace: "default"))
        cluster.sim.resetRequestCounts()
        var first: String?
        for try await event in client.watch(ConfigMap.self, namespace: "default", resourceVersion: version) {
            if case .added(let map) = event {
                first = map.name
                break
            }
        }
        #expect(first == "after")
        #expect(cluster.sim.requestCounts["list configmaps", default: 0] == 0)
        try await cluster.finish(client)
    }

    @Test("a watch seeded with its list reports an object deleted while its history expired")
    func seededRelist() async throws {
        let cluster = try await SimCluster.start()
        let client = try cluster.client()
        _ = try await client.create(ConfigMap(name: "listed", namespace: "default"))
        let list = try await client.list(ConfigMap.self, namespace: "default")
        let version = try #require(list.resourceVersion)
        // Deleted and the history forgotten before the watch starts: only the re-list after 410 can tell.
        try await client.delete(ConfigMap.self, name: "listed", namespace: "default")
        cluster.sim.compactHistory()
        var deleted: String?
        for try await event in client.watch(ConfigMap.self, namespace: "default", resourceVersion: version, listed: list.items.map(ObjectVersion.init)) {
            if case .deleted(let map) = event {
                deleted = map.name
                break
            }
        }
        #expect(deleted == "listed")
        try await cluster.finish(client)
    }
}
