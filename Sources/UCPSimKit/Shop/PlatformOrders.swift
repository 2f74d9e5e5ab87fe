import Foundation
import GRDB
import Synchronization

/// Who placed each order through the shopping API: checkout completion records it, and the publisher asks it so a
/// platform's subscription (`Subscription.platform`) receives that platform's orders and no other's.
///
/// Kept in the state database (`platform_order`), so a restarted shop still sends a platform the later events of
/// the orders it placed before; read through a bounded memory cache (the publisher asks on every publication).
public final class PlatformOrders: Sendable {
    private let database: ShopDatabase
    /// The latest orders' platforms (the database has them all): bounded like the order book.
    private let cache = Mutex(BoundedMap<String, String>(capacity: OrderBook.defaultLimit))
    private let now: @Sendable () -> Date

    public init(database: ShopDatabase, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.now = now
    }

    /// Records that `platform` (its profile URL, `ShoppingCall.platform?.profileURL`) placed `orderID`. Call it
    /// before publishing the order's first event. A nil platform (an order placed without `UCP-Agent`) records
    /// nothing. Recording the same order again keeps the first platform.
    public func record(orderID: String, platform: String?) async throws(UCPSimError) {
        guard let platform else { return }
        let stamp = Int64((now().timeIntervalSince1970 * 1000).rounded())
        do {
            try await database.queue.write { db in
                try db.execute(
                    sql: "INSERT OR IGNORE INTO platform_order (order_id, platform, created_at) VALUES (?, ?, ?)",
                    arguments: [orderID, platform, stamp]
                )
            }
        } catch {
            throw UCPSimError(
                .cannotCreate,
                "cannot record the platform of order \(orderID): \(ShopDatabase.describe(error))"
            )
        }
        cache.withLock { _ = $0.insertIfAbsent(platform, for: orderID) }
    }

    /// The profile URL of the platform that placed `orderID`; nil for an order no platform placed (the control
    /// API's, a scenario's) or when the database cannot be read.
    public func platform(of orderID: String) -> String? {
        if let known = cache.withLock({ $0[orderID] }) { return known }
        let stored = try? database.queue.read { db in
            try String.fetchOne(
                db,
                sql: "SELECT platform FROM platform_order WHERE order_id = ?",
                arguments: [orderID]
            )
        }
        guard let platform = stored ?? nil else { return nil }
        cache.withLock { _ = $0.insertIfAbsent(platform, for: orderID) }
        return platform
    }
}
