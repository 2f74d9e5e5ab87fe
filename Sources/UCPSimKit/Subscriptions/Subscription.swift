import Foundation

/// A webhook subscription: where events of some types go, in which dialect. Its secrets are kept apart (see
/// `SubscriptionRegistry.credentials(for:)`) and are never part of this value or its JSON.
public struct Subscription: Sendable, Equatable, Codable {
    public let id: SubscriptionID
    /// The receiver: https, or http on a loopback host.
    public var url: String
    /// The events it receives, in `EventType` order, without repeats; never empty.
    public var eventTypes: [EventType]
    /// How its webhooks are shaped and signed; fixed at creation.
    public let dialect: DialectName
    public var description: String?
    /// False: nothing is delivered to it (set by hand, or by a receiver's 410 Gone).
    public var enabled: Bool
    /// Why it was disabled, when the shop disabled it (a 410), or nil.
    public var disabledReason: String?
    public let createdAt: Date
    public var updatedAt: Date
    /// The profile URL of the platform this subscription serves (made from its `dev.ucp.shopping.order`
    /// `webhook_url` when it shops here): it receives only the orders that platform placed. Nil: every order.
    public var platform: String?

    public init(
        id: SubscriptionID,
        url: String,
        eventTypes: [EventType],
        dialect: DialectName,
        description: String?,
        enabled: Bool,
        disabledReason: String?,
        createdAt: Date,
        updatedAt: Date,
        platform: String? = nil
    ) {
        self.platform = platform
        self.id = id
        self.url = url
        self.eventTypes = eventTypes
        self.dialect = dialect
        self.description = description
        self.enabled = enabled
        self.disabledReason = disabledReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, url, dialect, description, enabled
        case eventTypes = "event_types"
        case disabledReason = "disabled_reason"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case platform
    }

    /// `description` and `disabled_reason` are written as `null` when absent, so every answer has the same keys.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(url, forKey: .url)
        try container.encode(eventTypes, forKey: .eventTypes)
        try container.encode(dialect, forKey: .dialect)
        try container.encode(description, forKey: .description)
        try container.encode(enabled, forKey: .enabled)
        try container.encode(disabledReason, forKey: .disabledReason)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        // Only a platform's subscription has the member (the API's and the CLI's answers keep their keys).
        try container.encodeIfPresent(platform, forKey: .platform)
    }

    /// Whether it receives events of `type`.
    public func receives(_ type: EventType) -> Bool { eventTypes.contains(type) }

    /// The JSON the API answers with (keys sorted, RFC 3339 times); `secret`, when given, adds `secret_key`: only
    /// the answer that creates or rotates a secret carries it.
    public func json(secret: WebhookSecret? = nil) -> [UInt8] {
        struct WithSecret: Encodable {
            let subscription: Subscription
            let secret: WebhookSecret?

            enum Key: String, CodingKey { case secretKey = "secret_key" }

            func encode(to encoder: any Encoder) throws {
                try subscription.encode(to: encoder)
                if let secret {
                    var container = encoder.container(keyedBy: Key.self)
                    try container.encode(secret.text, forKey: .secretKey)
                }
            }
        }
        return Self.encode(WithSecret(subscription: self, secret: secret))
    }

    /// A list as JSON: `{"data": [...]}`, room for paging later.
    public static func json(list: [Subscription]) -> [UInt8] {
        struct Page: Encodable { let data: [Subscription] }
        return encode(Page(data: list))
    }

    private static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(value)).map { [UInt8]($0) } ?? []
    }
}

/// A subscription to create: validated (`SubscriptionRules`) before it is stored.
public struct NewSubscription: Sendable {
    public var url: String
    public var eventTypes: [EventType]
    public var dialect: DialectName
    public var description: String?
    /// The secret; nil: one is generated (`whsec_` + base64 of 32 random bytes).
    public var secret: WebhookSecret?
    public var enabled: Bool

    public init(
        url: String,
        eventTypes: [EventType],
        dialect: DialectName = .ucp,
        description: String? = nil,
        secret: WebhookSecret? = nil,
        enabled: Bool = true
    ) {
        self.url = url
        self.eventTypes = eventTypes
        self.dialect = dialect
        self.description = description
        self.secret = secret
        self.enabled = enabled
    }
}

/// What an update changes; nil fields stay as they are.
public struct SubscriptionChanges: Sendable {
    /// A new secret for the subscription.
    public enum SecretChange: Sendable {
        /// Generate a new one.
        case rotate
        /// Use this one.
        case set(WebhookSecret)
    }

    public var url: String?
    public var eventTypes: [EventType]?
    /// `.some(nil)` clears the description.
    public var description: String??
    /// Re-enabling also clears `disabledReason`.
    public var enabled: Bool?
    /// The new secret becomes the primary; the previous one keeps signing for `SubscriptionRegistry.rotationGrace`
    /// (or until the next rotation).
    public var secret: SecretChange?

    public init(
        url: String? = nil,
        eventTypes: [EventType]? = nil,
        description: String?? = nil,
        enabled: Bool? = nil,
        secret: SecretChange? = nil
    ) {
        self.url = url
        self.eventTypes = eventTypes
        self.description = description
        self.enabled = enabled
        self.secret = secret
    }

    /// True when nothing changes.
    public var isEmpty: Bool {
        url == nil && eventTypes == nil && description == nil && enabled == nil && secret == nil
    }
}

/// A subscription together with the secret just created for it, which is shown this once.
public struct SubscriptionWithSecret: Sendable {
    public let subscription: Subscription
    /// The new secret, when this change made one (creation, rotation); nil otherwise.
    public let secret: WebhookSecret?

    public init(subscription: Subscription, secret: WebhookSecret?) {
        self.subscription = subscription
        self.secret = secret
    }
}
