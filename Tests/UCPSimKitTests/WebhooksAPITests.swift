import Foundation
import Testing
@testable import UCPSimKit

/// `/v1/webhooks` over real HTTP on a real in-process shop: every route, the token, validation, secrets shown once.
@Suite struct WebhooksAPITests {
    static let token = "test-token-\(UUID().uuidString)"

    func startShop(stateDirectory: String? = nil) async throws -> Shop {
        try await Shop.start(
            keys: try KeyRing.ephemeral(),
            delivery: DeliverySetup(stateDirectory: stateDirectory),
            apiToken: BearerToken(Self.token),
            logger: TestSupport.quietLogger
        )
    }

    func call(
        _ shop: Shop,
        _ method: String,
        _ path: String,
        _ body: String? = nil,
        authorization: String? = "Bearer \(token)"
    ) async throws -> ReceivedResponse {
        var headers = HTTPFieldList([("Content-Type", "application/json")])
        if let authorization { headers.append("Authorization", authorization) }
        return try await shop.client.send(
            OutgoingRequest(
                method: method,
                url: "\(shop.server.baseURL)\(path)",
                headers: headers,
                body: Array((body ?? "").utf8)
            )
        )
    }

    func object(_ response: ReceivedResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func everyRouteCreatesListsShowsUpdatesAndRemoves() async throws {
        let shop = try await startShop()
        let created = try await call(
            shop,
            "POST",
            "/v1/webhooks",
            #"{"url":"https://platform.example/hooks","event_types":["order.created","order.updated"],"#
                + #""dialect":"ucp-hmac","description":"orders"}"#
        )
        #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
        let body = try object(created)
        #expect(
            Set(body.keys)
                == [
                    "id", "url", "event_types", "dialect", "description", "enabled", "disabled_reason", "created_at",
                    "updated_at", "secret_key",
                ]
        )
        let id = try #require(body["id"] as? String)
        let secret = try #require(body["secret_key"] as? String)
        #expect(id.hasPrefix("sub_"))
        #expect(secret.hasPrefix("whsec_") && Data(base64Encoded: String(secret.dropFirst(6)))?.count == 32)
        #expect(body["event_types"] as? [String] == ["order.created", "order.updated"])
        #expect(body["dialect"] as? String == "ucp-hmac" && body["enabled"] as? Bool == true)
        #expect(shop.subscriptions.credentials(for: SubscriptionID(id))?.secrets == [WebhookSecret(secret)])

        // The secret is in the creating answer only.
        let listed = try await call(shop, "GET", "/v1/webhooks")
        let shown = try await call(shop, "GET", "/v1/webhooks/\(id)")
        #expect(listed.status == 200 && shown.status == 200)
        for answer in [listed, shown] {
            let text = String(decoding: answer.body, as: UTF8.self)
            #expect(!text.contains(secret) && !text.contains("secret_key"), "\(text)")
        }
        let list = try #require(try object(listed)["data"] as? [[String: Any]])
        #expect(list.map { $0["id"] as? String } == [id])
        #expect(try object(shown)["url"] as? String == "https://platform.example/hooks")

        let patched = try await call(
            shop,
            "PATCH",
            "/v1/webhooks/\(id)",
            #"{"url":"http://127.0.0.1:9/hooks","event_types":["*"],"description":null,"enabled":false}"#
        )
        #expect(patched.status == 200, "\(String(decoding: patched.body, as: UTF8.self))")
        let after = try object(patched)
        #expect(after["url"] as? String == "http://127.0.0.1:9/hooks")
        #expect(after["event_types"] as? [String] == EventType.names)
        #expect(after["description"] is NSNull && after["enabled"] as? Bool == false && after["secret_key"] == nil)
        #expect(shop.subscriptions.matching(.orderCreated).isEmpty)

        let rotated = try await call(shop, "PATCH", "/v1/webhooks/\(id)", #"{"rotate_secret":true,"enabled":true}"#)
        let newSecret = try #require(try object(rotated)["secret_key"] as? String)
        #expect(newSecret != secret && newSecret.hasPrefix("whsec_"))
        #expect(
            shop.subscriptions.credentials(for: SubscriptionID(id))?.secrets
                == [WebhookSecret(newSecret), WebhookSecret(secret)]
        )
        let given = "given-secret-with-more-than-24-bytes"
        let set = try await call(shop, "PATCH", "/v1/webhooks/\(id)", #"{"secret_key":"\#(given)"}"#)
        #expect(try object(set)["secret_key"] as? String == given)
        #expect(
            !String(decoding: try await call(shop, "GET", "/v1/webhooks/\(id)").body, as: UTF8.self).contains(given)
        )

        let removed = try await call(shop, "DELETE", "/v1/webhooks/\(id)")
        #expect(removed.status == 204 && removed.body.isEmpty)
        for (method, body) in [("GET", nil), ("PATCH", "{}"), ("DELETE", nil)] {
            let gone = try await call(shop, method, "/v1/webhooks/\(id)", body)
            #expect(gone.status == 404, "\(method)")
            #expect(try object(gone)["code"] as? String == "not_found")
            #expect(try object(gone)["content"] as? String == "no subscription \(id)")
        }
        #expect(try object(try await call(shop, "GET", "/v1/webhooks"))["data"] as? [Any] != nil)
        await shop.stop()
    }

    @Test func withoutTheRightTokenEveryV1RouteAnswers401() async throws {
        let shop = try await startShop()
        let existing = try await shop.subscriptions.add(
            NewSubscription(url: "https://a.example/h", eventTypes: [.orderCreated])
        ).subscription
        let routes: [(String, String, String?)] = [
            ("POST", "/v1/webhooks", #"{"url":"https://b.example/h","event_types":["*"]}"#),
            ("GET", "/v1/webhooks", nil),
            ("GET", "/v1/webhooks/\(existing.id)", nil),
            ("PATCH", "/v1/webhooks/\(existing.id)", #"{"enabled":false}"#),
            ("DELETE", "/v1/webhooks/\(existing.id)", nil),
            ("GET", "/v1/nowhere", nil),
        ]
        for authorization in [nil, "Bearer wrong", "Bearer \(Self.token)x", "Basic \(Self.token)", Self.token] {
            for (method, path, body) in routes {
                let answer = try await call(shop, method, path, body, authorization: authorization)
                #expect(answer.status == 401, "\(method) \(path) with \(authorization ?? "none")")
                #expect(answer.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
                #expect(try object(answer)["code"] as? String == "unauthorized")
            }
        }
        // Nothing changed.
        #expect(try await shop.subscriptions.list() == [existing])
        // The scheme is case-insensitive (RFC 9110); the profile stays public.
        #expect(try await call(shop, "GET", "/v1/webhooks", authorization: "bearer \(Self.token)").status == 200)
        #expect(try await call(shop, "GET", "/.well-known/ucp", authorization: nil).status == 200)
        #expect(try await call(shop, "GET", "/v1/nowhere").status == 404)
        await shop.stop()
    }

    @Test(arguments: [
        (
            #"{"url":"http://platform.example/h","event_types":["order.created"]}"#,
            "$.url",
            "url must be https (http only on a loopback host: 127.0.0.0/8, ::1, localhost), got "
                + #""http://platform.example/h""#
        ),
        (
            #"{"url":"https://p.example/h","event_types":[]}"#, "$.event_types",
            "event_types must name at least one event type (order.created, order.updated, "
                + #"fulfillment.status_changed, payment.status_changed, agent.interaction_event, or "*" for all)"#
        ),
        (
            #"{"url":"https://p.example/h","event_types":["order.created","order.teleported"]}"#,
            "$.event_types[1]",
            "event_types[1] must be one of order.created, order.updated, fulfillment.status_changed, "
                + #"payment.status_changed, agent.interaction_event, or "*" for all; got "order.teleported""#
        ),
        (
            #"{"url":"https://p.example/h","event_types":["*"],"dialect":"svix"}"#, "$.dialect",
            #"dialect must be one of ucp, ucp-hmac, standard-webhooks; got "svix""#
        ),
        (
            #"{"url":"https://p.example/h","event_types":["*"],"secret_key":"short"}"#, "$.secret_key",
            "secret_key is unusable for the ucp dialect: it gives 5 key bytes; 24–64 are needed"
        ),
        (
            #"{"url":"https://p.example/h","event_types":["*"],"dialect":"standard-webhooks","#
                + #""secret_key":"whsec_c2hvcnQ="}"#, "$.secret_key",
            "secret_key is unusable for the standard-webhooks dialect: it gives 5 key bytes; 24–64 are needed"
        ),
        (
            #"{"url":"https://p.example/h","event_types":["*"],"secret":"x"}"#, "$.secret",
            "secret is not a known field (known: url, event_types, dialect, description, secret_key, enabled)"
        ),
        (#"{"event_types":["*"]}"#, "$.url", "url is required and must be a string"),
        (
            #"{"url":"https://p.example/h","event_types":"*"}"#, "$.event_types",
            "event_types must be a list of event type names"
        ),
    ])
    func createRefusesBadFieldsNamingThem(body: String, path: String, content: String) async throws {
        let shop = try await startShop()
        let answer = try await call(shop, "POST", "/v1/webhooks", body)
        #expect(answer.status == 400)
        let error = try object(answer)
        #expect(error["code"] as? String == "invalid_request")
        #expect(error["path"] as? String == path)
        #expect(error["content"] as? String == content)
        #expect(try await shop.subscriptions.list().isEmpty)
        await shop.stop()
    }

    @Test func updateRefusesBadFieldsAndOversizedBodies() async throws {
        let shop = try await startShop()
        let id = try await shop.subscriptions.add(
            NewSubscription(url: "https://a.example/h", eventTypes: [.orderCreated], dialect: .standardWebhooks)
        ).subscription.id
        let cases: [(String, String, String)] = [
            (
                #"{"dialect":"ucp"}"#, "$.dialect",
                "dialect cannot be changed; create a new subscription for another dialect"
            ),
            (
                #"{"rotate_secret":true,"secret_key":"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#, "$.secret_key",
                "secret_key cannot be given with rotate_secret: true (choose one)"
            ),
            (
                #"{"secret_key":"not base64!"}"#, "$.secret_key",
                "secret_key is unusable for the standard-webhooks dialect: it is not whsec_"
            ),
            (#"{"url":"http://a.example/h"}"#, "$.url", "url must be https"),
            (#"{"enabled":"yes"}"#, "$.enabled", "enabled must be true or false"),
            (#"{"events":["*"]}"#, "$.events", "events is not a known field"),
        ]
        for (body, path, content) in cases {
            let answer = try await call(shop, "PATCH", "/v1/webhooks/\(id)", body)
            #expect(answer.status == 400, "\(body)")
            #expect(try object(answer)["path"] as? String == path, "\(body)")
            let text = try #require(try object(answer)["content"] as? String)
            #expect(text.hasPrefix(content), "\(text)")
        }
        let notJSON = try await call(shop, "PATCH", "/v1/webhooks/\(id)", "{")
        #expect(notJSON.status == 400)
        #expect(try object(notJSON)["content"] as? String == "the body is not JSON")
        let huge = try await call(
            shop,
            "POST",
            "/v1/webhooks",
            String(repeating: " ", count: WebhooksAPI.bodyLimit + 1)
        )
        #expect(huge.status == 413)
        #expect(try object(huge)["code"] as? String == "body_too_large")
        let wrongMethod = try await call(shop, "PUT", "/v1/webhooks/\(id)", "{}")
        #expect(wrongMethod.status == 405 && wrongMethod.headers["allow"] == "GET, PATCH, DELETE")
        // Unchanged by all of it.
        let kept = try #require(try await shop.subscriptions.get(id))
        #expect(kept.url == "https://a.example/h" && kept.dialect == .standardWebhooks)
        await shop.stop()
    }

    @Test func aShopWithoutATokenServesNoManagementAPI() async throws {
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        #expect(try await call(shop, "GET", "/v1/webhooks").status == 404)
        await shop.stop()
    }
}
