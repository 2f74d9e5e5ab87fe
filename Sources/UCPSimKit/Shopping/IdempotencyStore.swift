import Foundation
import GRDB

/// The answers of state-changing shopping requests, kept by `Idempotency-Key` in the state database
/// (`idempotency_key`): a retry with the same key and the same body gets the same answer, byte for byte, and the
/// operation does not run again.
///
/// A key is scoped by the platform (its profile URL; empty without `UCP-Agent`) and the operation, as the spec's
/// "unique per client per operation type" asks. An answer is kept `retention` (the spec: at least 24 hours, 48
/// recommended); older ones are ignored and dropped as new ones are stored.
public struct IdempotencyStore: Sendable {
    /// How long an answer is replayed.
    public static let retention: TimeInterval = 48 * 3600

    /// Where a key is unique.
    public struct Scope: Sendable, Hashable {
        public var platform: String
        public var operation: ShoppingOperation
        public var key: String

        public init(platform: String, operation: ShoppingOperation, key: String) {
            self.platform = platform
            self.operation = operation
            self.key = key
        }
    }

    /// A kept answer and what it answered.
    public struct Entry: Sendable, Equatable {
        /// The request path (`/checkout-sessions/abc/complete`): a key reused on another resource is a conflict.
        public var path: String
        /// SHA-256 of the raw request body.
        public var bodyDigest: [UInt8]
        public var status: Int
        public var response: [UInt8]
    }

    let database: ShopDatabase
    private let now: @Sendable () -> Date

    public init(database: ShopDatabase, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.now = now
    }

    /// The answer kept for `scope`, nil when none (or only an expired one) is.
    public func entry(_ scope: Scope) async throws -> Entry? {
        let oldest = milliseconds(now().addingTimeInterval(-Self.retention))
        return try await database.queue.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT path, body_sha256, status, response FROM idempotency_key
                    WHERE platform = ? AND operation = ? AND key = ? AND created_at >= ?
                    """,
                arguments: [scope.platform, scope.operation.rawValue, scope.key, oldest]
            ).map { row in
                Entry(
                    path: row["path"],
                    bodyDigest: [UInt8](row["body_sha256"] as Data),
                    status: row["status"],
                    response: [UInt8](row["response"] as Data)
                )
            }
        }
    }

    /// Keeps `entry` for `scope` (replacing an expired one) and drops every expired answer.
    public func keep(_ entry: Entry, for scope: Scope) async throws {
        let stamp = milliseconds(now())
        let oldest = milliseconds(now().addingTimeInterval(-Self.retention))
        try await database.queue.write { db in
            try db.execute(sql: "DELETE FROM idempotency_key WHERE created_at < ?", arguments: [oldest])
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO idempotency_key
                        (platform, operation, key, path, body_sha256, status, response, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    scope.platform, scope.operation.rawValue, scope.key, entry.path, Data(entry.bodyDigest),
                    entry.status, Data(entry.response), stamp,
                ]
            )
        }
    }

    private func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
}
