import Foundation

/// What a subscription's fields must be, checked the same way for the API (`/v1/webhooks`) and the CLI
/// (`ucpsim subscriptions`). Each check throws a `FieldError` at the API's field name; the CLI names its option.
public enum SubscriptionRules {
    /// The longest URL taken.
    public static let maxURLLength = 2048
    /// The longest description taken, in characters.
    public static let maxDescriptionLength = 1000
    /// In `event_types`, every event type there is (stored as the full list).
    public static let allEventTypes = "*"

    /// `url` checked: an absolute URL libcurl accepts, https, or http only on a loopback host (127.0.0.0/8, ::1,
    /// localhost): webhooks carry order data, so plain HTTP never leaves the machine.
    public static func checkURL(_ url: String) throws(FieldError) -> String {
        let field: [FieldError.Component] = [.key("url")]
        guard url.utf8.count <= maxURLLength else {
            throw FieldError(path: field, "must be at most \(maxURLLength) bytes")
        }
        let target: RequestTarget
        do {
            target = try RequestTarget(url)
        } catch {
            throw FieldError(path: field, "must be an absolute http(s) URL: \(error.message)")
        }
        if target.scheme == "http" && !isLoopback(target.host) {
            throw FieldError(
                path: field,
                "must be https (http only on a loopback host: 127.0.0.0/8, ::1, localhost), got \"\(url)\""
            )
        }
        return url
    }

    /// True for `localhost` and literal loopback addresses (127.0.0.0/8, ::1); a name is never resolved.
    public static func isLoopback(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        return ProfileFetchPolicy.literalAddress(host).map { ProfileFetchPolicy.kind(of: $0) == .loopback } ?? false
    }

    /// `event_types` checked: a non-empty list of known names, or `*` for all; returned without repeats, in
    /// `EventType` order.
    public static func eventTypes(_ names: [String]) throws(FieldError) -> [EventType] {
        guard !names.isEmpty else {
            throw FieldError(
                path: [.key("event_types")],
                "must name at least one event type (\(EventType.names.joined(separator: ", ")), or \"*\" for all)"
            )
        }
        var types = Set<EventType>()
        for (index, name) in names.enumerated() {
            if name == allEventTypes {
                types.formUnion(EventType.allCases)
            } else if let type = EventType(rawValue: name) {
                types.insert(type)
            } else {
                throw FieldError(
                    path: [.key("event_types"), .index(index)],
                    "must be one of \(EventType.names.joined(separator: ", ")), or \"*\" for all; got \"\(name)\""
                )
            }
        }
        return types.sorted()
    }

    /// `dialect` checked.
    public static func dialect(_ name: String) throws(FieldError) -> DialectName {
        guard let dialect = DialectName(rawValue: name) else {
            throw FieldError(
                path: [.key("dialect")],
                "must be one of \(DialectName.names.joined(separator: ", ")); got \"\(name)\""
            )
        }
        return dialect
    }

    /// `secret_key` checked for `dialect`: it must give 24–64 key bytes as that dialect derives them
    /// (`WebhookSecret.signingKey(for:)`, the rule the dialect signs with).
    public static func checkSecret(_ secret: WebhookSecret, dialect: DialectName) throws(FieldError) {
        do {
            var key = try secret.signingKey(for: dialect)
            HMACSHA256.cleanse(&key)
        } catch {
            throw FieldError(
                path: [.key("secret_key")],
                "is unusable for the \(dialect.rawValue) dialect: \(error.reason)"
            )
        }
    }

    /// `description` checked.
    public static func checkDescription(_ text: String) throws(FieldError) {
        guard text.count <= maxDescriptionLength else {
            throw FieldError(path: [.key("description")], "must be at most \(maxDescriptionLength) characters")
        }
    }

    /// Every field of `subscription` checked.
    public static func check(_ subscription: NewSubscription) throws(FieldError) {
        _ = try checkURL(subscription.url)
        if subscription.eventTypes.isEmpty { _ = try eventTypes([]) }
        if let secret = subscription.secret { try checkSecret(secret, dialect: subscription.dialect) }
        if let description = subscription.description { try checkDescription(description) }
    }

    /// Every field `changes` sets checked, for a subscription of `dialect`.
    public static func check(_ changes: SubscriptionChanges, dialect: DialectName) throws(FieldError) {
        if let url = changes.url { _ = try checkURL(url) }
        if let types = changes.eventTypes, types.isEmpty { _ = try eventTypes([]) }
        if case .set(let secret) = changes.secret { try checkSecret(secret, dialect: dialect) }
        if case .some(.some(let description)) = changes.description { try checkDescription(description) }
    }
}
