import Foundation

/// One delivery: one event to one subscription. Its outbox entry, retries and dead letter are its own; the event's id
/// (`Webhook-Id`, `event_id`, `webhook-id`) is shared by every subscription the event goes to.
public struct DeliveryID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// A new, unique id.
    public static func make() -> DeliveryID { DeliveryID("dlv_" + UUID().uuidString.lowercased()) }

    public var description: String { rawValue }

    public static func < (lhs: DeliveryID, rhs: DeliveryID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A webhook subscription in the registry (`/v1/webhooks`, `ucpsim subscriptions`).
public struct SubscriptionID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// A new, unique id.
    public static func make() -> SubscriptionID { SubscriptionID("sub_" + UUID().uuidString.lowercased()) }

    public var description: String { rawValue }

    public static func < (lhs: SubscriptionID, rhs: SubscriptionID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
