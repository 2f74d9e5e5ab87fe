import Foundation
import Testing

@testable import UCPSimKit

/// Identity linking as a platform nobody here wrote meets it: the real `ucpsim serve --auto-consent
/// alice@example.com` on a temporary state directory, and `Tests/tools/oauth_platform.py` (authlib's OAuth 2.0 client
/// with PKCE S256, authlib.jose for the JWTs, ucp_platform.py's signed platform for the checkout) discovering the
/// authorization server, linking Alice, reading her order with the token and being refused with the spec's status,
/// `WWW-Authenticate` challenge and message code every time it should be. One test at a time: each runs a shop and a
/// Python process, and the machine has two cores.
@Suite(.serialized) struct IdentityLinkingTests {
    /// What one run of the platform printed (`ok CHECK: …` lines, or a `FAIL` line) and how it exited.
    struct LinkRun {
        let status: Int32
        let stdout: String
        let stderr: String

        /// The checks that held, by name.
        var passed: [String: String] {
            var lines: [String: String] = [:]
            for line in stdout.split(separator: "\n") where line.hasPrefix("ok ") {
                let rest = line.dropFirst(3)
                guard let colon = rest.firstIndex(of: ":") else { continue }
                lines[String(rest[..<colon])] = String(rest[rest.index(after: colon)...]).trimmingCharacters(
                    in: .whitespaces
                )
            }
            return lines
        }

        var failure: String { stdout.split(separator: "\n").first { $0.hasPrefix("FAIL ") }.map(String.init) ?? stderr }
    }

    static let autoConsent = ["--auto-consent", "alice@example.com"]

    /// Runs `oauth_platform.py --shop SHOP ARGUMENTS`.
    static func link(shop: String, _ arguments: [String]) async throws -> LinkRun {
        let run = try await TestSupport.run(
            TestSupport.python,
            [TestSupport.path("Tests/tools/oauth_platform.py"), "--shop", shop, "--timeout", "60"]
                + CheckoutJourneyTests.schemaArguments + arguments
        )
        return LinkRun(status: run.status, stdout: run.stdout, stderr: run.stderr)
    }

    /// Discovery (RFC 9728 → issuer → RFC 8414, issuer byte for byte, authlib's metadata validation, scopes against
    /// the profile), the authorization request answered by `--auto-consent` with `code`, `state` and `iss`, the code
    /// exchanged by the confidential `sample-platform` (`client_secret_basic`), the JWT verified with the JWKS, an
    /// order placed as Alice and read back with `GET /orders/{id}` and the token; then a refresh that rotates (the
    /// old refresh token is refused, and its reuse revokes the grant) and a revocation after which the access token
    /// gets 401 `invalid_token`.
    @Test func aConfidentialPlatformLinksAliceAndReadsHerOrder() async throws {
        let run = try await CheckoutJourneyTests.withShop(Self.autoConsent) { shop in
            try await Self.link(shop: shop, ["flow"])
        }
        #expect(run.status == 0, "\(run.failure)")
        for step in [
            "profile", "protected-resource", "metadata", "jwks", "link-authorize", "link-token", "order", "read",
            "refresh", "rotation", "rotation-reuse", "revoked",
        ] {
            #expect(run.passed[step] != nil, "\(step) did not pass: \(run.failure)")
        }
        #expect(run.passed["revoked"]?.contains(#"error="invalid_token""#) == true, "\(run.passed)")
    }

    /// The same flow for the public client `demo-agent` (token_endpoint_auth_method `none`: PKCE S256 alone).
    @Test func aPublicClientLinksWithPKCEAlone() async throws {
        let run = try await CheckoutJourneyTests.withShop(Self.autoConsent) { shop in
            try await Self.link(shop: shop, ["--public", "flow"])
        }
        #expect(run.status == 0, "\(run.failure)")
        #expect(run.passed["read"] != nil && run.passed["revoked"] != nil, "\(run.failure)")
    }

    /// Every refusal the spec asks for, each on a fresh shop: `plain` and missing PKCE challenges (error redirect
    /// `invalid_request` with `iss`), a wrong verifier and a reused code (`invalid_grant`; the reuse revokes the first
    /// exchange's tokens), a mismatched `redirect_uri` (token endpoint `invalid_grant`; an unregistered one at
    /// `/oauth/authorize` is an error page, no redirect), a revoked token, a token without `order:read` (403
    /// `insufficient_scope`, `scope="dev.ucp.shopping.order:read"`), a tampered JWT (401 `invalid_token`) and no token
    /// at all (401 without `error`, with `resource_metadata`).
    @Test(arguments: [
        "plain-pkce", "missing-pkce", "wrong-verifier", "reused-code", "redirect-mismatch", "revoked", "missing-scope",
        "tampered", "no-token",
    ])
    func refusalsAreTheSpecs(check: String) async throws {
        let run = try await CheckoutJourneyTests.withShop(Self.autoConsent) { shop in
            try await Self.link(shop: shop, [check])
        }
        #expect(run.status == 0, "\(check): \(run.failure)")
        #expect(run.passed.keys.contains { $0.hasPrefix(check) }, "\(check): \(run.stdout)")
        #expect(!run.stderr.contains("Traceback"), "\(run.stderr)")
    }

    /// A token another shop issued (its own key and issuer; same client id and customer) is refused with 401
    /// `invalid_token`, never read as anonymous.
    @Test func aForeignShopsTokenIsRefused() async throws {
        let run = try await CheckoutJourneyTests.withShop(Self.autoConsent) { foreign in
            try await CheckoutJourneyTests.withShop(Self.autoConsent) { shop in
                try await Self.link(shop: shop, ["--foreign-shop", foreign, "foreign-token"])
            }
        }
        #expect(run.status == 0, "\(run.failure)")
        #expect(run.passed["foreign-token"]?.contains(#"error="invalid_token""#) == true, "\(run.stdout)")
    }

    /// An expired token, honestly: a shop whose clock stands a day back (`--fixed-time`) issues it and Alice's order
    /// is read with it; the shop is stopped and started again on the same state directory and port with its real
    /// clock (keys and tokens survive a restart), where that token, valid in every other way, gets 401
    /// `invalid_token` while a fresh token of the same client and customer passes the same request.
    @Test func anExpiredTokenIsRefusedAfterARestart() async throws {
        let state = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let saved = state + "-token.json"
        defer { try? FileManager.default.removeItem(atPath: saved) }
        let dayAgo = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-86_400))

        let first = try ServeProcess.start(["--state", state, "--fixed-time", dayAgo] + Self.autoConsent)
        let base = try await first.baseURL()
        let minted = try await Self.link(shop: base, ["--save", saved, "mint"])
        _ = await first.interrupt(SIGTERM)
        #expect(minted.status == 0, "\(minted.failure)")
        let port = try #require(URLComponents(string: base)?.port)

        let second = try ServeProcess.start(["--state", state, "--port", String(port)] + Self.autoConsent)
        let again = try await second.baseURL()
        let run = try await Self.link(shop: again, ["--saved", saved, "expired"])
        let exit = await second.interrupt(SIGTERM)
        #expect(again == base, "the restarted shop is another issuer: \(exit.stderr)")
        #expect(run.status == 0, "\(run.failure)")
        #expect(run.passed["expired"]?.contains(#"error="invalid_token""#) == true, "\(run.stdout)")
    }

    /// The profile's `dev.ucp.common.identity_linking` entry validates against the official
    /// `identity_linking.json` business schema, and offers the order scopes; `--require-identity` adds checkout's.
    @Test(arguments: [false, true])
    func theProfileEntryValidatesAgainstTheOfficialSchema(requireIdentity: Bool) async throws {
        let entry = try await CheckoutJourneyTests.withShop(requireIdentity ? ["--require-identity"] : []) { shop in
            let client = HTTPClient(workers: 1)
            defer { Task { await client.shutdown() } }
            let response = try await client.send(OutgoingRequest(method: "GET", url: shop + "/.well-known/ucp"))
            let profile = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
            let capabilities = (profile["ucp"] as? [String: Any])?["capabilities"] as? [String: Any]
            let entries = try #require(capabilities?["dev.ucp.common.identity_linking"] as? [Any])
            return try #require(entries.first)
        }
        let scopes = (((entry as? [String: Any])?["config"] as? [String: Any])?["scopes"] as? [String: Any]) ?? [:]
        var expected: Set = ["dev.ucp.shopping.order:read", "dev.ucp.shopping.order:manage"]
        if requireIdentity { expected.insert("dev.ucp.shopping.checkout:manage") }
        #expect(Set(scopes.keys) == expected)
        let file = try TestSupport.temporaryJSON(entry, name: "identity_linking.json")
        let run = try await TestSupport.run(
            TestSupport.python,
            [TestSupport.path("Tests/tools/validate_schemas.py"), "--kind", "identity-linking", file]
        )
        if run.status == 3 && ProcessInfo.processInfo.environment["UCPSIM_REQUIRE_SCHEMAS"] != "1" { return }
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("ok main "), "\(run.stdout)")
    }

    /// With no shop to talk to, the platform fails with one readable line, not a trace.
    @Test func thePlatformSaysWhyItFails() async throws {
        let run = try await Self.link(shop: "http://127.0.0.1:9", ["all"])
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("oauth_platform: FAIL discovery: "), "\(run.stderr)")
        #expect(!run.stderr.contains("Traceback"))
    }
}
