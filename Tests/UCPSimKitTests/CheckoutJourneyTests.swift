import Foundation
import Testing

@testable import UCPSimKit

/// The shop as an agent meets it: the real `ucpsim serve` on a temporary state directory, and an independent platform
/// (`Tests/tools/ucp_platform.py`: its own signed profile and webhook receiver, signed negotiated requests, every answer
/// validated with the official SDK in strict mode and the 2026-08-25 schemas) shopping at it over loopback. One test at
/// a time: each runs a shop and a Python process, and the machine has two cores.
@Suite(.serialized) struct CheckoutJourneyTests {
    /// What one run of the platform printed (its one JSON line) and how it exited.
    struct PlatformRun {
        let status: Int32
        let result: [String: Any]
        let stderr: String

        var failures: String { stderr.isEmpty ? "\(result["failures"] ?? "")" : stderr }
        var steps: [[String: Any]] { result["steps"] as? [[String: Any]] ?? [] }
        func step(_ name: String) -> [String: Any]? { steps.first { $0["step"] as? String == name } }
        var cases: [String: String] { result["cases"] as? [String: String] ?? [:] }
    }

    /// The schema set the platform validates against, or `--no-schemas` where the set is absent (CI requires it).
    static var schemaArguments: [String] {
        let main = TestSupport.repoRoot.deletingLastPathComponent().appendingPathComponent("shared/ucp-schemas/main")
        if FileManager.default.fileExists(atPath: main.appendingPathComponent("schemas/shopping/checkout.json").path)
            || ProcessInfo.processInfo.environment["UCPSIM_REQUIRE_SCHEMAS"] == "1"
        {
            return ["--schemas", main.path]
        }
        return ["--no-schemas"]
    }

    /// Runs `ucp_platform.py --shop SHOP ARGUMENTS` and parses its JSON line.
    static func platform(shop: String, _ arguments: [String]) async throws -> PlatformRun {
        let run = try await TestSupport.run(
            TestSupport.python,
            [TestSupport.path("Tests/tools/ucp_platform.py"), "--shop", shop, "--timeout", "60"] + schemaArguments
                + arguments
        )
        let line = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let parsed = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        let result = try #require(parsed, "ucp_platform.py printed no JSON line: \(run.stdout) \(run.stderr)")
        return PlatformRun(status: run.status, result: result, stderr: run.stderr)
    }

    /// Starts `ucpsim serve` on a fresh state directory, runs `body` against its base URL, and stops it.
    static func withShop<T>(
        _ arguments: [String] = [],
        _ body: (String) async throws -> T
    ) async throws -> T {
        let state = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let serve = try ServeProcess.start(["--state", state] + arguments)
        let base: String
        do {
            base = try await serve.baseURL()
        } catch {
            _ = await serve.interrupt(SIGTERM)
            throw error
        }
        do {
            let value = try await body(base)
            _ = await serve.interrupt(SIGTERM)
            return value
        } catch {
            let exit = await serve.interrupt(SIGTERM)
            Issue.record("serve's stderr: \(exit.stderr)")
            throw error
        }
    }

    /// `serve --fixed-time`: the shop's clock stands still, so a checkout's `expires_at` is that instant plus six
    /// hours, and two fresh shops answer the same requests with the same bytes.
    @Test func aFixedTimeMakesAnswersRepeatable() async throws {
        let arguments = ["--fixed-time", "2026-11-29T04:00:00Z", "--public-url", "https://shop.example.com"]
        let agent = try await TestPlatform.agent()
        func answers() async throws -> [[UInt8]] {
            try await Self.withShop(arguments) { base in
                let client = HTTPClient(workers: 1)
                defer { Task { await client.shutdown() } }
                var bodies: [[UInt8]] = []
                for (method, path, body) in [
                    ("POST", "/checkout-sessions", #"{"line_items":[{"item":{"id":"var_tee_m"},"quantity":1}]}"#),
                    ("GET", "/checkout-sessions/chk_00001", ""),
                ] {
                    let response = try await client.send(
                        OutgoingRequest(
                            method: method,
                            url: base + path,
                            headers: HTTPFieldList([("Content-Type", "application/json"), ("UCP-Agent", agent)]),
                            body: Array(body.utf8)
                        )
                    )
                    bodies.append(response.body)
                }
                return bodies
            }
        }
        let first = try await answers()
        let second = try await answers()
        #expect(first == second)
        let created = try UCPVersionTests.object(try #require(first.first))
        #expect(created["expires_at"] as? String == "2026-11-29T10:00:00Z", "\(created)")
    }

    /// Catalog search and lookup, a cart, a checkout from it, updates (buyer, address, shipping option, WELCOME10),
    /// complete with `tok_success`: the platform receives the order's `order.created` webhook, signed by the shop's
    /// key; the control API then ships and delivers the order and the platform receives both, verified.
    @Test func journeyFromACartPlacesAnOrderAndItsWebhooksReachThePlatform() async throws {
        let run = try await Self.withShop { shop in
            try await Self.platform(shop: shop, ["journey", "--from", "cart", "--drive", "ship,deliver"])
        }
        #expect(run.status == 0, "\(run.failures)")
        #expect(run.result["ok"] as? Bool == true)
        let order = try #require(run.result["order_id"] as? String, "no order placed: \(run.failures)")
        #expect(!order.isEmpty)
        #expect(run.step("create")?["checkout_status"] as? String == "incomplete")
        #expect(run.step("update-option")?["checkout_status"] as? String == "ready_for_complete")
        #expect(run.step("complete")?["checkout_status"] as? String == "completed")
        for (step, event) in [("order.created", nil), ("drive-ship", "shipped"), ("drive-deliver", "delivered")] {
            let received = try #require(run.step(step), "no verified \(step) webhook: \(run.failures)")
            #expect(received["order"] as? String == order)
            #expect(received["event"] as? String == event)
            #expect(received["kid"] as? String != nil, "\(step) was not verified with a key of the shop's profile")
        }
        let webhooks = run.result["webhooks"] as? [[String: Any]] ?? []
        #expect(webhooks.count >= 3)
        #expect(webhooks.allSatisfy { $0["verified"] as? Bool == true }, "\(webhooks)")
    }

    /// The same journey with a checkout created from line items (no cart).
    @Test func journeyFromLineItemsPlacesAnOrder() async throws {
        let run = try await Self.withShop { shop in
            try await Self.platform(shop: shop, ["journey", "--from", "items"])
        }
        #expect(run.status == 0, "\(run.failures)")
        #expect(run.result["order_id"] as? String != nil)
        #expect(run.step("order.created")?["kid"] as? String != nil)
    }

    /// Each refusal the spec asks for, on one shop: a reused `Idempotency-Key` with another body (409), a second
    /// complete, an update after cancel, an out-of-stock item (`var_mug_black`), an unknown discount code,
    /// `tok_decline` (`payment_failed`), a handler the shop does not advertise, a platform profile of an unsupported
    /// version (422 `version_unsupported`) and one that cannot be fetched (424 `profile_unreachable`).
    @Test func negativePathsAreRefusedAsTheSpecSays() async throws {
        let names = [
            "idempotency-conflict", "second-complete", "update-after-cancel", "out-of-stock", "unknown-discount",
            "declined-token", "unadvertised-handler", "version-unsupported", "profile-unreachable",
        ]
        let run = try await Self.withShop { shop in
            try await Self.platform(shop: shop, ["negative"] + names)
        }
        #expect(run.status == 0, "\(run.failures)")
        for name in names {
            #expect(run.cases[name] == "ok", "\(name): \(run.cases[name] ?? "not run: \(run.failures)")")
        }
    }

    /// A shop that requires signed requests answers 401 to a request whose signature does not match it
    /// (`signature_invalid`) and to an unsigned one (`signature_missing`), and serves signed ones.
    @Test func aShopRequiringSignaturesRefusesABadOne() async throws {
        let (refused, journey) = try await Self.withShop(["--require-signed-requests"]) { shop in
            (
                try await Self.platform(shop: shop, ["negative", "bad-signature"]),
                try await Self.platform(shop: shop, ["journey", "--from", "items"])
            )
        }
        #expect(refused.status == 0, "\(refused.failures)")
        #expect(refused.cases["bad-signature"] == "ok", "\(refused.cases)")
        #expect(refused.step("tampered-signature")?["status"] as? Int == 401)
        #expect(refused.step("unsigned")?["status"] as? Int == 401)
        #expect(journey.status == 0, "signed requests refused: \(journey.failures)")
    }

    /// With no shop to talk to, the platform fails with one readable reason, not a trace.
    @Test func thePlatformSaysWhyItFails() async throws {
        let run = try await Self.platform(shop: "http://127.0.0.1:9", ["journey"])
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("ucp_platform: FAIL "), "\(run.stderr)")
        #expect(!run.stderr.contains("Traceback"))
    }
}
