import Foundation

/// What the shopping APIs (catalog, cart, checkout) share: the shop file, the gateway every request passes, the
/// state database, the order book and the one publish path.
public struct ShopServices: Sendable {
    public let shop: ShopFile
    public let gateway: ShoppingGateway
    /// Carts, checkout sessions and idempotency keys live here (`DIR/ucpsim.sqlite`).
    public let database: ShopDatabase
    /// Completing a checkout places its order here.
    public let book: OrderBook
    /// Completing a checkout publishes the order's first events here.
    public let webhooks: WebhookPublisher
    /// The shop's public base URL (permalinks, `continue_url`).
    public let baseURL: String
    /// The clock (expiry, discount codes' expiry).
    public let now: @Sendable () -> Date

    public init(
        shop: ShopFile,
        gateway: ShoppingGateway,
        database: ShopDatabase,
        book: OrderBook,
        webhooks: WebhookPublisher,
        baseURL: String,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.shop = shop
        self.gateway = gateway
        self.database = database
        self.book = book
        self.webhooks = webhooks
        self.baseURL = baseURL
        self.now = now
    }
}

extension ShopServices {
    /// Which customer placed which order (a checkout completed with a buyer token).
    public var customerOrders: CustomerOrders { CustomerOrders(database: database, now: now) }

    /// Who placed which order: checkout completion records the session's platform before publishing the order's
    /// first event, so that platform's own subscription receives it.
    public var platformOrders: PlatformOrders { webhooks.platformOrders }
}
