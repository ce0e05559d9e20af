import NIOCore

/// One page of a list, as the server returned it.
public struct ListPage<R: KubeResource>: Sendable {
    public let items: [R]
    /// The list's resourceVersion: the same on every page of one consistent snapshot.
    public let resourceVersion: String?
    /// False once an expired `continue` was replaced by the server's inconsistent continuation.
    public let isConsistent: Bool
}

/// The pages of a list, fetched one at a time with `limit`/`continue`, so a big collection is never held whole.
public struct ListPages<R: KubeResource>: AsyncSequence, Sendable {
    public typealias Element = ListPage<R>
    let client: KubeClient
    let namespace: String?
    let query: [(String, String)]
    let pageSize: Int
    /// What of each item the pages keep.
    let keeping: JSONProjection

    public struct AsyncIterator: AsyncIteratorProtocol {
        let pages: ListPages<R>
        var continueToken: String?
        var finished = false
        var consistent = true

        public mutating func next() async throws(KubeAPIError) -> ListPage<R>? {
            guard !finished else { return nil }
            let ref = ResourceRef(R.resource, namespace: pages.namespace, name: nil)
            var query = pages.query + [("limit", String(pages.pageSize))]
            if let continueToken { query.append(("continue", continueToken)) }
            let body: ByteBuffer
            do {
                body = try await pages.client.send(
                    KubeClient.Request(
                        method: .GET, path: R.resource.collectionPath(namespace: pages.namespace), query: query,
                        verb: "list", resource: ref))
            } catch let error where error.kind == .gone && continueToken != nil {
                // The snapshot behind `continue` expired. The server may offer a token that continues from a
                // newer state; without one the only way on is to list again from the start.
                guard let fresh = error.status?.metadata?.continueToken, !fresh.isEmpty else {
                    throw KubeAPIError(
                        .gone,
                        "list \(ref): the list expired between pages (continue token too old) and the server offered "
                            + "no continuation. List again from the start.", status: error.status, request: "list \(ref)")
                }
                continueToken = fresh
                consistent = false
                return try await next()
            }
            let json = try pages.client.decode(body, "list", ref, keeping: pages.pageProjection)
            let items = (json["items"]?.arrayValue ?? []).map(R.init(json:))
            let next = json[path: ["metadata", "continue"]]?.stringValue ?? ""
            continueToken = next
            finished = next.isEmpty
            return ListPage(
                items: items, resourceVersion: json[path: ["metadata", "resourceVersion"]]?.stringValue,
                isConsistent: consistent)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pages: self) }

    var pageProjection: JSONProjection {
        .only(["metadata": .all, "items": JSONProjection.identity.union(keeping)])
    }
}

extension KubeClient {
    /// The list of `R` page by page.
    ///
    /// - Parameters:
    ///   - namespace: nil for the context's namespace, `""` for all namespaces; ignored for cluster-scoped types.
    ///   - labelSelector: e.g. `k8s-app=kube-proxy`.
    ///   - fieldSelector: e.g. `spec.nodeName=worker-1`.
    ///   - keeping: the members of each item the caller reads (its name, namespace, uid and resourceVersion are
    ///     always kept); the rest is checked and dropped as the page is parsed.
    public func listPages<R: KubeResource>(
        _ type: R.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        pageSize: Int = 500, keeping: JSONProjection = .all
    ) -> ListPages<R> {
        var query: [(String, String)] = []
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        let ns = listNamespace(type, namespace)
        return ListPages(client: self, namespace: ns, query: query, pageSize: pageSize, keeping: keeping)
    }

    /// Every object of `R` and the list's resourceVersion; for collections small enough to hold (nodes, pods of a
    /// DaemonSet). Use `listPages` for big ones.
    public func list<R: KubeResource>(
        _ type: R.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil
    ) async throws(KubeAPIError) -> (items: [R], resourceVersion: String?) {
        var items: [R] = []
        var version: String?
        var pages = listPages(type, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector)
            .makeAsyncIterator()
        while let page = try await pages.next() {
            items += page.items
            version = page.resourceVersion
        }
        return (items, version)
    }

    func listNamespace<R: KubeResource>(_ type: R.Type, _ namespace: String?) -> String? {
        guard R.resource.namespaced else { return nil }
        if namespace == "" { return nil }
        return namespace ?? config.namespace
    }
}
