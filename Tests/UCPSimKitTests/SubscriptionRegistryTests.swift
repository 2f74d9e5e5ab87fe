import Foundation
import Synchronization
import Testing
@testable import UCPSimKit

/// The registry on a real SQLite file: secrets, rotation, the delivery side's cache, the file's mode.
@Suite struct SubscriptionRegistryTests {
    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-subs-\(UUID().uuidString)").path
    }

    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        private let time = Mutex(Date(timeIntervalSince1970: 1_790_000_000))
        var now: Date { time.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { time.withLock { $0 += seconds } }
    }

    @Test func theDatabaseFileIsPrivateAndInWALMode() throws {
        let directory = Self.temporaryDirectory()
        let database = try ShopDatabase.open(directory: directory)
        let path = ShopDatabase.path(in: directory)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let (mode, synchronous) = try database.queue.read { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                try Int.fetchOne(db, sql: "PRAGMA synchronous")
            )
        }
        #expect(mode == "wal")
        #expect(synchronous == 2)  // FULL
        // The WAL's side files, once written, get the database file's mode.
        _ = try SubscriptionRegistry(database: database)
        for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            let side = try FileManager.default.attributesOfItem(atPath: path + suffix)
            #expect((side[.posixPermissions] as? NSNumber)?.intValue == 0o600, "\(suffix)")
        }
    }

    @Test func aGeneratedSecretIsWhsecAndThirtyTwoRandomBytes() throws {
        let one = WebhookSecret.generate()
        let two = WebhookSecret.generate()
        #expect(one != two)
        #expect(one.text.hasPrefix("whsec_"))
        #expect((try? one.signingKey(for: .standardWebhooks))?.count == 32)
        #expect((try? one.signingKey(for: .ucpHMAC)) == Array(one.text.utf8))
        // Valid for every dialect.
        for dialect in DialectName.allCases { try SubscriptionRules.checkSecret(one, dialect: dialect) }
    }

    @Test func matchingServesEnabledSubscriptionsOfTheTypeAndFollowsEveryChange() async throws {
        let registry = try SubscriptionRegistry(database: try ShopDatabase.inMemory())
        let orders = try await registry.add(
            NewSubscription(url: "https://a.example/hook", eventTypes: [.orderCreated, .orderUpdated])
        ).subscription
        let all = try await registry.add(
            NewSubscription(url: "http://127.0.0.1:9/hook", eventTypes: EventType.allCases, dialect: .ucpHMAC)
        ).subscription
        #expect(registry.matching(.orderCreated).map(\.id) == [orders.id, all.id])
        #expect(registry.matching(.paymentStatusChanged).map(\.id) == [all.id])

        #expect(try await registry.disable(all.id, reason: "410 Gone from http://127.0.0.1:9/hook"))
        #expect(registry.matching(.paymentStatusChanged).isEmpty)
        let disabled = try #require(try await registry.get(all.id))
        #expect(!disabled.enabled && disabled.disabledReason == "410 Gone from http://127.0.0.1:9/hook")

        let enabled = try await registry.update(all.id, SubscriptionChanges(enabled: true)).subscription
        #expect(enabled.enabled && enabled.disabledReason == nil)
        _ = try await registry.update(orders.id, SubscriptionChanges(eventTypes: [.fulfillmentStatusChanged]))
        #expect(registry.matching(.orderCreated).map(\.id) == [all.id])
        #expect(registry.matching(.fulfillmentStatusChanged).map(\.id) == [orders.id, all.id])

        try await registry.remove(orders.id)
        #expect(registry.matching(.fulfillmentStatusChanged).map(\.id) == [all.id])
        #expect(registry.credentials(for: orders.id) == nil)
        #expect(try await registry.get(orders.id) == nil)
        await #expect(throws: SubscriptionError.self) { try await registry.remove(orders.id) }
        #expect(try await registry.disable(orders.id, reason: "gone") == false)
    }

    @Test func aRotatedOutSecretSignsBesideTheNewOneForTheGraceOnly() async throws {
        let clock = ManualClock()
        let registry = try SubscriptionRegistry(database: try ShopDatabase.inMemory(), now: { clock.now })
        let first = WebhookSecret("first-secret-of-at-least-24-bytes")
        let created = try await registry.add(
            NewSubscription(
                url: "https://a.example/hook",
                eventTypes: [.orderCreated],
                dialect: .ucpHMAC,
                secret: first
            )
        )
        #expect(created.secret == first)
        #expect(registry.credentials(for: created.subscription.id)?.secrets == [first])

        let rotated = try await registry.update(created.subscription.id, SubscriptionChanges(secret: .rotate))
        let second = try #require(rotated.secret)
        #expect(second.text.hasPrefix("whsec_"))
        #expect(registry.credentials(for: created.subscription.id)?.secrets == [second, first])

        clock.advance(SubscriptionRegistry.rotationGrace - 1)
        #expect(registry.credentials(for: created.subscription.id)?.secrets == [second, first])
        clock.advance(1)
        #expect(registry.credentials(for: created.subscription.id)?.secrets == [second])

        // A rotation during a grace ends the older secret's at once: never more than two.
        let third = WebhookSecret("third-secret-of-at-least-24-bytes")
        _ = try await registry.update(created.subscription.id, SubscriptionChanges(secret: .set(third)))
        let fourth = try #require(
            try await registry.update(created.subscription.id, SubscriptionChanges(secret: .rotate)).secret
        )
        #expect(registry.credentials(for: created.subscription.id)?.secrets == [fourth, third])
    }

    @Test func secretsAreNeverInTheSubscriptionsJSON() async throws {
        let registry = try SubscriptionRegistry(database: try ShopDatabase.inMemory())
        let created = try await registry.add(NewSubscription(url: "https://a.example/h", eventTypes: [.orderCreated]))
        let secret = try #require(created.secret)
        let plain = String(decoding: created.subscription.json(), as: UTF8.self)
        let encoded = String(decoding: try JSONEncoder().encode(created.subscription), as: UTF8.self)
        #expect(!plain.contains(secret.text) && !plain.contains("secret"))
        #expect(!encoded.contains(secret.text) && !encoded.contains("secret"))
        #expect(String(decoding: created.subscription.json(secret: secret), as: UTF8.self).contains(secret.text))
    }

    @Test func twoConnectionsOnOneFileSeeEachOthersChanges() async throws {
        let directory = Self.temporaryDirectory()
        let serve = try SubscriptionRegistry(database: try ShopDatabase.open(directory: directory))
        let cli = try SubscriptionRegistry(database: try ShopDatabase.open(directory: directory))
        #expect(serve.matching(.orderCreated).isEmpty)
        let added = try await cli.add(NewSubscription(url: "https://a.example/h", eventTypes: [.orderCreated]))
        #expect(serve.matching(.orderCreated).map(\.id) == [added.subscription.id])
        #expect(serve.credentials(for: added.subscription.id)?.secrets == [try #require(added.secret)])
        _ = try await cli.update(added.subscription.id, SubscriptionChanges(enabled: false))
        #expect(serve.matching(.orderCreated).isEmpty)
        try await serve.remove(added.subscription.id)
        #expect(try await cli.list().isEmpty)
    }

    @Test(arguments: [
        ("ftp://a.example/h", "url must be an absolute http(s) URL"),
        ("http://a.example/h", "url must be https (http only on a loopback host"),
        ("http://10.0.0.1/h", "url must be https"),
        ("not a url", "url must be an absolute http(s) URL"),
    ])
    func urlsMustBeHTTPSOrLoopbackHTTP(url: String, message: String) async throws {
        let registry = try SubscriptionRegistry(database: try ShopDatabase.inMemory())
        let error = await #expect(throws: SubscriptionError.self) {
            try await registry.add(NewSubscription(url: url, eventTypes: [.orderCreated]))
        }
        #expect(error?.kind == .invalid)
        #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "")")
        for accepted in ["https://a.example/h", "http://127.0.0.2:1/h", "http://[::1]:8/h", "http://localhost/h"] {
            _ = try await registry.add(NewSubscription(url: accepted, eventTypes: [.orderCreated]))
        }
    }

    @Test func secretsMustGiveTwentyFourToSixtyFourKeyBytesAsTheDialectDerivesThem() throws {
        func refused(_ text: String, _ dialect: DialectName) -> String? {
            do throws(FieldError) {
                try SubscriptionRules.checkSecret(WebhookSecret(text), dialect: dialect)
                return nil
            } catch {
                return error.description
            }
        }
        let bytes = { (count: Int) in "whsec_" + Data(repeating: 7, count: count).base64EncodedString() }
        #expect(refused(bytes(24), .standardWebhooks) == nil)
        #expect(refused(bytes(64), .standardWebhooks) == nil)
        #expect(
            refused(bytes(23), .standardWebhooks)
                == "secret_key is unusable for the standard-webhooks dialect: it gives 23 key bytes; 24–64 are needed"
        )
        #expect(refused(bytes(65), .standardWebhooks)?.contains("gives 65 key bytes") == true)
        #expect(refused("whsec_not*base64", .standardWebhooks)?.contains("not whsec_ followed by base64") == true)
        // ucp-hmac counts the whole text's UTF-8 bytes, the prefix included.
        #expect(refused(String(repeating: "a", count: 24), .ucpHMAC) == nil)
        #expect(refused(String(repeating: "a", count: 23), .ucpHMAC)?.contains("gives 23 key bytes") == true)
        #expect(refused(String(repeating: "é", count: 33), .ucpHMAC)?.contains("gives 66 key bytes") == true)
    }

    @Test func eventTypesAcceptKnownNamesOrStarAndNothingElse() throws {
        #expect(try SubscriptionRules.eventTypes(["*"]) == EventType.allCases)
        #expect(
            try SubscriptionRules.eventTypes(["order.updated", "order.created", "order.updated"])
                == [.orderCreated, .orderUpdated]
        )
        #expect(throws: FieldError.self) { try SubscriptionRules.eventTypes([]) }
        do {
            _ = try SubscriptionRules.eventTypes(["order.created", "order.shipped"])
            Issue.record("order.shipped accepted")
        } catch {
            #expect(error.jsonPath == "$.event_types[1]")
        }
    }
}
