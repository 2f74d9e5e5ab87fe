import Foundation
import GRDB

/// The shop's state database, `DIR/ucpsim.sqlite` in the state directory (or in memory without one): webhook
/// subscriptions today; checkout sessions, idempotency keys and OAuth grants, each a migration of its own.
///
/// - WAL journal, so a `serve` and a `ucpsim subscriptions` command on the same directory read and write side by side
///   (readers never wait for the writer; writers wait for each other up to `busyTimeout`).
/// - `synchronous = FULL`: in WAL mode that fsyncs the log at every commit, so a change the API answered 201 or 204
///   for, or a CLI command printed, survives a power cut, not only a crash of the process (`NORMAL` + WAL could lose
///   the last commits then). Changes here are rare and small; one fsync each is cheap.
/// - Mode 0600 from creation: it holds webhook secrets. SQLite gives the `-wal` and `-shm` files the mode of the
///   database file.
public final class ShopDatabase: Sendable {
    /// The file name inside the state directory.
    public static let fileName = "ucpsim.sqlite"
    /// How long a writer waits for another process's write to finish before giving up.
    public static let busyTimeout: TimeInterval = 10

    /// The connection every read and write goes through.
    let queue: DatabaseQueue
    /// The database file; nil in memory.
    public let path: String?
    /// A second connection on the same file, used only to ask `PRAGMA data_version`: its value changes whenever a
    /// commit was made by any other connection (this process's writer, or another process), which is how in-memory
    /// caches learn of a `ucpsim subscriptions` command run beside a `serve`. Nil in memory (one connection only).
    let watcher: DatabaseQueue?

    private init(queue: DatabaseQueue, path: String?, watcher: DatabaseQueue?) {
        self.queue = queue
        self.path = path
        self.watcher = watcher
    }

    /// The path of the database in `directory`.
    public static func path(in directory: String) -> String {
        (directory as NSString).appendingPathComponent(fileName)
    }

    /// Opens (creating it and the directory when missing) the database of the state directory `directory`, or an
    /// in-memory one when `directory` is nil, and brings its schema up to date. With `create: false` a missing
    /// database is exit 66 (a command that only reads or changes what is there creates nothing).
    public static func open(directory: String?, create: Bool = true) throws(UCPSimError) -> ShopDatabase {
        guard let directory else { return try inMemory() }
        let path = path(in: directory)
        if !create && !FileManager.default.fileExists(atPath: path) {
            throw UCPSimError(.noInput, "no state database \(path): nothing was ever subscribed on \(directory)")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw UCPSimError(
                .cannotCreate,
                "cannot create the state directory \(directory): \(error.localizedDescription)"
            )
        }
        try createPrivately(path)
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(busyTimeout)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            // After the open: GRDB sets NORMAL when it turns WAL on, and the setting is the connection's.
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try migrator.migrate(queue)
            var watching = Configuration()
            watching.readonly = true
            watching.busyMode = .timeout(busyTimeout)
            let watcher = try DatabaseQueue(path: path, configuration: watching)
            return ShopDatabase(queue: queue, path: path, watcher: watcher)
        } catch {
            throw UCPSimError(.cannotCreate, "cannot open the state database \(path): \(describe(error))")
        }
    }

    /// A database in memory, gone with the process (commands without a state directory; tests).
    public static func inMemory() throws(UCPSimError) -> ShopDatabase {
        do {
            let queue = try DatabaseQueue()
            try migrator.migrate(queue)
            return ShopDatabase(queue: queue, path: nil, watcher: nil)
        } catch {
            throw UCPSimError(.software, "cannot open an in-memory database: \(describe(error))")
        }
    }

    /// Creates `path` empty with mode 0600 when it does not exist, and narrows an existing file to 0600, so SQLite
    /// never creates it with the umask's mode (it holds secrets).
    private static func createPrivately(_ path: String) throws(UCPSimError) {
        let descriptor = Foundation.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw UCPSimError(.cannotCreate, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw UCPSimError(.cannotCreate, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if status.st_mode & 0o777 != 0o600, fchmod(descriptor, 0o600) != 0 {
            throw UCPSimError(.cannotCreate, "cannot make \(path) private: \(String(cString: strerror(errno)))")
        }
    }

    /// A commit counter that moves when another connection committed (see `watcher`); nil in memory.
    func dataVersion() throws -> Int? {
        try watcher?.inDatabase { db in try Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) }
    }

    /// One line for a GRDB or SQLite error.
    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return error.message ?? "\(error.resultCode)"
        }
        return "\(error)"
    }

    /// The schema, one migration per change; applied in order, once each, on open.
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 webhook subscriptions") { db in
            try db.create(table: "webhook_subscription") { table in
                table.primaryKey("id", .text)
                table.column("url", .text).notNull()
                // A JSON array of event type names.
                table.column("event_types", .text).notNull()
                table.column("dialect", .text).notNull()
                table.column("description", .text)
                table.column("enabled", .boolean).notNull()
                table.column("disabled_reason", .text)
                // `api` or `cli`: who made it.
                table.column("origin", .text).notNull()
                // Unix milliseconds.
                table.column("created_at", .integer).notNull()
                table.column("updated_at", .integer).notNull()
            }
            try db.create(table: "webhook_secret") { table in
                table.autoIncrementedPrimaryKey("seq")
                table.column("subscription_id", .text).notNull()
                    .references("webhook_subscription", onDelete: .cascade)
                table.column("secret", .text).notNull()
                table.column("created_at", .integer).notNull()
                // Unix milliseconds after which a rotated-out secret no longer signs; nil for the primary.
                table.column("expires_at", .integer)
            }
            try db.create(index: "webhook_secret_by_subscription", on: "webhook_secret", columns: ["subscription_id"])
        }
        migrator.registerMigration("v2 carts", migrate: CartStore.migrate)
        migrator.registerMigration("v3 checkout sessions") { db in
            try db.create(table: "checkout_session") { table in
                // The number in the id (`chk_00001`): ids come from it.
                table.primaryKey("seq", .integer)
                table.column("id", .text).notNull().unique()
                // The session as JSON (`CheckoutSession`).
                table.column("session", .text).notNull()
                // The cart it was made from: a cart has one active checkout.
                table.column("cart_id", .text).indexed()
            }
            try db.create(table: "checkout_reservation") { table in
                // Units of a variant that completed checkouts took from the shop file's inventory.
                table.primaryKey("variant_id", .text)
                table.column("units", .integer).notNull()
            }
        }
        migrator.registerMigration("v4 platform subscriptions") { db in
            // The profile URL of the platform a subscription serves (its `dev.ucp.shopping.order` webhook_url); such
            // a subscription receives only the orders that platform placed. NULL: a shop-wide subscription.
            try db.alter(table: "webhook_subscription") { table in table.add(column: "platform", .text) }
            try db.create(
                index: "webhook_subscription_by_platform",
                on: "webhook_subscription",
                columns: ["platform"],
                unique: true,
                condition: Column("platform") != nil
            )
            // Who placed each order through the shopping API (checkout completion records it).
            try db.create(table: "platform_order") { table in
                table.primaryKey("order_id", .text)
                table.column("platform", .text).notNull()
                table.column("created_at", .integer).notNull()
            }
        }
        migrator.registerMigration("v5 idempotency keys") { db in
            // The answer a state-changing shopping request got, for its `Idempotency-Key` (scoped by the platform
            // and the operation), kept `IdempotencyStore.retention`.
            try db.create(table: "idempotency_key") { table in
                table.column("platform", .text).notNull()
                table.column("operation", .text).notNull()
                table.column("key", .text).notNull()
                table.column("path", .text).notNull()
                // SHA-256 of the raw request body.
                table.column("body_sha256", .blob).notNull()
                table.column("status", .integer).notNull()
                table.column("response", .blob).notNull()
                // Unix milliseconds.
                table.column("created_at", .integer).notNull()
                table.primaryKey(["platform", "operation", "key"])
            }
            try db.create(index: "idempotency_key_by_age", on: "idempotency_key", columns: ["created_at"])
        }
        migrator.registerMigration("v6 identity linking", migrate: OAuthStore.migrate)
        return migrator
    }()
}
