import Foundation
import GRDB

/// What a cart holds, for checkout's `cart_id`: its lines, and the platform's `buyer` and `context` as JSON bytes.
public struct CartContents: Sendable {
    public let id: String
    /// The cart's lines in order (only items the shop sells).
    public let lineItems: [(itemID: String, quantity: Int)]
    /// The `buyer` object as the platform sent it (JSON, keys sorted); nil when it sent none.
    public let buyer: [UInt8]?
    /// The `context` object as the platform sent it (JSON, keys sorted); nil when it sent none.
    public let context: [UInt8]?
}

/// Carts in the shop's state database (migration "v2 carts"): they survive a restart of `serve` on the same state
/// directory. Ids come from the table's own counter, `cart_00001`, `cart_00002`, …: the same requests on a fresh
/// state directory give the same ids.
public struct CartStore: Sendable {
    public let database: ShopDatabase

    public init(database: ShopDatabase) {
        self.database = database
    }

    /// The table; registered in `ShopDatabase.migrator`.
    static func migrate(_ db: Database) throws {
        try db.create(table: "cart") { table in
            // AUTOINCREMENT: a canceled cart's number is never given again.
            table.autoIncrementedPrimaryKey("seq")
            table.column("id", .text).notNull().unique()
            // JSON array of {item_id, quantity}.
            table.column("lines", .text).notNull()
            table.column("buyer", .text)
            table.column("context", .text)
            table.column("canceled", .boolean).notNull().defaults(to: false)
        }
    }

    /// Stores a new cart and returns it with its id.
    public func create(
        lines: [StoredCart.Line],
        buyer: OpaqueJSON?,
        context: OpaqueJSON?
    ) async throws(UCPSimError) -> StoredCart {
        let encodedLines = Self.text(ShoppingJSON.encode(lines))
        let buyerText = buyer.map { Self.text($0.bytes) }
        let contextText = context.map { Self.text($0.bytes) }
        return try await writing { db in
            try db.execute(
                sql: "INSERT INTO cart (id, lines, buyer, context) VALUES ('', ?, ?, ?)",
                arguments: [encodedLines, buyerText, contextText]
            )
            let id = String(format: "cart_%05lld", db.lastInsertedRowID)
            try db.execute(sql: "UPDATE cart SET id = ? WHERE seq = ?", arguments: [id, db.lastInsertedRowID])
            return StoredCart(id: id, lines: lines, buyer: buyer, context: context)
        }
    }

    /// The cart `id`, or nil when there is none or it was canceled.
    public func get(_ id: String) async throws(UCPSimError) -> StoredCart? {
        do {
            return try await database.queue.read { db in try Self.fetch(db, id) }
        } catch {
            throw Self.storage(error, database)
        }
    }

    /// Replaces the cart's lines, buyer and context; nil when there is no such (live) cart.
    public func replace(
        _ id: String,
        lines: [StoredCart.Line],
        buyer: OpaqueJSON?,
        context: OpaqueJSON?
    ) async throws(UCPSimError) -> StoredCart? {
        let encodedLines = Self.text(ShoppingJSON.encode(lines))
        let buyerText = buyer.map { Self.text($0.bytes) }
        let contextText = context.map { Self.text($0.bytes) }
        return try await writing { db in
            try db.execute(
                sql: "UPDATE cart SET lines = ?, buyer = ?, context = ? WHERE id = ? AND NOT canceled",
                arguments: [encodedLines, buyerText, contextText, id]
            )
            return db.changesCount == 0 ? nil : StoredCart(id: id, lines: lines, buyer: buyer, context: context)
        }
    }

    /// Cancels the cart and returns it as it was; nil when there is no such (live) cart.
    public func cancel(_ id: String) async throws(UCPSimError) -> StoredCart? {
        try await writing { db in
            guard let cart = try Self.fetch(db, id) else { return nil }
            try db.execute(sql: "UPDATE cart SET canceled = 1 WHERE id = ?", arguments: [id])
            return cart
        }
    }

    /// For checkout's `cart_id`: the cart's lines, buyer and context; nil when there is no such (live) cart.
    public func contents(of id: String) async throws(UCPSimError) -> CartContents? {
        guard let cart = try await get(id) else { return nil }
        return CartContents(
            id: cart.id,
            lineItems: cart.lines.map { (itemID: $0.itemID, quantity: $0.quantity) },
            buyer: cart.buyer?.bytes,
            context: cart.context?.bytes
        )
    }

    private func writing<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(UCPSimError)
        -> T
    {
        do {
            return try await database.queue.write(body)
        } catch {
            throw Self.storage(error, database)
        }
    }

    private static func fetch(_ db: Database, _ id: String) throws -> StoredCart? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM cart WHERE id = ? AND NOT canceled", arguments: [id])
        else { return nil }
        let decoder = JSONDecoder()
        let lines = try decoder.decode([StoredCart.Line].self, from: Data((row["lines"] as String).utf8))
        let buyer = try (row["buyer"] as String?).map { try decoder.decode(OpaqueJSON.self, from: Data($0.utf8)) }
        let context = try (row["context"] as String?).map { try decoder.decode(OpaqueJSON.self, from: Data($0.utf8)) }
        return StoredCart(id: id, lines: lines, buyer: buyer, context: context)
    }

    private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    private static func storage(_ error: any Error, _ database: ShopDatabase) -> UCPSimError {
        UCPSimError(
            .cannotCreate,
            "cart storage \(database.path ?? "in memory"): \(ShopDatabase.describe(error))"
        )
    }
}
