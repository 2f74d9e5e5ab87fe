import Foundation
import GRDB

/// Which customer placed each order: a checkout completed with a buyer token records the token's customer, and
/// `GET /orders/{id}` lets that customer's tokens (`dev.ucp.shopping.order:read`) read it. Kept in the state
/// database (`customer_order`), so it survives a restart like the tokens do.
public struct CustomerOrders: Sendable {
    private let database: ShopDatabase
    private let now: @Sendable () -> Date

    public init(database: ShopDatabase, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.now = now
    }

    /// Records that `customerID` placed `orderID` (the first record stays).
    public func record(orderID: String, customerID: String) async throws(UCPSimError) {
        let stamp = Int64((now().timeIntervalSince1970 * 1000).rounded())
        do {
            try await database.queue.write { db in
                try db.execute(
                    sql: "INSERT OR IGNORE INTO customer_order (order_id, customer_id, created_at) VALUES (?, ?, ?)",
                    arguments: [orderID, customerID, stamp]
                )
            }
        } catch {
            throw UCPSimError(
                .cannotCreate,
                "cannot record the customer of order \(orderID): \(ShopDatabase.describe(error))"
            )
        }
    }

    /// The id of the customer who placed `orderID`; nil when none is recorded.
    public func customer(of orderID: String) async throws -> String? {
        try await database.queue.read { db in
            try String.fetchOne(
                db,
                sql: "SELECT customer_id FROM customer_order WHERE order_id = ?",
                arguments: [orderID]
            )
        }
    }
}
