import Foundation
import Testing
@testable import UCPSimKit

@Suite struct SigningTests {
    static let goldenBody = Array(
        #"{"ucp":{"version":"2026-04-08","capabilities":{"dev.ucp.shopping.order":[{"version":"2026-04-08"}]}},"id":"ord_1","checkout_id":"chk_1","permalink_url":"https://shop.example.com/orders/ord_1","currency":"USD","line_items":[{"id":"li_1","item":{"id":"sku_1","title":"Mug","price":1500},"quantity":{"original":1,"total":1,"fulfilled":0},"totals":[{"type":"subtotal","amount":1500},{"type":"total","amount":1500}],"status":"processing"}],"fulfillment":{},"totals":[{"type":"subtotal","amount":1500},{"type":"total","amount":1500}]}"#
            .utf8
    )
    static let goldenEvent = WebhookEvent(
        webhookID: "0f8e2a4c-6b1d-4e3f-9a7b-2c5d8e1f4a60",
        timestamp: 1_775_913_000,
        orderID: "ord_1",
        body: goldenBody
    )

    func sender(pem: String, kid: String) throws -> WebhookSender {
        let key = try SigningKey(pem: Array(pem.utf8), kid: kid)
        return WebhookSender(
            client: HTTPClient(workers: 1),
            signer: MessageSigner(key: key),
            profileURL: "https://shop.example.com/.well-known/ucp"
        )
    }

    /// The delivery engine signs through a per-target plan; it must give the general path's headers and base.
    @Test(arguments: [
        "https://platform.example.com/webhooks/ucp/orders",
        "http://127.0.0.1:8089/hooks?tenant=a%20b&x=1",
        "https://[::1]:9443/",
    ])
    func planSignsExactlyAsTheGeneralPath(_ url: String) throws {
        let sender = try sender(pem: TestSupport.p256PEM, kid: "shop-es256-2026")
        let target = try RequestTarget(url)
        let plan = try sender.plan(for: target)
        let events = [
            Self.goldenEvent,
            WebhookEvent(timestamp: 1, orderID: "o", body: []),
            // Not token-like: the plan steps aside and the general path signs (trimming as RFC 9421 says).
            WebhookEvent(webhookID: " padded id ", timestamp: -5, orderID: "o", body: Array("{}".utf8)),
        ]
        let jwks = [try sender.signer.key.publicJWK()]
        for (event, created) in zip(events, [Int64(1_775_913_000), 0, 42]) {
            let fast = try sender.signedRequest(for: event, to: target, created: created, plan: plan)
            let general = try sender.signedRequest(for: event, to: target, created: created)
            #expect(fast.url == general.url && fast.body == general.body)
            // ECDSA signatures are randomised: every header but Signature must match byte for byte.
            var fastHeaders = fast.headers
            var generalHeaders = general.headers
            fastHeaders.set("Signature", nil)
            generalHeaders.set("Signature", nil)
            #expect(fastHeaders == generalHeaders)
            let message = SignableMessage(method: "POST", target: target, headers: fast.headers)
            let (_, parameters) = try MessageVerifier().parameters(of: message)
            if plan.fits(sender, target: target, event: event, created: created) {
                let params = plan.signatureParams(created: created)
                let digest = ContentDigest.header(for: event.body)
                #expect(
                    String(decoding: plan.signatureBase(event: event, digest: digest, params: params), as: UTF8.self)
                        == (try message.signatureBase(parameters))
                )
            }
            #expect(try MessageVerifier().verify(message, body: event.body, keys: jwks) == "shop-es256-2026")
            // The Signature value is what the serializer writes for the same bytes.
            let signatureValue = try #require(fast.headers["signature"])
            let encoded = String(signatureValue.dropFirst("sig1=:".count).dropLast())
            let bytes = try #require(Data(base64Encoded: encoded))
            #expect(
                try MessageSigner.headers(parameters: parameters, signature: [UInt8](bytes)).signature == signatureValue
            )
        }
        // A plan is for one target and one key only.
        let other = try RequestTarget("https://platform.example.com/other")
        #expect(!plan.fits(sender, target: other, event: Self.goldenEvent, created: 1))
        let rotated = sender.with(key: try SigningKey.generate(.es256, kid: "next"))
        #expect(!plan.fits(rotated, target: target, event: Self.goldenEvent, created: 1))
        #expect(plan.fits(sender, target: target, event: Self.goldenEvent, created: 1))
    }

    @Test func goldenUCPWebhookHasTheExactDigestAndSignatureBase() throws {
        #expect(Self.goldenBody.count == 528)
        let sender = try sender(pem: TestSupport.p256PEM, kid: "shop-es256-2026")
        let target = try RequestTarget("https://platform.example.com/webhooks/ucp/orders")
        let request = try sender.signedRequest(for: Self.goldenEvent, to: target, created: 1_775_913_000)
        #expect(request.headers["content-digest"] == "sha-256=:GUY513tZsYxTg7HEyv71vr849+a9Tw2xFCQ343wIrvc=:")
        #expect(
            request.headers["signature-input"]
                == #"sig1=("@method" "@authority" "@path" "content-type" "content-digest" "ucp-agent" "webhook-id" "webhook-timestamp");created=1775913000;keyid="shop-es256-2026""#
        )
        let message = SignableMessage(method: "POST", target: target, headers: request.headers)
        let (_, parameters) = try MessageVerifier().parameters(of: message)
        let expectedBase = """
            "@method": POST
            "@authority": platform.example.com
            "@path": /webhooks/ucp/orders
            "content-type": application/json
            "content-digest": sha-256=:GUY513tZsYxTg7HEyv71vr849+a9Tw2xFCQ343wIrvc=:
            "ucp-agent": profile="https://shop.example.com/.well-known/ucp"
            "webhook-id": 0f8e2a4c-6b1d-4e3f-9a7b-2c5d8e1f4a60
            "webhook-timestamp": 1775913000
            "@signature-params": ("@method" "@authority" "@path" "content-type" "content-digest" "ucp-agent" "webhook-id" "webhook-timestamp");created=1775913000;keyid="shop-es256-2026"
            """
        #expect(try message.signatureBase(parameters) == expectedBase)
        let jwks = [try sender.signer.key.publicJWK()]
        #expect(try MessageVerifier().verify(message, body: Self.goldenBody, keys: jwks) == "shop-es256-2026")
        // The published golden signature verifies against the same base.
        var published = request.headers
        published.set(
            "Signature",
            "sig1=:LCGEgAjwhfp9Oymt9q1jec6Z80H/VqH7HS6Xz6baF+FSN8EPBbLjerP/+kFqnvLS4w6o3lNWf8F4Ji7EmeZ2uA==:"
        )
        let goldenMessage = SignableMessage(method: "POST", target: target, headers: published)
        #expect(try MessageVerifier().verify(goldenMessage, body: Self.goldenBody, keys: jwks) == "shop-es256-2026")
    }

    /// Ed25519 is deterministic: ucpsim must reproduce, byte for byte, what the independent library signed.
    @Test func ed25519WebhookWithQueryAndPortMatchesTheIndependentSigner() throws {
        let sender = try sender(pem: TestSupport.ed25519PEM, kid: "shop-ed25519-2026")
        let target = try RequestTarget("http://127.0.0.1:8080/webhooks/ucp/orders?shop=1")
        #expect(target.authority == "127.0.0.1:8080")
        let request = try sender.signedRequest(for: Self.goldenEvent, to: target, created: 1_775_913_000)
        #expect(request.headers["signature-input"]?.contains(#""@path" "@query""#) == true)
        #expect(
            request.headers["signature"]
                == "sig1=:Nt2/lJlPY4aCNQfK0NOPJD3E2WWT8zLInnRzTE8NM/rJKeFvbEta5sGRO1cXMg/N5RGA6WnDUgqPRwF55OB4AA==:"
        )
    }

    @Test func authorityIsLowercaseAndOmitsDefaultPorts() throws {
        #expect(try RequestTarget("https://Platform.Example.COM:443/a").authority == "platform.example.com")
        #expect(try RequestTarget("http://example.com:80").authority == "example.com")
        #expect(try RequestTarget("http://example.com:80").path == "/")
        #expect(try RequestTarget("https://example.com:8443/p?q=1&r").authority == "example.com:8443")
        #expect(try RequestTarget("https://example.com:8443/p?q=1&r").query == "q=1&r")
        #expect(try RequestTarget("http://[::1]:9000/x").authority == "[::1]:9000")
        #expect(throws: UCPSimError.self) { try RequestTarget("ftp://example.com/") }
        #expect(throws: UCPSimError.self) { try RequestTarget("example.com/hook") }
    }

    struct VectorCase: Sendable, CustomTestStringConvertible {
        let request: String
        let jwks: String
        let expected: String  // "verified" or a SignatureFailure reason
        var testDescription: String { "\(request) + \(jwks) → \(expected)" }
    }

    /// The request vectors in Tests/tools/vectors, checked by ucpsim's own verifier (the independent one checks
    /// the same files in InteropTests).
    @Test(arguments: [
        VectorCase(request: "ucp-golden", jwks: "ucp-golden", expected: "verified"),
        VectorCase(request: "ucp-ed25519", jwks: "ucp-ed25519", expected: "verified"),
        VectorCase(request: "ucp-tampered-body", jwks: "ucp-golden", expected: "digest_mismatch"),
        VectorCase(request: "ucp-tampered-header", jwks: "ucp-golden", expected: "signature_invalid"),
        VectorCase(request: "ucp-der-signature", jwks: "ucp-golden", expected: "signature_invalid"),
        VectorCase(request: "ucp-no-signature", jwks: "ucp-golden", expected: "signature_missing"),
        VectorCase(request: "ucp-coverage", jwks: "ucp-golden", expected: "coverage_insufficient"),
        VectorCase(request: "ucp-golden", jwks: "ucp-wrong-key", expected: "signature_invalid"),
        VectorCase(request: "ucp-golden", jwks: "ucp-unknown-kid", expected: "key_not_found"),
        VectorCase(request: "ucp-golden", jwks: "ucp-p384-only", expected: "signature_invalid"),
        VectorCase(request: "ucp-golden", jwks: "ucp-unsupported-kty", expected: "algorithm_unsupported"),
    ])
    func vectorFilesVerifyAsLabelled(_ vector: VectorCase) throws {
        let request =
            try JSONSerialization.jsonObject(
                with: Data(TestSupport.read("Tests/tools/vectors/\(vector.request).request.json"))
            ) as! [String: Any]
        let jwks = try JSONDecoder().decode(
            [String: [JWK]].self,
            from: Data(TestSupport.read("Tests/tools/vectors/\(vector.jwks).jwks.json"))
        )["keys"]!
        let headers = HTTPFieldList((request["headers"] as! [[String]]).map { ($0[0], $0[1]) })
        let body = [UInt8](Data(base64Encoded: request["body_base64"] as! String)!)
        let message = SignableMessage(
            method: request["method"] as! String,
            target: try RequestTarget(request["url"] as! String),
            headers: headers
        )
        let outcome: String
        do {
            _ = try MessageVerifier().verify(message, body: body, keys: jwks)
            outcome = "verified"
        } catch {
            outcome = error.reason.rawValue
        }
        #expect(outcome == vector.expected)
    }

    @Test func contentDigestChecksEveryKnownMember() throws {
        let body = Array("abc".utf8)
        let good = ContentDigest.header(for: body)
        try ContentDigest.verify(header: good, body: body)
        let sha512 = "sha-512=:\(Data(DigestAlgorithm.sha512.hash(body)).base64EncodedString()):"
        try ContentDigest.verify(header: "\(good), \(sha512)", body: body)
        let otherBody = "sha-512=:\(Data(DigestAlgorithm.sha512.hash(Array("x".utf8))).base64EncodedString()):"
        #expect(throws: ContentDigest.Mismatch.mismatch(algorithm: "sha-512")) {
            try ContentDigest.verify(header: "\(good), \(otherBody)", body: body)
        }
        #expect(throws: ContentDigest.Mismatch.self) { try ContentDigest.verify(header: "md5=:AAAA:", body: body) }
        #expect(throws: ContentDigest.Mismatch.unparseable) {
            try ContentDigest.verify(header: "sha-256=nope", body: body)
        }
    }

    @Test func ucpAgentRoundTripsThroughStructuredFields() {
        let header = UCPAgent.header(profileURL: "https://shop.example.com/.well-known/ucp")
        #expect(header == #"profile="https://shop.example.com/.well-known/ucp""#)
        #expect(UCPAgent.profileURL(from: header) == "https://shop.example.com/.well-known/ucp")
        #expect(UCPAgent.profileURL(from: "profile=https") == nil)
    }
}
