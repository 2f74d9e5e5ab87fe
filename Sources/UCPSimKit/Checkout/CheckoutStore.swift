import Foundation
import GRDB

/// Checkout sessions and reserved stock in the shop's database (migration "v2 checkout sessions"): they survive a
/// restart of `serve` on the same state directory. Ids come from a counter in the database (`chk_00001`, …).
public struct CheckoutStore: Sendable {
    public let database: ShopDatabase

    public init(database: ShopDatabase) {
        self.database = database
    }

    /// The id the next new session gets.
    public func nextID() throws -> String {
        let last = try database.queue.read { db in
            try Int.fetchOne(db, sql: "SELECT MAX(seq) FROM checkout_session")
        }
        return Self.id((last ?? 0) + 1)
    }

    static func id(_ seq: Int) -> String { "chk_\(String(format: "%05d", seq))" }

    /// The session `id`, or nil.
    public func session(_ id: String) throws -> CheckoutSession? {
        let text = try database.queue.read { db in
            try String.fetchOne(db, sql: "SELECT session FROM checkout_session WHERE id = ?", arguments: [id])
        }
        guard let text else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(CheckoutSession.self, from: Data(text.utf8))
    }

    /// The newest session made from cart `cartID`, if any.
    public func newestSession(cartID: String) throws -> CheckoutSession? {
        let id = try database.queue.read { db in
            try String.fetchOne(
                db,
                sql: "SELECT id FROM checkout_session WHERE cart_id = ? ORDER BY seq DESC LIMIT 1",
                arguments: [cartID]
            )
        }
        return try id.flatMap { id in try session(id) }
    }

    /// Stores `session` (new or changed) and adds `reserve` units per variant to the reservations (negative units
    /// release), in one transaction.
    public func save(_ session: CheckoutSession, reserve: [String: Int] = [:]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let text = String(decoding: try encoder.encode(session), as: UTF8.self)
        let seq = Int(session.checkout.id.dropFirst(4)) ?? 0
        try database.queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO checkout_session (seq, id, session, cart_id) VALUES (?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET session = excluded.session
                    """,
                arguments: [seq, session.checkout.id, text, session.checkout.cartID]
            )
            for (variant, units) in reserve.sorted(by: { $0.key < $1.key }) {
                try db.execute(
                    sql: """
                        INSERT INTO checkout_reservation (variant_id, units) VALUES (?, ?)
                        ON CONFLICT(variant_id) DO UPDATE SET units = units + excluded.units
                        """,
                    arguments: [variant, units]
                )
            }
        }
    }

    /// Units reserved per variant.
    public func reservations() throws -> [String: Int] {
        try database.queue.read { db in
            var units: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT variant_id, units FROM checkout_reservation") {
                units[row["variant_id"]] = row["units"]
            }
            return units
        }
    }
}

extension CheckoutSession {
    /// Units per variant its lines take.
    var demand: [String: Int] {
        var units: [String: Int] = [:]
        for line in checkout.lineItems { units[line.item.id, default: 0] += line.quantity }
        return units
    }
}
