import Foundation
import GRDB
import Testing
@testable import UCPSimKit

/// Checkout and order cancel over real HTTP with real buyer tokens: access tokens signed with the shop's own key
/// (`TokenSigner`), their grant and `jti` rows in the shop's database, sent as `Authorization: Bearer`.
///
/// These need the gateway's `IdentityGuard` to turn the token into `ShoppingCall.buyer` (branch il-guard): until it
/// is merged the suite is disabled. Remove the `.disabled` trait when it is (it passes on a merge with il-guard
/// 4afc86d whose `ShoppingGateway.requiredScopes` delegates to `ShoppingOperation.requiredScopes(for:requireIdentity:)`
/// and whose token-less `orderCancel` is 401 `identity_required`).
@Suite(.disabled("needs IdentityGuard filling ShoppingCall.buyer (branch il-guard); enable once merged"))
struct BuyerTokenHTTPTests {
    /// A shop with identity linking, on the fixed clock.
    static func startShop(control: ControlOptions? = nil) async throws -> CheckoutAPITests.Client {
        var shopping = ShoppingSetup()
        shopping.identity = IdentitySetup()
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            control: control,
            clock: { CheckoutAPITests.start },
            shopping: shopping,
            logger: TestSupport.quietLogger
        )
        return CheckoutAPITests.Client(shop: shop, recorder: CheckoutAPITests.Recorder())
    }

    /// A valid access token for `customer` with `scopes`, as the token endpoint would issue it.
    static func token(_ shop: Shop, customer: String, scopes: [String]) async throws -> String {
        let signer = try TokenSigner(key: try await OAuthStore(database: shop.database).signingKey())
        let now = Int64(CheckoutAPITests.start.timeIntervalSince1970)
        let grant = "grant_\(customer)_\(scopes.count)"
        let jti = "jti_\(customer)_\(scopes.count)"
        try await shop.database.queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO oauth_grant (id, client_id, customer_id, scope, auth_time, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [grant, "demo-agent", customer, scopes.joined(separator: " "), now * 1000, now * 1000]
            )
            try db.execute(
                sql: "INSERT INTO oauth_access_token (jti, grant_id, expires_at) VALUES (?, ?, ?)",
                arguments: [jti, grant, (now + 300) * 1000]
            )
        }
        return try signer.sign(
            AccessTokenClaims(
                issuer: shop.profile.baseURL,
                audience: shop.profile.baseURL,
                subject: customer,
                clientID: "demo-agent",
                scopes: scopes,
                issuedAt: now,
                expiresAt: now + 300,
                authTime: now,
                jti: jti,
                grantID: grant
            )
        )
    }

    static func send(
        _ client: CheckoutAPITests.Client,
        _ method: String,
        _ path: String,
        _ body: String = "",
        token: String?
    ) async throws -> [String: Any] {
        var headers = HTTPFieldList([
            ("Content-Type", "application/json"),
            ("UCP-Agent", try await TestPlatform.agent(client.shop.profile.version)),
        ])
        if let token { headers.append("Authorization", "Bearer \(token)") }
        let response = try await client.shop.client.send(
            OutgoingRequest(
                method: method,
                url: "\(client.shop.server.baseURL)\(path)",
                headers: headers,
                body: Array(body.utf8)
            )
        )
        #expect(response.status == 200 || response.status == 201, "\(response.bodyExcerpt())")
        if response.status == 200 || response.status == 201 { client.recorder.answers.append(response.body) }
        return try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func aBuyerTokenChecksOutAtMemberPricesToASavedAddressAndCancelsTheOrder() async throws {
        let client = try await Self.startShop()
        let all = IdentityScope.offered(requireIdentity: false)
        let alice = try await Self.token(client.shop, customer: "cus_alice", scopes: all)
        let bob = try await Self.token(client.shop, customer: "cus_bob", scopes: all)

        let created = try await Self.send(client, "POST", "/checkout-sessions", OrderManageTests.mug, token: alice)
        #expect(created["status"] as? String == "ready_for_complete", "\(created)")
        #expect(CheckoutAPITests.totals(created)["subtotal"] == 2400)
        let id = try #require(created["id"] as? String)
        let methods = (created["fulfillment"] as? [String: Any])?["methods"] as? [[String: Any]]
        let destinations = methods?.first?["destinations"] as? [[String: Any]]
        #expect(destinations?.compactMap { $0["id"] as? String } == ["addr_cus_alice_1"])

        // Bob's token on Alice's session: not found.
        let stranger = try await Self.send(client, "GET", "/checkout-sessions/\(id)", token: bob)
        #expect(CheckoutAPITests.codes(stranger) == ["not_found"])

        let completed = try await Self.send(
            client,
            "POST",
            "/checkout-sessions/\(id)/complete",
            CheckoutAPITests.pay("tok_success"),
            token: alice
        )
        let orderID = try #require((completed["order"] as? [String: Any])?["id"] as? String, "\(completed)")

        let refused = try await Self.send(client, "POST", "/orders/\(orderID)/cancel", token: bob)
        #expect(CheckoutAPITests.codes(refused) == ["not_found"])
        let canceled = try await Self.send(client, "POST", "/orders/\(orderID)/cancel", token: alice)
        #expect((canceled["line_items"] as? [[String: Any]])?.count == 1, "\(canceled)")
        #expect((canceled["adjustments"] as? [[String: Any]])?.first?["type"] as? String == "cancellation")
        await client.shop.stop()
        // The checkout answers only (the order answers are checked by the handler tests).
        client.recorder.answers = Array(client.recorder.answers.prefix(2))
        try await CheckoutAPITests.validate(client.recorder)
    }
}
