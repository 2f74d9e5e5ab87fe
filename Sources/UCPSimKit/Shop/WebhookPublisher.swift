import Foundation
import Synchronization

/// The one path from an order change to its deliveries: a change's events go in, and every subscription that wants
/// one gets it as its own durable delivery, in its dialect, on its own lane.
///
/// The control API, scenarios, `send`, `replay` and `trigger` all publish here. `serialized(order:_:)` makes an
/// order's state change and the journaling of its deliveries one step: two concurrent changes to one order are
/// journaled, and so delivered, in the order they were made.
public final class WebhookPublisher: Sendable {
    /// Who receives what is published.
    public struct Audience: Sendable {
        /// Every enabled subscription in the registry whose event types match.
        public var registered: Bool
        /// A URL given on the command line (`--webhook-url`, `--platform-profile`, the built-in receiver): the `ucp`
        /// dialect, every event type, for as long as the command runs. Its deliveries have no subscription (their
        /// lane and 410 stop are the URL's) and keep today's ids: a delivery's id is its event's.
        public var url: RequestTarget?
        /// Subscriptions for this process only (`trigger --webhook-url --dialect --secret`), with their secrets.
        public var adHoc: [(subscription: Subscription, secret: WebhookSecret?)]

        public init(
            registered: Bool,
            url: RequestTarget? = nil,
            adHoc: [(subscription: Subscription, secret: WebhookSecret?)] = []
        ) {
            self.registered = registered
            self.url = url
            self.adHoc = adHoc
        }

        /// Nobody: snapshots are stored, nothing is sent.
        public static let nobody = Audience(registered: false)
    }

    public let engine: DeliveryEngine
    public let registry: SubscriptionRegistry
    public let dialects: Dialects
    /// The latest snapshot of each order (`GET /orders/{id}`).
    public let orders: OrderStore
    /// Who placed which order: a platform's subscription receives only its own orders.
    public let platformOrders: PlatformOrders
    private let audience: Mutex<Audience>
    private let serializer = KeyedSerializer<String>()
    private let targets = Mutex<[String: RequestTarget]>([:])

    public init(
        engine: DeliveryEngine,
        registry: SubscriptionRegistry,
        dialects: Dialects,
        orders: OrderStore,
        audience: Audience,
        platformOrders: PlatformOrders? = nil
    ) {
        self.platformOrders = platformOrders ?? PlatformOrders(database: registry.database)
        self.engine = engine
        self.registry = registry
        self.dialects = dialects
        self.orders = orders
        self.audience = Mutex(audience)
    }

    /// Sets who receives what is published from now on (a command's target is known only once the shop runs).
    public func setAudience(_ audience: Audience) {
        self.audience.withLock { $0 = audience }
    }

    /// The secrets of an ad-hoc subscription, for the engine's credentials lookup; nil for any other.
    public func adHocCredentials(for id: SubscriptionID) -> DeliveryCredentials? {
        audience.withLock { audience in
            audience.adHoc.first { $0.subscription.id == id }.map {
                DeliveryCredentials(secrets: $0.secret.map { [$0] } ?? [])
            }
        }
    }

    /// The deliveries `changes` make, in order. Each change is the events of one state change of one order (or one
    /// event alone: a replayed snapshot, an interaction). For every subscription that wants an event: one delivery
    /// per event in the HMAC dialects; in the `ucp` dialect one per change, under the first of its event types the
    /// subscription wants (the order entity carries the whole change: a shipment that is `order.updated`,
    /// `fulfillment.status_changed` and `payment.status_changed` is one `ucp` webhook). An event its dialect has no
    /// body for (an interaction, in `ucp`) makes none.
    public func deliveries(for changes: [[OrderEvent]]) throws(UCPSimError) -> [Delivery] {
        let audience = audience.withLock { $0 }
        var deliveries: [Delivery] = []
        if let url = audience.url, let dialect = dialects[.ucp] {
            for change in changes {
                guard let event = change.first(where: { dialect.body(for: $0) != nil }),
                    let body = dialect.body(for: event)
                else { continue }
                deliveries.append(Self.delivery(event, body: body, id: DeliveryID(event.id), to: url))
            }
        }
        var subscriptions = audience.adHoc.map(\.subscription)
        if audience.registered {
            var matched: Set<SubscriptionID> = []
            let types = Set(changes.joined().map(\.type))
            for type in EventType.allCases where types.contains(type) {
                for subscription in registry.matching(type) where matched.insert(subscription.id).inserted {
                    subscriptions.append(subscription)
                }
            }
        }
        // A dialect's body of an event is the same for every subscription: built once (the HMAC bodies parse the
        // order's JSON).
        var bodies: [DialectName: [String: [UInt8]?]] = [:]
        for subscription in subscriptions where subscription.enabled {
            guard let dialect = dialects[subscription.dialect] else { continue }
            let target = try target(subscription.url)
            for change in changes {
                var wanted = change.filter { subscription.receives($0.type) }
                if let platform = subscription.platform {
                    wanted = wanted.filter { event in
                        event.orderID.map { platformOrders.platform(of: $0) == platform } ?? false
                    }
                }
                if subscription.dialect == .ucp { wanted = Array(wanted.prefix(1)) }
                for event in wanted {
                    let built = bodies[dialect.name, default: [:]][event.id] ?? dialect.body(for: event)
                    bodies[dialect.name, default: [:]][event.id] = .some(built)
                    guard let body = built else { continue }
                    deliveries.append(Self.delivery(event, body: body, to: target, subscription: subscription))
                }
            }
        }
        return deliveries
    }

    /// Publishes `changes` (see `deliveries(for:)`): their orders' snapshots are stored, and their deliveries are
    /// durable and queued when this returns. Returns the deliveries, in order.
    /// `rewrite`, when given, changes each delivery's body before it is journaled (`trigger --override`); a body
    /// it refuses stops the publication with nothing journaled.
    @discardableResult
    public func publish(
        _ changes: [[OrderEvent]],
        policy: RetryPolicy? = nil,
        rewrite: ((_ body: [UInt8]) throws(UCPSimError) -> [UInt8])? = nil
    ) async throws(UCPSimError) -> [Delivery] {
        var deliveries = try deliveries(for: changes)
        if let rewrite {
            deliveries = try deliveries.map { delivery throws(UCPSimError) in
                Delivery(
                    id: delivery.id,
                    event: delivery.event.with(body: try rewrite(delivery.event.body)),
                    eventType: delivery.eventType,
                    subscription: delivery.subscription,
                    dialect: delivery.dialect,
                    target: delivery.target
                )
            }
        }
        try await engine.submit(deliveries, policy: policy)
        // Each order's latest snapshot: the last change of it in `changes`.
        var latest: [String: OrderDocument] = [:]
        var order: [String] = []
        for event in changes.joined() {
            guard let document = event.document else { continue }
            if latest.updateValue(document, forKey: document.id) == nil { order.append(document.id) }
        }
        for id in order { if let document = latest[id] { await orders.put(document) } }
        return deliveries
    }

    /// Runs `work` (a state change and its publication) while no other work for the same order runs.
    public func serialized<T: Sendable, E: Error>(order: String, _ work: () async throws(E) -> T) async throws(E) -> T {
        try await serializer.run(order, work)
    }

    /// One delivery of `event` with its dialect's `body`: to a subscription, or (none) to a bare URL in `ucp`.
    private static func delivery(
        _ event: OrderEvent,
        body: [UInt8],
        id: DeliveryID = .make(),
        to target: RequestTarget,
        subscription: Subscription? = nil
    ) -> Delivery {
        Delivery(
            id: id,
            event: WebhookEvent(
                webhookID: event.id,
                timestamp: event.occurredAt,
                orderID: event.orderID ?? "",
                body: body
            ),
            eventType: event.type,
            subscription: subscription?.id,
            dialect: subscription?.dialect ?? .ucp,
            target: target
        )
    }

    private func target(_ url: String) throws(UCPSimError) -> RequestTarget {
        if let known = targets.withLock({ $0[url] }) { return known }
        let target = try RequestTarget(url)
        targets.withLock { $0[url] = target }
        return target
    }
}
