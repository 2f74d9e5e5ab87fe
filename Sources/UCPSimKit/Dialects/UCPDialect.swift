/// The UCP spec's order webhooks: the body is the order entity, signed with the shop's key (RFC 9421) over
/// `Content-Digest`, `UCP-Agent`, `Webhook-Id` and `Webhook-Timestamp`. Subscriptions' secrets are not used.
public struct UCPDialect: WebhookDialect {
    public let sender: WebhookSender
    private let plans = SigningPlans()

    public init(sender: WebhookSender) { self.sender = sender }

    public var name: DialectName { .ucp }

    public var needsCredentials: Bool { false }

    /// The order's snapshot; nil for an interaction (the order did not change).
    public func body(for event: OrderEvent) -> [UInt8]? {
        event.type == .agentInteraction ? nil : event.document?.bytes
    }

    public func request(
        for message: WebhookEvent,
        to target: RequestTarget,
        credentials: DeliveryCredentials,
        now: Int64
    ) throws -> OutgoingRequest {
        try sender.signedRequest(for: message, to: target, created: now, plan: plans.plan(for: target, sender: sender))
    }
}
