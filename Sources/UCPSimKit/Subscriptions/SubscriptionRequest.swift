import Foundation

/// The body of `POST /v1/webhooks`: `url` and `event_types` required; `dialect` (default `ucp`), `description`,
/// `secret_key` (default: generated) and `enabled` (default true) optional; any other field refused.
public struct CreateSubscriptionRequest: Decodable, Sendable {
    public let subscription: NewSubscription

    enum CodingKeys: String, CodingKey, CaseIterable {
        case url
        case eventTypes = "event_types"
        case dialect, description
        case secretKey = "secret_key"
        case enabled
    }

    public init(from decoder: any Decoder) throws {
        let fields = try StrictFields(decoder, CodingKeys.self)
        let url = try fields.required(String.self, .url, "must be a string")
        let names = try fields.required([String].self, .eventTypes, "must be a list of event type names")
        let eventTypes = try SubscriptionRules.eventTypes(names)
        let dialect = try fields.optional(String.self, .dialect, "must be a string").map(SubscriptionRules.dialect)
        let description = try fields.optional(String.self, .description, "must be a string")
        let secret = try fields.optional(String.self, .secretKey, "must be a string").map(WebhookSecret.init)
        let enabled = try fields.optional(Bool.self, .enabled, "must be true or false")
        subscription = NewSubscription(
            url: url,
            eventTypes: eventTypes,
            dialect: dialect ?? .ucp,
            description: description,
            secret: secret,
            enabled: enabled ?? true
        )
        try SubscriptionRules.check(subscription)
    }

    /// Reads a JSON body.
    public static func decode(json bytes: [UInt8]) throws(FieldError) -> NewSubscription {
        guard !bytes.isEmpty else { throw FieldError(path: [], "is empty; a subscription needs url and event_types") }
        return try JSONInput.decode(CreateSubscriptionRequest.self, from: bytes).subscription
    }
}

/// The body of `PATCH /v1/webhooks/{id}`: any of `url`, `event_types`, `description` (null clears it), `enabled`,
/// and a new secret: `rotate_secret: true` (generated) or `secret_key`, not both. `dialect` cannot change.
public struct UpdateSubscriptionRequest: Decodable, Sendable {
    public let changes: SubscriptionChanges

    enum CodingKeys: String, CodingKey, CaseIterable {
        case url
        case eventTypes = "event_types"
        case description, enabled
        case rotateSecret = "rotate_secret"
        case secretKey = "secret_key"
        case dialect
    }

    public init(from decoder: any Decoder) throws {
        let fields = try StrictFields(decoder, CodingKeys.self)
        if fields.container.contains(.dialect) {
            throw fields.error(.dialect, "cannot be changed; create a new subscription for another dialect")
        }
        var changes = SubscriptionChanges()
        changes.url = try fields.optional(String.self, .url, "must be a string")
        if let names = try fields.optional([String].self, .eventTypes, "must be a list of event type names") {
            changes.eventTypes = try SubscriptionRules.eventTypes(names)
        }
        if fields.container.contains(.description) {
            if (try? fields.container.decodeNil(forKey: .description)) == true {
                changes.description = .some(nil)
            } else {
                changes.description = .some(try fields.optional(String.self, .description, "must be a string or null"))
            }
        }
        changes.enabled = try fields.optional(Bool.self, .enabled, "must be true or false")
        let rotate = try fields.optional(Bool.self, .rotateSecret, "must be true or false") ?? false
        let secret = try fields.optional(String.self, .secretKey, "must be a string").map(WebhookSecret.init)
        switch (rotate, secret) {
        case (true, .some):
            throw fields.error(.secretKey, "cannot be given with rotate_secret: true (choose one)")
        case (true, nil): changes.secret = .rotate
        case (false, .some(let secret)): changes.secret = .set(secret)
        case (false, nil): break
        }
        if let url = changes.url { _ = try SubscriptionRules.checkURL(url) }
        self.changes = changes
    }

    /// Reads a JSON body; an empty body changes nothing.
    public static func decode(json bytes: [UInt8]) throws(FieldError) -> SubscriptionChanges {
        bytes.isEmpty
            ? SubscriptionChanges() : try JSONInput.decode(UpdateSubscriptionRequest.self, from: bytes).changes
    }
}
