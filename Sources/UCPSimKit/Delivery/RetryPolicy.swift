import Foundation

/// When to try a webhook again, and what counts as final.
///
/// The default schedule follows Standard Webhooks and Svix (5s, 5m, 30m, 2h, 5h, 10h, 10h after an immediate first
/// try) with one fast retry in front (1s), because platforms' own tests poll for only a few seconds.
public struct RetryPolicy: Sendable, Equatable {
    /// Delays after attempt 1, 2, …; the number of attempts is one more than this.
    public var delays: [TimeInterval]
    /// Relative jitter: each delay is scaled by a random factor in [1 - jitter, 1 + jitter].
    public var jitter: Double
    /// Retry 4xx answers other than 408, 410 and 429 (off by default: the receiver rejected the event).
    public var retry4xx: Bool

    public static let standard = RetryPolicy(
        delays: [1, 5, 300, 1800, 7200, 18000, 36000, 36000],
        jitter: 0.2,
        retry4xx: false
    )

    public init(delays: [TimeInterval], jitter: Double, retry4xx: Bool) {
        self.delays = delays
        self.jitter = jitter
        self.retry4xx = retry4xx
    }

    /// The most attempts an event gets.
    public var maxAttempts: Int { delays.count + 1 }

    /// What an attempt's outcome means.
    public enum Verdict: Sendable, Equatable {
        case delivered
        /// Try again; `after` is the receiver's `Retry-After`, in seconds, when it sent one.
        case retry(reason: String, after: TimeInterval?)
        /// Final failure: dead letter.
        case fail(reason: String)
        /// 410 Gone: the endpoint is stopped, and every event queued for it is dead-lettered.
        case endpointGone
    }

    /// Classifies an HTTP status (nil: no response) and its `Retry-After`.
    public func classify(status: Int?, retryAfter: String?, error: String?, now: Date) -> Verdict {
        guard let status else { return .retry(reason: error ?? "no response", after: nil) }
        switch status {
        case 200..<300: return .delivered
        case 410: return .endpointGone
        case 408, 429: return .retry(reason: "HTTP \(status)", after: Self.parseRetryAfter(retryAfter, now: now))
        case 500..<600: return .retry(reason: "HTTP \(status)", after: Self.parseRetryAfter(retryAfter, now: now))
        case 300..<400: return .retry(reason: "HTTP \(status) (redirects are never followed)", after: nil)
        case 400..<500 where retry4xx: return .retry(reason: "HTTP \(status)", after: nil)
        default: return .fail(reason: "HTTP \(status) (not retried)")
        }
    }

    /// The delay before attempt `attempt + 1`, or nil when attempts are used up. `random` is in [0, 1).
    public func delay(afterAttempt attempt: Int, retryAfter: TimeInterval?, random: Double) -> TimeInterval? {
        guard attempt >= 1, attempt <= delays.count else { return nil }
        let base = delays[attempt - 1] * (1 + jitter * (2 * random - 1))
        return max(base, min(retryAfter ?? 0, 86_400))
    }

    /// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3).
    static func parseRetryAfter(_ value: String?, now: Date) -> TimeInterval? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = TimeInterval(value), seconds >= 0 { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// Parses `1s,5s,5m,30m,2h` (or `none` for a single attempt).
    public static func parseSchedule(_ text: String) -> [TimeInterval]? {
        if text == "none" || text.isEmpty { return [] }
        var delays: [TimeInterval] = []
        for part in text.split(separator: ",") {
            guard let seconds = parseDuration(String(part.trimmingCharacters(in: .whitespaces))) else { return nil }
            delays.append(seconds)
        }
        return delays
    }

    /// `90s`, `15m`, `2h`, `1d`, or plain seconds.
    public static func parseDuration(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let unit = text.last, let factor = units[unit], let value = Double(text.dropLast()), value >= 0 {
            return value * factor
        }
        if let value = Double(text), value >= 0 { return value }
        return nil
    }
}
