import Foundation
import Synchronization

/// Fetches signers' UCP profiles over libcurl and caches their keys for the profile's `max-age`.
public final class ProfileCache: Sendable {
    private struct Entry {
        let keys: [JWK]
        let expires: Date
    }

    private let client: HTTPClient
    private let entries = Mutex<[String: Entry]>([:])
    /// Used when the profile sends no `max-age`.
    public let defaultMaxAge: TimeInterval

    public init(client: HTTPClient, defaultMaxAge: TimeInterval = 60) {
        self.client = client
        self.defaultMaxAge = defaultMaxAge
    }

    /// The keys published at `url`; from cache unless `refresh` or expired.
    public func keys(at url: String, refresh: Bool = false) async throws(SignatureFailure) -> [JWK] {
        if !refresh, let entry = entries.withLock({ $0[url] }), entry.expires > Date() {
            return entry.keys
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
        entries.withLock { $0[url] = Entry(keys: profile.keys, expires: Date().addingTimeInterval(maxAge)) }
        return profile.keys
    }

    /// Forgets every cached profile.
    public func clear() {
        entries.withLock { $0.removeAll() }
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
