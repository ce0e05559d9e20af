/// One HTTP request as the API layer sees it.
struct APIRequest: Sendable {
    var method: String
    var path: String
    var query: [String: String]
    var contentType: String
    var accept: String
    var body: [UInt8]
    var user: UserInfo

    init(method: String, uri: String, contentType: String = "", accept: String = "", body: [UInt8] = [], user: UserInfo) {
        self.method = method
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.path = String(parts[0])
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = APIRequest.decode(String(kv[0]))
                query[key] = kv.count > 1 ? APIRequest.decode(String(kv[1])) : ""
            }
        }
        self.query = query
        self.contentType = contentType
        self.accept = accept
        self.body = body
        self.user = user
    }

    private static func decode(_ s: String) -> String {
        s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? s
    }
}

/// What the API layer answers.
enum APIResponse: Sendable {
    case json(status: Int, body: JSONValue)
    case text(status: Int, contentType: String, body: String)
    case watch(WatchPlan)

    static func error(_ e: APIError) -> APIResponse { .json(status: e.code, body: e.status) }
}

/// A watch the HTTP layer must stream: what to watch, from where, for how long.
struct WatchPlan: Sendable {
    let resource: ResourceType
    let filter: ObjectFilter
    let start: ObjectStore.WatchStart
    let bookmarks: Bool
    /// Send the initial-events-end bookmark after the synthetic ADDED events (sendInitialEvents=true).
    let initialEventsEnd: Bool
    let timeout: Duration?
    /// The request's Accept header: kubectl asks for Table rows when it prints a watch.
    let accept: String
}

import Foundation
