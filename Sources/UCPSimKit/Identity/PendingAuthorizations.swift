import Foundation
import Synchronization

/// Authorization requests waiting for the customer on the sign-in and consent page, kept on the server under a
/// random id that the page's form carries in a hidden field. The form holds nothing else of the request, so it cannot
/// be altered (client, redirect URI, scopes, challenge and state all come from here), and a POST without an id this
/// server handed out recently is refused: that id is also what makes the form safe from cross-site request forgery
/// (a forger cannot learn it).
///
/// In memory, bounded, each entry valid for `lifetime` from when the page was first shown, by the injected clock.
public final class PendingAuthorizations: Sendable {
    /// How long the customer has to answer the page.
    public static let defaultLifetime: TimeInterval = 10 * 60
    /// At most this many requests wait at once; the oldest is forgotten to make room.
    public static let defaultLimit = 1000

    private struct Entry {
        var request: AuthorizationRequest
        var expires: Date
        var created: Date
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let lifetime: TimeInterval
    private let limit: Int
    private let now: @Sendable () -> Date

    public init(
        lifetime: TimeInterval = PendingAuthorizations.defaultLifetime,
        limit: Int = PendingAuthorizations.defaultLimit,
        now: @escaping @Sendable () -> Date
    ) {
        self.lifetime = lifetime
        self.limit = max(1, limit)
        self.now = now
    }

    /// Keeps `request` and answers its new id (256 random bits, base64url).
    public func add(_ request: AuthorizationRequest) -> String {
        let id = OAuthStore.randomToken()
        let instant = now()
        entries.withLock { entries in
            entries = entries.filter { $0.value.expires > instant }
            while entries.count >= limit, let oldest = entries.min(by: { $0.value.created < $1.value.created }) {
                entries[oldest.key] = nil
            }
            entries[id] = Entry(request: request, expires: instant.addingTimeInterval(lifetime), created: instant)
        }
        return id
    }

    /// The request kept under `id`, when it has not expired; it stays kept (a wrong password may be retried).
    public func request(_ id: String) -> AuthorizationRequest? {
        let instant = now()
        return entries.withLock { entries in
            guard let entry = entries[id] else { return nil }
            guard entry.expires > instant else {
                entries[id] = nil
                return nil
            }
            return entry.request
        }
    }

    /// Takes the request kept under `id` away (the customer answered: the id is single use); nil when it is unknown,
    /// expired or already taken.
    public func take(_ id: String) -> AuthorizationRequest? {
        let instant = now()
        return entries.withLock { entries in
            guard let entry = entries.removeValue(forKey: id), entry.expires > instant else { return nil }
            return entry.request
        }
    }

    /// How many requests wait now (expired ones included until the next `add`).
    public var count: Int { entries.withLock { $0.count } }
}
