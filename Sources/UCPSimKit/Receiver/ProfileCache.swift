import Foundation
import Synchronization

/// Fetches signers' UCP profiles over libcurl and caches their keys for the profile's `max-age`.
///
/// A forced refresh (on an unknown `keyid`) happens at most once per TTL floor per origin, as the spec's identity
/// resolution rules require: a stream of signatures under made-up key ids cannot turn the verifier into a fetcher.
public final class ProfileCache: Sendable {
    private struct Entry {
        let keys: [JWK]
        let expires: Date
    }

    private let client: HTTPClient
    private let entries = Mutex<[String: Entry]>([:])
    /// When each origin's profile was last force-refreshed.
    private let forcedRefreshes = Mutex<[String: Date]>([:])
    /// Used when the profile sends no `max-age`.
    public let defaultMaxAge: TimeInterval
    /// The spec's TTL floor: the least time between two forced refreshes of one origin's profile.
    public static let ttlFloor: TimeInterval = 60
    private let now: @Sendable () -> Date

    /// - Parameter now: the clock (injected so tests can move time).
    public init(
        client: HTTPClient,
        defaultMaxAge: TimeInterval = 60,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.client = client
        self.defaultMaxAge = defaultMaxAge
        self.now = now
    }

    /// The keys published at `url`; from cache unless expired or `refresh`. A refresh of an origin already
    /// force-refreshed within the TTL floor answers from the cache instead of fetching.
    public func keys(at url: String, refresh: Bool = false) async throws(SignatureFailure) -> [JWK] {
        let now = self.now()
        let cached = entries.withLock { $0[url] }
        if let cached, cached.expires > now, !refresh || !claimForcedRefresh(of: url, at: now) {
            return cached.keys
        }
        let response: ReceivedResponse
        do {
            response = try await client.send(
                OutgoingRequest(method: "GET", url: url, headers: HTTPFieldList([("Accept", "application/json")]))
            )
        } catch {
            throw SignatureFailure(.profileUnreachable, "GET \(url): \(error)")
        }
        guard (200..<300).contains(response.status) else {
            throw SignatureFailure(.profileUnreachable, "GET \(url) answered HTTP \(response.status)")
        }
        guard !response.bodyTruncated, let profile = FetchedProfile(json: response.body) else {
            throw SignatureFailure(.profileMalformed, "\(url) is not a UCP profile")
        }
        let maxAge = Self.maxAge(response.headers["cache-control"]) ?? defaultMaxAge
        entries.withLock { $0[url] = Entry(keys: profile.keys, expires: now.addingTimeInterval(maxAge)) }
        return profile.keys
    }

    /// Records a forced refresh of `url`'s origin at `now`; false when one happened within the TTL floor.
    private func claimForcedRefresh(of url: String, at now: Date) -> Bool {
        let origin = (try? RequestTarget(url))?.origin ?? url
        return forcedRefreshes.withLock { last in
            if let previous = last[origin], now.timeIntervalSince(previous) < Self.ttlFloor { return false }
            last[origin] = now
            return true
        }
    }

    /// Forgets every cached profile.
    public func clear() {
        entries.withLock { $0.removeAll() }
        forcedRefreshes.withLock { $0.removeAll() }
    }

    static func maxAge(_ cacheControl: String?) -> TimeInterval? {
        guard let cacheControl else { return nil }
        for directive in cacheControl.split(separator: ",") {
            let parts = directive.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "max-age", let seconds = TimeInterval(parts[1]) {
                return seconds
            }
            if parts.first?.lowercased() == "no-store" || parts.first?.lowercased() == "no-cache" { return 0 }
        }
        return nil
    }
}
