/// The `meta/v1` Status the API server returns with every failure.
public struct Status: Codable, Sendable, Equatable {
    /// One field-level reason for a failure (`details.causes[]`).
    public struct Cause: Codable, Sendable, Equatable {
        public var reason: String?
        public var message: String?
        public var field: String?
    }

    /// What the failure is about (`details`).
    public struct Details: Codable, Sendable, Equatable {
        public var name: String?
        public var group: String?
        /// List metadata; on a 410 for an expired `continue`, may carry a token that continues inconsistently.
    public struct ListMeta: Codable, Sendable, Equatable {
        public var resourceVersion: String?
        public var continueToken: String?

        enum CodingKeys: String, CodingKey {
            case resourceVersion
            case continueToken = "continue"
        }
    }

    public var kind: String?
        public var uid: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?
    }

    /// List metadata; on a 410 for an expired `continue`, may carry a token that continues inconsistently.
    public struct ListMeta: Codable, Sendable, Equatable {
        public var resourceVersion: String?
        public var continueToken: String?

        enum CodingKeys: String, CodingKey {
            case resourceVersion
            case continueToken = "continue"
        }
    }

    public var kind: String?
    public var apiVersion: String?
    public var status: String?
    public var message: String?
    public var reason: String?
    public var details: Details?
    public var code: Int?
    public var metadata: ListMeta?

    public init(
        status: String? = "Failure", message: String? = nil, reason: String? = nil,
        details: Details? = nil, code: Int? = nil
    ) {
        self.kind = "Status"
        self.apiVersion = "v1"
        self.status = status
        self.message = message
        self.reason = reason
        self.details = details
        self.code = code
    }
}
