import Foundation

/// When and how long to wait before retrying a request: exponential backoff with jitter, `Retry-After` honoured,
/// idempotent requests only. Pure, so the rules are unit-tested without a server.
struct RetryPolicy: Sendable {
    /// Attempts in total, the first included.
    var maxAttempts = 5
    var baseDelay: Duration = .milliseconds(200)
    var maxDelay: Duration = .seconds(10)
    /// A server asking for longer than this is not waited for: the error is returned instead.
    var maxRetryAfter: Duration = .seconds(60)

    enum Outcome: Equatable {
        case status(Int)
        case connectionFailure
    }

    static func isIdempotent(_ method: String) -> Bool {
        ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"].contains(method)
    }

    /// The wait before attempt `attempt + 1`, or nil when the request must not be retried.
    ///
    /// - Parameters:
    ///   - attempt: attempts made so far (1 after the first).
    ///   - retryAfter: the server's `Retry-After`, already parsed.
    ///   - jitter: a number in [0, 1) from the caller's random source.
    func delay(
        method: String, outcome: Outcome, attempt: Int, retryAfter: Duration?, jitter: Double
    ) -> Duration? {
        guard attempt < maxAttempts, Self.isIdempotent(method) else { return nil }
        switch outcome {
        case .connectionFailure: break
        case .status(let code) where code == 429 || (500...599).contains(code) && code != 501: break
        case .status: return nil
        }
        if let retryAfter {
            guard retryAfter <= maxRetryAfter else { return nil }
            return max(retryAfter, .zero)
        }
        // Equal jitter: half the exponential step fixed, half random, so retries spread yet still back off.
        let exponent = min(attempt - 1, 20)
        let step = min(baseDelay * (1 << exponent), maxDelay)
        return step / 2 + step / 2 * jitter
    }

    /// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3).
    static func parseRetryAfter(_ value: String, now: Date) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed) { return seconds >= 0 ? .seconds(seconds) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        let seconds = max(0, date.timeIntervalSince(now))
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}
