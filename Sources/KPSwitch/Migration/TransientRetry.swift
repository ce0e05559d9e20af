import KubeAPI

/// Retries a POST whose failure was transient (429, 5xx, a dropped connection). KubeAPI retries only
/// idempotent verbs; every create kpswitch makes is safe to repeat, because each caller treats
/// AlreadyExists as "look at what is there".
enum TransientRetry {
    static let attempts = 5

    static func isTransient(_ error: KubeAPIError) -> Bool {
        error.isAPIUnavailable
    }

    static func create<T: Sendable>(
        isolation: isolated (any Actor)? = #isolation, _ body: () async throws(KubeAPIError) -> T
    ) async throws(KubeAPIError) -> T {
        var attempt = 1
        while true {
            do throws(KubeAPIError) {
                return try await body()
            } catch where isTransient(error) && attempt < attempts {
                attempt += 1
                do {
                    try await Task.sleep(for: .milliseconds(200 * (1 << attempt)))
                } catch {
                    // Cancelled: the next attempt runs at once and reports what happens.
                }
            }
        }
    }
}
