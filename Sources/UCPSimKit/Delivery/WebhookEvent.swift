import Foundation

/// One order event to deliver: the bytes are fixed once, and so are the id and timestamp, across every retry.
public struct WebhookEvent: Sendable, Codable, Equatable {
    /// `Webhook-Id`: a UUID, new per event, identical on every attempt.
    public let webhookID: String
    /// `Webhook-Timestamp`: unix seconds of the event's occurrence, identical on every attempt.
    public let timestamp: Int64
    /// The order the snapshot is of.
    public let orderID: String
    /// The exact body bytes.
    public let body: [UInt8]

    public init(webhookID: String = UUID().uuidString.lowercased(), timestamp: Int64, orderID: String, body: [UInt8]) {
        self.webhookID = webhookID
        self.timestamp = timestamp
        self.orderID = orderID
        self.body = body
    }

    /// The same event (id, timestamp, order) with other body bytes: empty while queued behind an outbox, the
    /// journal's bytes again when it goes out.
    public func with(body: [UInt8]) -> WebhookEvent {
        WebhookEvent(webhookID: webhookID, timestamp: timestamp, orderID: orderID, body: body)
    }
}
