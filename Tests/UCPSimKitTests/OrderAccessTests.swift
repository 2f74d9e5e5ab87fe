import Foundation
import GRDB
import Testing

@testable import UCPSimKit

/// The resource side of identity linking over real HTTP on a real shop: who may read `GET /orders/{id}` (a buyer
/// token with `dev.ucp.shopping.order:read` for that customer's orders, the platform that placed an order with a
/// signed request), the spec's 401/403 challenges for everyone else, bad tokens on checkout, `--require-identity`,
/// and the control API's `GET /testing/orders/{id}`. Tokens are minted with the shop's own signing key and rows in
/// its database, as the token endpoint would.
@Suite struct OrderAccessTests {
    /// A shop with identity linking (optional), the control API (`Simulation-Secret: s3cret`), and two platforms
    /// with their own keys and profiles.
    struct Fixture {
        let shop: Shop
        let platform: PlatformProfileServer
        let other: PlatformProfileServer

        var base: String { shop.server.baseURL }
        var challengeTail: String { #"resource_metadata="\#(base)/.well-known/oauth-protected-resource""# }

        /// `bound`: registers the client `bound-platform`, bound to `platform`'s profile.
        static func start(
            identity: IdentitySetup? = IdentitySetup(),
            placeOrders: Bool = true,
            bound: Bool = false
        ) async throws -> Fixture {
            let platform = try await PlatformProfileServer.start()
            try platform.serve(profile: try platform.profile())
            let other = try await PlatformProfileServer.start()
            try other.serve(profile: try other.profile())
            var shopping = ShoppingSetup()
            shopping.identity = identity
            if bound {
                shopping.identity?.clients.append(
                    OAuthClient(
                        id: "bound-platform",
                        secret: "bound-secret",
                        redirectURIs: ["http://127.0.0.1/callback"],
                        profile: platform.url()
                    )
                )
            }
            let shop = try await Shop.start(
                keys: try KeyRing.ephemeral(),
                control: ControlOptions(target: nil, secret: "s3cret"),
                shopping: shopping,
                logger: TestSupport.quietLogger
            )
            let fixture = Fixture(shop: shop, platform: platform, other: other)
            if placeOrders {
                // Alice's and Bob's orders (placed with their tokens), and one the platform placed.
                for id in ["ord_alice", "ord_bob", "ord_platform"] {
                    let placed = try await ControlAPITests().post(
                        shop,
                        "/testing/orders",
                        #"{"id":"\#(id)","items":[{"sku":"mug","title":"Mug","price":1500,"quantity":1}]}"#
                    )
                    #expect(placed.status == 201, "\(placed.bodyExcerpt())")
                }
                let customers = CustomerOrders(database: shop.database)
                try await customers.record(orderID: "ord_alice", customerID: "cus_alice")
                try await customers.record(orderID: "ord_bob", customerID: "cus_bob")
                try await shop.webhooks.platformOrders.record(orderID: "ord_platform", platform: platform.url())
            }
            return fixture
        }

        func stop() async {
            await shop.stop()
            await platform.stop()
            await other.stop()
        }

        /// A request to the shop naming `platform`'s profile (`UCP-Agent`), with `authorization` values, signed by
        /// `signer` when given.
        func send(
            _ method: String,
            _ path: String,
            body: String = "",
            authorization: [String] = [],
            signer: PlatformProfileServer? = nil,
            idempotencyKey: String? = nil
        ) async throws -> ReceivedResponse {
            var request = OutgoingRequest(
                method: method,
                url: "\(base)\(path)",
                headers: HTTPFieldList([("UCP-Agent", "profile=\"\((signer ?? platform).url())\"")]),
                body: Array(body.utf8)
            )
            if !body.isEmpty { request.headers.append("Content-Type", "application/json") }
            if let idempotencyKey { request.headers.append("Idempotency-Key", idempotencyKey) }
            for value in authorization { request.headers.append("Authorization", value) }
            if let signer { try signer.sign(&request) }
            return try await shop.client.send(request)
        }

        func get(_ path: String, token: String? = nil, signer: PlatformProfileServer? = nil) async throws
            -> ReceivedResponse
        {
            try await send("GET", path, authorization: token.map { ["Bearer \($0)"] } ?? [], signer: signer)
        }

        /// The snapshot through the control API's back door.
        func snapshot(_ id: String) async throws -> ReceivedResponse {
            try await ControlAPITests().send(shop, "GET", "/testing/orders/\(id)")
        }

        /// An access token as the token endpoint would issue it: signed with the shop's key (or `key`), its `jti`
        /// and grant stored (unless `store` is false). `change` edits the claims before signing.
        func token(
            customer: String = "cus_alice",
            client: String = "sample-platform",
            scopes: [String] = [IdentityScope.orderRead],
            key: SigningKey? = nil,
            store: Bool = true,
            change: (inout AccessTokenClaims) -> Void = { _ in }
        ) async throws -> (token: String, jti: String, grant: String) {
            let now = Int64(Date().timeIntervalSince1970)
            let jti = UUID().uuidString
            let grant = UUID().uuidString
            var claims = AccessTokenClaims(
                issuer: base,
                audience: base,
                subject: customer,
                clientID: client,
                scopes: scopes,
                issuedAt: now,
                expiresAt: now + 300,
                authTime: now,
                jti: jti,
                grantID: grant
            )
            change(&claims)
            let expiresAt = claims.expiresAt
            let signingKey: SigningKey
            if let key {
                signingKey = key
            } else {
                signingKey = try await OAuthStore(database: shop.database).signingKey()
            }
            let token = try TokenSigner(key: signingKey).sign(claims)
            if store {
                let stamp = now * 1000
                try await shop.database.queue.write { db in
                    try db.execute(
                        sql: """
                            INSERT INTO oauth_grant (id, client_id, customer_id, scope, auth_time, created_at)
                            VALUES (?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [grant, client, customer, scopes.joined(separator: " "), stamp, stamp]
                    )
                    try db.execute(
                        sql: "INSERT INTO oauth_access_token (jti, grant_id, expires_at) VALUES (?, ?, ?)",
                        arguments: [jti, grant, expiresAt * 1000]
                    )
                }
            }
            return (token, jti, grant)
        }
    }

    static func object(_ response: ReceivedResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    /// The first message's code, severity and the `ucp.status` of an error body.
    static func message(_ response: ReceivedResponse) throws -> (code: String?, severity: String?, status: String?) {
        let object = try object(response)
        let first = (object["messages"] as? [[String: Any]])?.first
        return (
            first?["code"] as? String, first?["severity"] as? String,
            (object["ucp"] as? [String: Any])?["status"] as? String
        )
    }

    /// Validates error bodies with the SDK (strict) and the `main` schemas.
    static func validateErrors(_ responses: [ReceivedResponse]) async throws {
        let output = try await UCPVersionTests.validate(kind: "error", documents: responses.map(\.body))
        if let output { #expect(!output.contains("invalid"), "\(output)") }
    }

    @Test func withoutATokenAnUnsignedReadIsChallengedWithoutAnErrorParameter() async throws {
        let fixture = try await Fixture.start()
        let response = try await fixture.get("/orders/ord_alice")
        let unknown = try await fixture.get("/orders/ord_nope")
        await fixture.stop()
        for answer in [response, unknown] {
            #expect(answer.status == 401)
            #expect(
                answer.headers["www-authenticate"]
                    == #"Bearer realm="\#(fixture.base)", \#(fixture.challengeTail)"#
            )
            let message = try Self.message(answer)
            #expect(message.code == "identity_required" && message.severity == "requires_buyer_review")
            #expect(message.status == "error")
            #expect(answer.headers["signature"] != nil, "the challenge is signed like every gateway answer")
        }
        try await Self.validateErrors([response])
    }

    @Test func everyBadTokenIs401InvalidTokenAndNeverServedAnonymously() async throws {
        let fixture = try await Fixture.start()
        let otherShopKey = try SigningKey.generate(.es256, kid: "someone-else")
        let ownKeyID = try await OAuthStore(database: fixture.shop.database).signingKey().kid
        let valid = try await fixture.token()
        var tampered = valid.token.split(separator: ".").map(String.init)
        var payload = Array(tampered[1].utf8)
        payload[4] = payload[4] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        tampered[1] = String(decoding: payload, as: UTF8.self)
        let revokedToken = try await fixture.token()
        try await fixture.shop.database.queue.write { db in
            try db.execute(
                sql: "UPDATE oauth_access_token SET revoked_at = 1 WHERE jti = ?",
                arguments: [revokedToken.jti]
            )
        }
        let revokedGrant = try await fixture.token()
        try await fixture.shop.database.queue.write { db in
            try db.execute(sql: "UPDATE oauth_grant SET revoked_at = 1 WHERE id = ?", arguments: [revokedGrant.grant])
        }
        let cases: [(String, [String])] = [
            (
                "expired",
                [
                    "Bearer "
                        + (try await fixture.token {
                            $0.expiresAt = $0.issuedAt - 1; $0.issuedAt -= 600
                        }).token
                ]
            ),
            ("tampered", ["Bearer " + tampered.joined(separator: ".")]),
            (
                "another shop's key",
                [
                    "Bearer "
                        + (try await fixture.token(
                            key: try SigningKey(pem: Array(try otherShopKey.privateKeyPEM().utf8), kid: ownKeyID)
                        )).token
                ]
            ),
            ("unknown key", ["Bearer " + (try await fixture.token(key: otherShopKey)).token]),
            ("wrong issuer", ["Bearer " + (try await fixture.token { $0.issuer = "https://other.example" }).token]),
            ("wrong audience", ["Bearer " + (try await fixture.token { $0.audience = "https://other.example" }).token]),
            ("issued in the future", ["Bearer " + (try await fixture.token { $0.issuedAt += 120 }).token]),
            ("unknown client", ["Bearer " + (try await fixture.token(client: "nobody")).token]),
            ("unknown customer", ["Bearer " + (try await fixture.token(customer: "cus_nobody")).token]),
            ("never issued", ["Bearer " + (try await fixture.token(store: false)).token]),
            ("revoked token", ["Bearer " + revokedToken.token]),
            ("revoked grant", ["Bearer " + revokedGrant.token]),
            ("not Bearer", ["Basic c2FtcGxlLXBsYXRmb3JtOnNlY3JldA=="]),
            ("malformed", ["Bearer a b"]),
            ("two values", ["Bearer " + valid.token, "Bearer " + valid.token]),
        ]
        var answers: [ReceivedResponse] = []
        for (name, authorization) in cases {
            // Signed by the platform that placed the order: a bad token still never falls back to it.
            let answer = try await fixture.send(
                "GET",
                "/orders/ord_platform",
                authorization: authorization,
                signer: fixture.platform
            )
            answers.append(answer)
            #expect(answer.status == 401, "\(name): \(answer.status) \(answer.bodyExcerpt())")
            let challenge = answer.headers["www-authenticate"] ?? ""
            #expect(
                challenge.hasPrefix(#"Bearer realm="\#(fixture.base)", error="invalid_token", error_description=""#),
                "\(name): \(challenge)"
            )
            #expect(challenge.hasSuffix(", " + fixture.challengeTail), "\(name): \(challenge)")
            #expect(try Self.message(answer).code == "identity_required", "\(name)")
        }
        let good = try await fixture.get("/orders/ord_alice", token: valid.token)
        await fixture.stop()
        #expect(good.status == 200, "the valid token of the same run reads: \(good.bodyExcerpt())")
        try await Self.validateErrors(answers)
    }

    @Test func aTokenWithoutOrderReadIs403WithTheFullScope() async throws {
        let fixture = try await Fixture.start()
        let manage = try await fixture.token(scopes: [IdentityScope.orderManage])
        let response = try await fixture.get("/orders/ord_alice", token: manage.token)
        await fixture.stop()
        #expect(response.status == 403)
        #expect(
            response.headers["www-authenticate"]
                == #"Bearer realm="\#(fixture.base)", error="insufficient_scope", scope="dev.ucp.shopping.order:read", \#(fixture.challengeTail)"#
        )
        let message = try Self.message(response)
        #expect(message.code == "insufficient_scope" && message.severity == "requires_buyer_review")
        try await Self.validateErrors([response])
    }

    @Test func aBuyerTokenReadsItsCustomersOrdersOnly() async throws {
        let fixture = try await Fixture.start()
        let alice = try await fixture.token(scopes: [IdentityScope.orderRead, IdentityScope.orderManage])
        let own = try await fixture.get("/orders/ord_alice", token: alice.token)
        let snapshot = try await fixture.snapshot("ord_alice")
        let bobs = try await fixture.get("/orders/ord_bob", token: alice.token)
        let platforms = try await fixture.get("/orders/ord_platform", token: alice.token)
        let unknown = try await fixture.get("/orders/ord_nope", token: alice.token)

        // A checkout the platform completes with Alice's email (no token): her token reads that order too.
        let created = try await fixture.send(
            "POST",
            "/checkout-sessions",
            body: CheckoutAPITests.body(email: "Alice@Example.com", fulfillment: CheckoutAPITests.shipping()),
            signer: fixture.platform
        )
        let session = try #require(try Self.object(created)["id"] as? String)
        let completed = try await fixture.send(
            "POST",
            "/checkout-sessions/\(session)/complete",
            body: CheckoutAPITests.pay("tok_success"),
            signer: fixture.platform
        )
        let orderID = try #require((try Self.object(completed)["order"] as? [String: Any])?["id"] as? String)
        let byEmail = try await fixture.get("/orders/\(orderID)", token: alice.token)
        let bob = try await fixture.token(customer: "cus_bob")
        let notBobs = try await fixture.get("/orders/\(orderID)", token: bob.token)
        // An order recorded as placed with a token is that customer's alone, whatever email its checkout gave.
        try await CustomerOrders(database: fixture.shop.database).record(orderID: orderID, customerID: "cus_bob")
        let nowBobs = try await fixture.get("/orders/\(orderID)", token: bob.token)
        let noLongerAlices = try await fixture.get("/orders/\(orderID)", token: alice.token)
        await fixture.stop()

        #expect(
            try nowBobs.status == 200 && Self.object(nowBobs)["id"] as? String == orderID
        )
        #expect(try Self.message(noLongerAlices).code == "not_found", "the email does not override the record")

        #expect(own.status == 200 && snapshot.status == 200)
        #expect(own.body == snapshot.body, "the order is its stored snapshot")
        #expect(own.headers["signature"] != nil)
        for answer in [bobs, platforms, unknown, notBobs] {
            #expect(answer.status == 200)
            let message = try Self.message(answer)
            #expect(message.code == "not_found" && message.severity == "unrecoverable" && message.status == "error")
        }
        #expect(bobs.body == unknown.body, "another customer's order looks like no order")
        #expect(try byEmail.status == 200 && Self.object(byEmail)["id"] as? String == orderID)
        try await Self.validateErrors([bobs])
    }

    @Test func thePlatformThatPlacedAnOrderReadsItWithASignedRequest() async throws {
        let fixture = try await Fixture.start()
        let own = try await fixture.get("/orders/ord_platform", signer: fixture.platform)
        let snapshot = try await fixture.snapshot("ord_platform")
        let notPlaced = try await fixture.get("/orders/ord_alice", signer: fixture.platform)
        let unknown = try await fixture.get("/orders/ord_nope", signer: fixture.platform)
        let stranger = try await fixture.get("/orders/ord_platform", signer: fixture.other)
        let unsigned = try await fixture.get("/orders/ord_platform")
        // A buyer token on the platform's own signed read does not narrow what the platform may read.
        let alice = try await fixture.token()
        let withToken = try await fixture.get("/orders/ord_platform", token: alice.token, signer: fixture.platform)
        await fixture.stop()

        #expect(own.status == 200 && own.body == snapshot.body)
        #expect(withToken.status == 200 && withToken.body == snapshot.body)
        for answer in [notPlaced, unknown, stranger] {
            #expect(answer.status == 200)
            #expect(try Self.message(answer).code == "not_found")
        }
        #expect(unsigned.status == 401, "the UCP-Agent alone does not speak for the platform")
    }

    /// A guest checkout session is adopted by a buyer token only on the platform that created it: another
    /// platform's token does not take it over (and lock its creator out).
    @Test func anotherPlatformsTokenDoesNotTakeOverAGuestSession() async throws {
        let fixture = try await Fixture.start(placeOrders: false)
        let created = try await fixture.send(
            "POST",
            "/checkout-sessions",
            body: CheckoutAPITests.body(email: "guest@example.com", fulfillment: CheckoutAPITests.shipping()),
            signer: fixture.platform
        )
        let session = try #require(try Self.object(created)["id"] as? String)
        let alice = try await fixture.token()
        let update = CheckoutAPITests.body(email: "guest@example.com", fulfillment: CheckoutAPITests.shipping())
        let foreign = try await fixture.send(
            "PUT",
            "/checkout-sessions/\(session)",
            body: update,
            authorization: ["Bearer \(alice.token)"],
            signer: fixture.other
        )
        let creatorAfter = try await fixture.send("GET", "/checkout-sessions/\(session)", signer: fixture.platform)
        let adopted = try await fixture.send(
            "PUT",
            "/checkout-sessions/\(session)",
            body: update,
            authorization: ["Bearer \(alice.token)"],
            signer: fixture.platform
        )
        let guestAfter = try await fixture.send("GET", "/checkout-sessions/\(session)", signer: fixture.platform)
        await fixture.stop()

        #expect(
            try foreign.status == 200 && Self.object(foreign)["id"] as? String == session,
            "\(foreign.status) \(foreign.bodyExcerpt())"
        )
        #expect(
            try creatorAfter.status == 200 && Self.object(creatorAfter)["id"] as? String == session,
            "still a guest session: its creator reads it without a token"
        )
        #expect(
            try adopted.status == 200 && Self.object(adopted)["id"] as? String == session
        )
        #expect(try Self.message(guestAfter).code == "not_found", "the creator's own buyer token adopted it")
    }

    /// A client bound to a platform's profile: its tokens work only in requests that platform signed.
    @Test func aBoundClientsTokenNeedsItsPlatformsSignature() async throws {
        let fixture = try await Fixture.start(bound: true)
        let alice = try await fixture.token(client: "bound-platform")
        let signed = try await fixture.get("/orders/ord_alice", token: alice.token, signer: fixture.platform)
        let unsigned = try await fixture.get("/orders/ord_alice", token: alice.token)
        let otherPlatform = try await fixture.get("/orders/ord_alice", token: alice.token, signer: fixture.other)
        // Signed by the platform, but not over Authorization: the token could have been swapped in.
        var uncovered = OutgoingRequest(
            method: "GET",
            url: "\(fixture.base)/orders/ord_alice",
            headers: HTTPFieldList([
                ("UCP-Agent", "profile=\"\(fixture.platform.url())\""), ("Authorization", "Bearer \(alice.token)"),
            ])
        )
        try fixture.platform.sign(&uncovered, components: ["@method", "@authority", "@path", "ucp-agent"])
        let notCovered = try await fixture.shop.client.send(uncovered)
        let unbound = try await fixture.token(client: "sample-platform")
        let unboundUnsigned = try await fixture.get("/orders/ord_alice", token: unbound.token)
        await fixture.stop()

        #expect(try signed.status == 200 && Self.object(signed)["id"] as? String == "ord_alice")
        for refused in [unsigned, otherPlatform, notCovered] {
            #expect(refused.status == 401)
            let challenge = refused.headers["www-authenticate"] ?? ""
            #expect(challenge.contains(#"error="invalid_token""#), "\(challenge)")
            #expect(challenge.contains("covering Authorization"), "\(challenge)")
        }
        #expect(IdentityGuard.bindingProblem(bound: "p", platform: "p", signature: nil) != nil)
        let stale = SignatureParameters(
            components: ["authorization"],
            created: Int64(Date().timeIntervalSince1970) - IdentityGuard.boundSignatureMaxAge - 5,
            keyID: "k"
        )
        #expect(
            IdentityGuard.bindingProblem(bound: "p", platform: "p", signature: stale)?.description.contains("too old")
                == true
        )
        var fresh = stale
        fresh.created = Int64(Date().timeIntervalSince1970)
        #expect(IdentityGuard.bindingProblem(bound: "p", platform: "p", signature: fresh) == nil)
        #expect(unboundUnsigned.status == 200, "a client bound to no platform is not held to one")
    }

    @Test func withoutIdentityLinkingOnlyThePlacingPlatformReads() async throws {
        let fixture = try await Fixture.start(identity: nil)
        let unsigned = try await fixture.get("/orders/ord_platform")
        let withToken = try await fixture.get("/orders/ord_alice", token: "whatever")
        let signed = try await fixture.get("/orders/ord_platform", signer: fixture.platform)
        let stranger = try await fixture.get("/orders/ord_platform", signer: fixture.other)
        let noAgent = try await fixture.shop.client.send(
            OutgoingRequest(method: "GET", url: "\(fixture.base)/orders/ord_platform")
        )
        await fixture.stop()

        for answer in [unsigned, withToken] {
            #expect(answer.status == 200 && answer.headers["www-authenticate"] == nil)
            let message = try Self.message(answer)
            #expect(message.code == "unauthorized" && message.status == "error")
        }
        #expect(try signed.status == 200 && Self.object(signed)["id"] as? String == "ord_platform")
        #expect(try Self.message(stranger).code == "not_found")
        #expect(noAgent.status == 400, "UCP-Agent is required, as on every non-catalog operation")
        try await Self.validateErrors([unsigned])
    }

    @Test func aBadTokenOnCheckoutIs401AndAGoodOneIsServed() async throws {
        let fixture = try await Fixture.start(placeOrders: false)
        let body = CheckoutAPITests.body()
        let expired = try await fixture.token { $0.expiresAt = $0.issuedAt - 1 }
        let bad = try await fixture.send(
            "POST",
            "/checkout-sessions",
            body: body,
            authorization: ["Bearer \(expired.token)"]
        )
        let anonymous = try await fixture.send("POST", "/checkout-sessions", body: body)
        let good = try await fixture.token(scopes: [IdentityScope.orderManage])
        let linked = try await fixture.send(
            "POST",
            "/checkout-sessions",
            body: body,
            authorization: ["Bearer \(good.token)"]
        )
        await fixture.stop()

        #expect(bad.status == 401)
        #expect(bad.headers["www-authenticate"]?.contains(#"error="invalid_token""#) == true)
        #expect(try Self.message(bad).code == "identity_required")
        #expect(anonymous.status == 201 && linked.status == 201, "without --require-identity no token is needed")
    }

    @Test func requireIdentityGatesCheckoutOnCheckoutManage() async throws {
        let fixture = try await Fixture.start(identity: IdentitySetup(requireIdentity: true), placeOrders: false)
        let body = CheckoutAPITests.body()
        let anonymous = try await fixture.send("POST", "/checkout-sessions", body: body)
        let orderOnly = try await fixture.token(scopes: [IdentityScope.orderRead])
        let narrow = try await fixture.send(
            "POST",
            "/checkout-sessions",
            body: body,
            authorization: ["Bearer \(orderOnly.token)"]
        )
        let alice = try await fixture.token(scopes: [IdentityScope.checkoutManage])
        let bob = try await fixture.token(customer: "cus_bob", scopes: [IdentityScope.checkoutManage])
        let first = try await fixture.send(
            "POST",
            "/checkout-sessions",
            body: body,
            authorization: ["Bearer \(alice.token)"],
            idempotencyKey: "key-1"
        )
        let replay = try await fixture.send(
            "POST",
            "/checkout-sessions",
            body: body,
            authorization: ["Bearer \(alice.token)"],
            idempotencyKey: "key-1"
        )
        let bobsSameKey = try await fixture.send(
            "POST",
            "/checkout-sessions",
            body: body,
            authorization: ["Bearer \(bob.token)"],
            idempotencyKey: "key-1"
        )
        await fixture.stop()

        #expect(anonymous.status == 401)
        #expect(anonymous.headers["www-authenticate"] == #"Bearer realm="\#(fixture.base)", \#(fixture.challengeTail)"#)
        #expect(try Self.message(anonymous).code == "identity_required")
        #expect(narrow.status == 403)
        #expect(
            narrow.headers["www-authenticate"]
                == #"Bearer realm="\#(fixture.base)", error="insufficient_scope", scope="dev.ucp.shopping.checkout:manage", \#(fixture.challengeTail)"#
        )
        #expect(first.status == 201 && replay.body == first.body)
        #expect(bobsSameKey.status == 201)
        let bobsID = try Self.object(bobsSameKey)["id"] as? String
        let alicesID = try Self.object(first)["id"] as? String
        #expect(bobsID != nil && bobsID != alicesID, "one customer's key never replays another customer's session")
        try await Self.validateErrors([anonymous, narrow])
    }

    @Test func theControlAPIServesAnySnapshotBehindTheSecret() async throws {
        let fixture = try await Fixture.start()
        let snapshot = try await fixture.snapshot("ord_alice")
        let noSecret = try await ControlAPITests().send(fixture.shop, "GET", "/testing/orders/ord_alice", secret: nil)
        let unknown = try await fixture.snapshot("ord_nope")
        await fixture.stop()
        #expect(try snapshot.status == 200 && Self.object(snapshot)["id"] as? String == "ord_alice")
        #expect(noSecret.status == 403)
        #expect(try unknown.status == 404 && Self.object(unknown)["code"] as? String == "not_found")
    }

    @Test func challengeValuesAreQuotedStrings() {
        #expect(IdentityGuard.quoted(#"a "b" \c"#) == #""a \"b\" \\c""#)
        #expect(IdentityGuard.bearerToken("Bearer abc.DEF-_~+/==") == "abc.DEF-_~+/==")
        #expect(IdentityGuard.bearerToken("bearer  abc") == "abc")
        #expect(IdentityGuard.bearerToken("Bearer a=b") == nil)
        #expect(IdentityGuard.bearerToken("Bearer") == nil)
        #expect(IdentityGuard.bearerToken("Basic abc") == nil)
    }
}
