import Foundation
import GRDB
import Synchronization

/// The webhook subscriptions of a shop, kept in its state database (`ShopDatabase`), shared by the API
/// (`/v1/webhooks`), the CLI (`ucpsim subscriptions`) and the delivery side.
///
/// Management calls (`add`, `list`, `get`, `update`, `remove`, `disable`) go to the database: they are
/// `async`, and GRDB runs them on its own queue, never blocking the caller's thread. The delivery side's calls
/// (`matching`, `credentials`) run on every event and are served from memory: a cache rebuilt after each write made
/// here, and whenever the database's `data_version` shows a commit by another process (a `ucpsim subscriptions`
/// command beside a running `serve`). That check is one `PRAGMA` on a connection of its own.
///
/// Secrets: a new subscription gets the secret given, or a generated one (`whsec_` + base64 of 32 random bytes);
/// the answer that creates or rotates a secret is the only one that carries it. A rotation makes the new secret the
/// primary; the previous primary keeps signing (after it, in `credentials`) for `rotationGrace`, or until the next
/// rotation, whichever comes first.
public final class SubscriptionRegistry: Sendable {
    /// How long a rotated-out secret keeps signing beside the new one.
    public static let rotationGrace: TimeInterval = 24 * 3600

    /// Who made a subscription (kept in the database for support; a command's `--webhook-url` makes none).
    public enum Origin: String, Sendable {
        case api
        case cli
        /// Made from a platform profile's order `webhook_url` when the platform shops here.
        case platform
    }

    public let database: ShopDatabase
    private let now: @Sendable () -> Date
    private let cache: Mutex<Cache>

    /// One stored secret; `expiresAt` (unix ms) is set once it has been rotated out.
    struct StoredSecret: Sendable {
        let secret: WebhookSecret
        let expiresAt: Int64?
    }

    /// What the delivery side reads, and the database's `data_version` it reflects.
    struct Cache: Sendable {
        var version: Int?
        var byType: [EventType: [Subscription]] = [:]
        /// Each platform's subscription, enabled or not.
        var byPlatform: [String: Subscription] = [:]
        /// Newest first.
        var secrets: [SubscriptionID: [StoredSecret]] = [:]

        init(version: Int?, subscriptions: [Subscription], secrets: [SubscriptionID: [StoredSecret]]) {
            self.version = version
            self.secrets = secrets
            for subscription in subscriptions {
                if let platform = subscription.platform { byPlatform[platform] = subscription }
            }
            for subscription in subscriptions where subscription.enabled {
                for type in subscription.eventTypes { byType[type, default: []].append(subscription) }
            }
        }
    }

    /// The registry of `database`; `now` is the clock for timestamps and secret expiry.
    public init(database: ShopDatabase, now: @escaping @Sendable () -> Date = { Date() }) throws(SubscriptionError) {
        self.database = database
        self.now = now
        do {
            let version = try database.dataVersion()
            let loaded = try database.queue.read { db in try Self.load(db) }
            cache = Mutex(Cache(version: version, subscriptions: loaded.subscriptions, secrets: loaded.secrets))
        } catch {
            throw SubscriptionError.storage(error, path: database.path)
        }
    }

    // MARK: - Management

    /// Creates a subscription (validated first); the answer carries its secret, this once.
    public func add(_ new: NewSubscription, origin: Origin = .api) async throws(SubscriptionError)
        -> SubscriptionWithSecret
    {
        do throws(FieldError) {
            try SubscriptionRules.check(new)
        } catch {
            throw .invalid(error)
        }
        return try await insert(new, origin: origin)
    }

    /// Every subscription, oldest first, read from the database.
    public func list() async throws(SubscriptionError) -> [Subscription] {
        try await reading { db in try Self.load(db).subscriptions }
    }

    /// The subscription `id`, or nil.
    public func get(_ id: SubscriptionID) async throws(SubscriptionError) -> Subscription? {
        try await reading { db in try Self.fetch(db, id) }
    }

    /// Applies `changes` (validated first); the answer carries the new secret when the change made one. Throws
    /// `.notFound` for an unknown id.
    public func update(_ id: SubscriptionID, _ changes: SubscriptionChanges) async throws(SubscriptionError)
        -> SubscriptionWithSecret
    {
        let stamp = milliseconds(now())
        let newSecret: WebhookSecret? =
            switch changes.secret {
            case .rotate: WebhookSecret.generate()
            case .set(let secret): secret
            case nil: nil
            }
        let updated = try await writing { db in
            guard var subscription = try Self.fetch(db, id) else { throw SubscriptionError.notFound(id) }
            do throws(FieldError) {
                try SubscriptionRules.check(changes, dialect: subscription.dialect)
            } catch {
                throw SubscriptionError.invalid(error)
            }
            if changes.isEmpty { return subscription }
            if let url = changes.url { subscription.url = url }
            if let types = changes.eventTypes { subscription.eventTypes = Self.normalized(types) }
            if let description = changes.description { subscription.description = description }
            if let enabled = changes.enabled {
                subscription.enabled = enabled
                if enabled { subscription.disabledReason = nil }
            }
            subscription.updatedAt = Self.date(stamp)
            try Self.save(db, subscription)
            if let newSecret { try Self.rotate(db, id, to: newSecret, at: stamp) }
            return subscription
        }
        return SubscriptionWithSecret(subscription: updated, secret: newSecret)
    }

    /// Deletes the subscription and its secrets. Throws `.notFound` for an unknown id.
    public func remove(_ id: SubscriptionID) async throws(SubscriptionError) {
        try await writing { db in
            try db.execute(sql: "DELETE FROM webhook_secret WHERE subscription_id = ?", arguments: [id.rawValue])
            try db.execute(sql: "DELETE FROM webhook_subscription WHERE id = ?", arguments: [id.rawValue])
            guard db.changesCount > 0 else { throw SubscriptionError.notFound(id) }
        }
    }

    /// The subscription of `platform` (its profile URL) to the orders it places, delivered in the `ucp` dialect to
    /// `webhookURL` (its profile's `dev.ucp.shopping.order` `config.webhook_url`). Idempotent: the same URL keeps
    /// the subscription as it is (a subscription disabled by a 410 stays disabled); a changed URL updates it and
    /// enables it again; a platform seen for the first time gets a new one. Answers from memory when nothing changes.
    @discardableResult
    public func platformSubscription(for platform: String, webhookURL: String) async throws(SubscriptionError)
        -> Subscription
    {
        if let known = current({ $0.byPlatform[platform] }), known.url == webhookURL { return known }
        let stamp = milliseconds(now())
        let fresh = Subscription(
            id: SubscriptionID.make(),
            url: webhookURL,
            eventTypes: Self.normalized(EventType.allCases),
            dialect: .ucp,
            description: "orders placed by \(platform)",
            enabled: true,
            disabledReason: nil,
            createdAt: Self.date(stamp),
            updatedAt: Self.date(stamp),
            platform: platform
        )
        let secret = WebhookSecret.generate()
        return try await writing { db in
            if var existing = try Row.fetchOne(
                db,
                sql: "SELECT * FROM webhook_subscription WHERE platform = ?",
                arguments: [platform]
            ).map(Self.decode) {
                guard existing.url != webhookURL else { return existing }
                existing.url = webhookURL
                existing.enabled = true
                existing.disabledReason = nil
                existing.updatedAt = Self.date(stamp)
                try Self.save(db, existing)
                return existing
            }
            try db.execute(
                sql: """
                    INSERT INTO webhook_subscription (id, url, event_types, dialect, description, enabled,
                        disabled_reason, origin, created_at, updated_at, platform)
                    VALUES (?, ?, ?, ?, ?, 1, NULL, ?, ?, ?, ?)
                    """,
                arguments: [
                    fresh.id.rawValue, fresh.url, Self.encode(fresh.eventTypes), fresh.dialect.rawValue,
                    fresh.description, Origin.platform.rawValue, stamp, stamp, platform,
                ]
            )
            // The `ucp` dialect signs with the shop's key; the table wants a secret all the same.
            try db.execute(
                sql:
                    "INSERT INTO webhook_secret (subscription_id, secret, created_at, expires_at) VALUES (?, ?, ?, NULL)",
                arguments: [fresh.id.rawValue, secret.text, stamp]
            )
            return fresh
        }
    }

    // MARK: - Delivery side

    /// The enabled subscriptions that receive `type`, oldest first. From memory (see the type's notes).
    public func matching(_ type: EventType) -> [Subscription] {
        current { $0.byType[type] ?? [] }
    }

    /// The secrets deliveries to `id` are signed with, newest first (two during a rotation's grace); nil for an
    /// unknown id. From memory only, with no look at the database: it runs on a transport thread at every attempt.
    /// Another process's change reaches it at this process's next `matching` (every publication asks), and a
    /// rotated-out secret keeps signing through its grace anyway.
    public func credentials(for id: SubscriptionID) -> DeliveryCredentials? {
        let stamp = milliseconds(now())
        return cache.withLock { cache in
            cache.secrets[id].map { stored in
                DeliveryCredentials(
                    secrets: stored.filter { $0.expiresAt.map { $0 > stamp } ?? true }.map(\.secret)
                )
            }
        }
    }

    /// Stops deliveries to `id` and records why (what a receiver's 410 Gone does); `update` with `enabled: true`
    /// turns it back on. False when there is no such subscription (removed meanwhile).
    @discardableResult
    public func disable(_ id: SubscriptionID, reason: String) async throws(SubscriptionError) -> Bool {
        let stamp = milliseconds(now())
        return try await writing { db in
            try db.execute(
                sql: "UPDATE webhook_subscription SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?",
                arguments: [reason, stamp, id.rawValue]
            )
            return db.changesCount > 0
        }
    }

    // MARK: - Storage

    private func insert(_ new: NewSubscription, origin: Origin)
        async throws(SubscriptionError) -> SubscriptionWithSecret
    {
        let stamp = milliseconds(now())
        let secret = new.secret ?? WebhookSecret.generate()
        let subscription = Subscription(
            id: SubscriptionID.make(),
            url: new.url,
            eventTypes: Self.normalized(new.eventTypes),
            dialect: new.dialect,
            description: new.description,
            enabled: new.enabled,
            disabledReason: nil,
            createdAt: Self.date(stamp),
            updatedAt: Self.date(stamp)
        )
        return try await writing { db in
            try db.execute(
                sql: """
                    INSERT INTO webhook_subscription (id, url, event_types, dialect, description, enabled,
                        disabled_reason, origin, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)
                    """,
                arguments: [
                    subscription.id.rawValue, subscription.url, Self.encode(subscription.eventTypes),
                    subscription.dialect.rawValue, subscription.description, subscription.enabled, origin.rawValue,
                    stamp, stamp,
                ]
            )
            try db.execute(
                sql:
                    "INSERT INTO webhook_secret (subscription_id, secret, created_at, expires_at) VALUES (?, ?, ?, NULL)",
                arguments: [subscription.id.rawValue, secret.text, stamp]
            )
            return SubscriptionWithSecret(subscription: subscription, secret: secret)
        }
    }

    /// Reads in the database, on GRDB's queue.
    private func reading<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T)
        async throws(SubscriptionError)
        -> T
    {
        do {
            return try await database.queue.read(body)
        } catch {
            throw SubscriptionError.storage(error, path: database.path)
        }
    }

    /// Writes in one transaction, then rebuilds the cache from what was committed.
    private func writing<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T)
        async throws(SubscriptionError)
        -> T
    {
        do {
            let (result, loaded) = try await database.queue.write { db in
                let result = try body(db)
                return (result, try Self.load(db))
            }
            cache.withLock { cache in
                cache = Cache(version: cache.version, subscriptions: loaded.subscriptions, secrets: loaded.secrets)
            }
            return result
        } catch {
            throw SubscriptionError.storage(error, path: database.path)
        }
    }

    /// Runs `body` on the cache, reloading it first when another connection committed since it was built. A failed
    /// check or reload (the database busy or gone) keeps serving what the cache has.
    private func current<T>(_ body: (Cache) -> T) -> T {
        guard let version = try? database.dataVersion(), version != cache.withLock({ $0.version }) else {
            return cache.withLock { body($0) }
        }
        if let loaded = try? database.queue.read({ db in try Self.load(db) }) {
            cache.withLock { cache in
                cache = Cache(version: version, subscriptions: loaded.subscriptions, secrets: loaded.secrets)
            }
        }
        return cache.withLock { body($0) }
    }

    private static func load(_ db: Database) throws -> (
        subscriptions: [Subscription], secrets: [SubscriptionID: [StoredSecret]]
    ) {
        let subscriptions = try Row.fetchAll(db, sql: "SELECT * FROM webhook_subscription ORDER BY created_at, id")
            .map(decode)
        var secrets: [SubscriptionID: [StoredSecret]] = [:]
        for row in try Row.fetchAll(
            db,
            sql: "SELECT subscription_id, secret, expires_at FROM webhook_secret ORDER BY seq DESC"
        ) {
            let id = SubscriptionID(row["subscription_id"])
            secrets[id, default: []].append(
                StoredSecret(secret: WebhookSecret(row["secret"]), expiresAt: row["expires_at"])
            )
        }
        return (subscriptions, secrets)
    }

    private static func fetch(_ db: Database, _ id: SubscriptionID) throws -> Subscription? {
        try Row.fetchOne(db, sql: "SELECT * FROM webhook_subscription WHERE id = ?", arguments: [id.rawValue])
            .map(decode)
    }

    private static func save(_ db: Database, _ subscription: Subscription) throws {
        try db.execute(
            sql: """
                UPDATE webhook_subscription SET url = ?, event_types = ?, description = ?, enabled = ?,
                    disabled_reason = ?, updated_at = ? WHERE id = ?
                """,
            arguments: [
                subscription.url, encode(subscription.eventTypes), subscription.description, subscription.enabled,
                subscription.disabledReason, milliseconds(subscription.updatedAt), subscription.id.rawValue,
            ]
        )
    }

    /// `secret` becomes the primary; the previous primary expires after `rotationGrace`; older ones go.
    private static func rotate(_ db: Database, _ id: SubscriptionID, to secret: WebhookSecret, at stamp: Int64) throws {
        try db.execute(
            sql: "DELETE FROM webhook_secret WHERE subscription_id = ? AND expires_at IS NOT NULL",
            arguments: [id.rawValue]
        )
        try db.execute(
            sql: "UPDATE webhook_secret SET expires_at = ? WHERE subscription_id = ?",
            arguments: [stamp + Int64(rotationGrace * 1000), id.rawValue]
        )
        try db.execute(
            sql: "INSERT INTO webhook_secret (subscription_id, secret, created_at, expires_at) VALUES (?, ?, ?, NULL)",
            arguments: [id.rawValue, secret.text, stamp]
        )
    }

    private static func decode(_ row: Row) throws -> Subscription {
        let names = (try? JSONDecoder().decode([String].self, from: Data((row["event_types"] as String).utf8))) ?? []
        let dialectName: String = row["dialect"]
        guard let dialect = DialectName(rawValue: dialectName) else {
            throw DatabaseError(message: "subscription \(row["id"] as String) has an unknown dialect \(dialectName)")
        }
        return Subscription(
            id: SubscriptionID(row["id"]),
            url: row["url"],
            // A name this version does not know (written by a newer ucpsim) is left out.
            eventTypes: normalized(names.compactMap(EventType.init(rawValue:))),
            dialect: dialect,
            description: row["description"],
            enabled: row["enabled"],
            disabledReason: row["disabled_reason"],
            createdAt: date(row["created_at"]),
            updatedAt: date(row["updated_at"]),
            platform: row["platform"]
        )
    }

    private static func encode(_ types: [EventType]) -> String {
        let data = (try? JSONEncoder().encode(types.map(\.rawValue))) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static func normalized(_ types: [EventType]) -> [EventType] { Set(types).sorted() }

    private static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
    }
}

private func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
