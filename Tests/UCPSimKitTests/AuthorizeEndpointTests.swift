import Foundation
import GRDB
import Testing

@testable import UCPSimKit

/// The authorization endpoint (`GET`/`POST /oauth/authorize`) over real HTTP on a real in-process shop with identity
/// linking: every refusal (on the shop's page when the client or redirect URI cannot be trusted, else a redirect with
/// `error`, `state` and `iss`), the sign-in and consent page and its form (wrong password, Deny, Allow, expired or
/// unknown pending requests), auto-consent, escaping; and a real browser (headless Chromium) on the real `serve`.
@Suite struct AuthorizeEndpointTests {
    static let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    static let loopback = "http://127.0.0.1:40123/callback"
    /// A client whose redirect URI has a query of its own, and whose name is markup.
    static let tenant = OAuthClient(
        id: "tenant-app",
        redirectURIs: ["https://platform.example/cb?tenant=7"],
        name: "<script>alert(1)</script> & Co"
    )

    /// Runs `body` against a shop with identity linking (the embedded shop's clients and `tenant`), then stops it.
    func withShop(
        autoConsent: String? = nil,
        clock: MutableClock? = nil,
        _ body: (Shop) async throws -> Void
    ) async throws {
        var shopping = ShoppingSetup()
        shopping.identity = IdentitySetup(clients: [Self.tenant], autoConsent: autoConsent)
        var now: @Sendable () -> Date = { Date() }
        if let clock { now = { clock.now } }
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            clock: now,
            shopping: shopping,
            logger: TestSupport.quietLogger
        )
        do {
            try await body(shop)
        } catch {
            await shop.stop()
            throw error
        }
        await shop.stop()
    }

    /// A valid request for `demo-agent`, with `changes` applied (a nil value removes the parameter).
    static func parameters(_ changes: [(String, String?)] = []) -> [(String, String)] {
        var list: [(String, String)] = [
            ("response_type", "code"), ("client_id", "demo-agent"), ("redirect_uri", loopback),
            ("scope", "dev.ucp.shopping.order:read dev.ucp.shopping.order:manage"), ("state", "st-1 /+?"),
            ("code_challenge", challenge), ("code_challenge_method", "S256"),
        ]
        for (name, value) in changes {
            if let index = list.firstIndex(where: { $0.0 == name }) {
                if let value { list[index].1 = value } else { list.remove(at: index) }
            } else if let value {
                list.append((name, value))
            }
        }
        return list
    }

    static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { AuthorizationRequest.encode($0.0) + "=" + AuthorizationRequest.encode($0.1) }
            .joined(separator: "&")
    }

    func get(_ shop: Shop, _ pairs: [(String, String)]) async throws -> ReceivedResponse {
        try await shop.client.send(
            OutgoingRequest(method: "GET", url: "\(shop.server.baseURL)/oauth/authorize?\(Self.encode(pairs))")
        )
    }

    func post(
        _ shop: Shop,
        _ pairs: [(String, String)],
        contentType: String = "application/x-www-form-urlencoded"
    ) async throws -> ReceivedResponse {
        try await shop.client.send(
            OutgoingRequest(
                method: "POST",
                url: "\(shop.server.baseURL)/oauth/authorize",
                headers: HTTPFieldList([("Content-Type", contentType)]),
                body: Array(Self.encode(pairs).utf8)
            )
        )
    }

    func text(_ response: ReceivedResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    /// The query of a redirect's `Location`, name to values.
    func redirect(_ response: ReceivedResponse) throws -> (base: String, query: [String: [String]]) {
        #expect(response.status == 302, "\(response.status) \(text(response))")
        let location = try #require(response.headers["Location"])
        let components = try #require(URLComponents(string: location))
        var query: [String: [String]] = [:]
        for item in components.queryItems ?? [] { query[item.name, default: []].append(item.value ?? "") }
        let base = try #require(location.split(separator: "?").first.map(String.init))
        return (base, query)
    }

    /// The hidden pending-request id of a consent page.
    func pendingID(_ response: ReceivedResponse) throws -> String {
        let page = text(response)
        let marker = #"name="request_id" value=""#
        let start = try #require(page.range(of: marker)).upperBound
        let end = try #require(page[start...].firstIndex(of: "\""))
        return String(page[start..<end])
    }

    /// The rows of `oauth_code`: customer, client, redirect URI, scope, challenge, by code digest.
    func codes(_ shop: Shop) async throws -> [String: [String]] {
        try await shop.database.queue.read { db in
            var rows: [String: [String]] = [:]
            for row in try Row.fetchAll(
                db,
                sql: "SELECT code_sha256, customer_id, client_id, redirect_uri, scope, code_challenge FROM oauth_code"
            ) {
                rows[row["code_sha256"]] = [
                    row["customer_id"], row["client_id"], row["redirect_uri"], row["scope"], row["code_challenge"],
                ]
            }
            return rows
        }
    }

    // MARK: - Refusals

    /// A request whose client or redirect URI cannot be trusted is answered on the shop's own page (400, HTML),
    /// never sent to the redirect URI.
    @Test(
        arguments: [
            ([("client_id", "nobody")], "not registered"),
            ([("client_id", nil)], "client_id parameter is missing"),
            ([("client_id", "<script>x</script>")], "&lt;script&gt;x&lt;/script&gt;"),
            ([("redirect_uri", nil)], "redirect_uri parameter is missing"),
            ([("redirect_uri", "https://attacker.example/callback")], "is not registered for the client"),
            ([("redirect_uri", "http://127.0.0.1:40123/other")], "is not registered for the client"),
            ([("redirect_uri", "http://localhost/callback")], "is not registered for the client"),
            ([("client_id", "tenant-app")], "is not registered for the client"),
        ] as [([(String, String?)], String)]
    )
    func untrustedRequestsAreShownNotRedirected(changes: [(String, String?)], says: String) async throws {
        try await withShop { shop in
            let response = try await get(shop, Self.parameters(changes))
            #expect(response.status == 400)
            #expect(response.headers["Location"] == nil)
            #expect(response.headers["Content-Type"] == "text/html; charset=utf-8")
            #expect(text(response).contains(says), "\(text(response))")
            #expect(!text(response).contains("<script>x"))
        }
    }

    @Test func repeatedClientOrRedirectURIIsNotRedirected() async throws {
        try await withShop { shop in
            for name in ["client_id", "redirect_uri"] {
                let pairs = Self.parameters() + [(name, name == "client_id" ? "demo-agent" : Self.loopback)]
                let response = try await get(shop, pairs)
                #expect(response.status == 400 && response.headers["Location"] == nil)
                #expect(text(response).contains("The \(name) parameter is repeated."))
            }
        }
    }

    /// Everything else is refused by a redirect to the client: `error`, `error_description`, the request's `state`
    /// and `iss` (the shop's base URL).
    @Test(
        arguments: [
            ([("response_type", "token")], "unsupported_response_type", "response_type=code"),
            ([("response_type", nil)], "invalid_request", "response_type"),
            ([("code_challenge_method", "plain")], "invalid_request", "must be S256 (plain is not accepted)"),
            ([("code_challenge_method", nil)], "invalid_request", "is required and must be S256"),
            ([("code_challenge", nil)], "invalid_request", "code_challenge is missing"),
            ([("code_challenge", "too-short")], "invalid_request", "43 base64url characters"),
            ([("code_challenge", String(repeating: "+", count: 43))], "invalid_request", "43 base64url characters"),
            ([("scope", nil)], "invalid_scope", "scope parameter is missing"),
            ([("scope", "dev.ucp.shopping.order:read profile")], "invalid_scope", "profile is not offered"),
            ([("scope", "dev.ucp.shopping.checkout:manage")], "invalid_scope", "not offered"),
            ([("scope", "   ")], "invalid_scope", "names no scope"),
            (
                [("redirect_uri", "http://127.0.0.1:5555/callback"), ("response_type", "token")],
                "unsupported_response_type", "response_type=code"
            ),
        ] as [([(String, String?)], String, String)]
    )
    func refusalsRedirectWithErrorStateAndIss(changes: [(String, String?)], error: String, says: String) async throws {
        try await withShop { shop in
            let pairs = Self.parameters(changes)
            let (base, query) = try redirect(try await get(shop, pairs))
            #expect(base == pairs.first { $0.0 == "redirect_uri" }?.1)
            #expect(query["error"] == [error])
            #expect(query["error_description"]?.first?.contains(says) == true, "\(query)")
            #expect(query["state"] == ["st-1 /+?"])
            #expect(query["iss"] == [shop.server.baseURL])
            #expect(query["code"] == nil)
            #expect(try await codes(shop).isEmpty)
        }
    }

    @Test func repeatedParametersAndAMissingStateAreRefused() async throws {
        try await withShop { shop in
            let repeated = try redirect(
                try await get(shop, Self.parameters() + [("scope", "dev.ucp.shopping.order:read")])
            )
            #expect(repeated.query["error"] == ["invalid_request"])
            #expect(repeated.query["error_description"] == ["The parameter scope is repeated."])
            #expect(repeated.query["iss"] == [shop.server.baseURL])
            // No state in the request: none in the answer, iss still.
            let stateless = try redirect(try await get(shop, Self.parameters([("state", nil), ("scope", "x:y")])))
            #expect(stateless.query["error"] == ["invalid_scope"] && stateless.query["state"] == nil)
            #expect(stateless.query["iss"] == [shop.server.baseURL])
        }
    }

    /// A redirect URI with a query of its own keeps it; the answer's parameters follow it.
    @Test func theRedirectURIsOwnQueryIsKept() async throws {
        try await withShop { shop in
            let response = try await get(
                shop,
                Self.parameters([
                    ("client_id", "tenant-app"), ("redirect_uri", "https://platform.example/cb?tenant=7"),
                    ("code_challenge_method", "plain"), ("state", "s"),
                ])
            )
            let location = try #require(response.headers["Location"])
            #expect(location.hasPrefix("https://platform.example/cb?tenant=7&error=invalid_request&error_description="))
            #expect(location.hasSuffix("&state=s&iss=" + AuthorizationRequest.encode(shop.server.baseURL)))
        }
    }

    @Test func redirectLocationsAreBuiltRight() {
        #expect(
            AuthorizationRequest.location("https://a.example/cb", adding: [("code", "x y&z"), ("state", "é")])
                == "https://a.example/cb?code=x%20y%26z&state=%C3%A9"
        )
        #expect(
            AuthorizationRequest.location("https://a.example/cb?", adding: [("a", "1")]) == "https://a.example/cb?a=1"
        )
        #expect(
            AuthorizationRequest.location("https://a.example/cb?t=1", adding: [("a", "1")])
                == "https://a.example/cb?t=1&a=1"
        )
    }

    // MARK: - Auto-consent

    @Test func autoConsentRedirectsWithACodeAtOnce() async throws {
        try await withShop(autoConsent: "alice@example.com") { shop in
            let (base, query) = try redirect(try await get(shop, Self.parameters()))
            #expect(base == Self.loopback)
            #expect(query.keys.sorted() == ["code", "iss", "state"])
            #expect(query["state"] == ["st-1 /+?"] && query["iss"] == [shop.server.baseURL])
            let code = try #require(query["code"]?.first)
            #expect(code.count == 43)
            #expect(
                try await codes(shop)[OAuthStore.digest(code)] == [
                    "cus_alice", "demo-agent", Self.loopback,
                    "dev.ucp.shopping.order:read dev.ucp.shopping.order:manage",
                    Self.challenge,
                ]
            )
            // Refusals still come first.
            let refused = try redirect(try await get(shop, Self.parameters([("code_challenge_method", "plain")])))
            #expect(refused.query["error"] == ["invalid_request"] && refused.query["code"] == nil)
        }
    }

    // MARK: - The page and its form

    @Test func theConsentPageIsSelfContainedAndLocked() async throws {
        try await withShop { shop in
            let response = try await get(shop, Self.parameters())
            #expect(response.status == 200)
            #expect(response.headers["Content-Type"] == "text/html; charset=utf-8")
            #expect(response.headers["Cache-Control"] == "no-store")
            #expect(response.headers["X-Frame-Options"] == "DENY")
            let policy = try #require(response.headers["Content-Security-Policy"])
            for directive in ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "img-src 'none'"] {
                #expect(policy.contains(directive), "\(policy)")
            }
            #expect(policy.contains("form-action 'self' \(shop.server.baseURL) http://127.0.0.1:40123;"), "\(policy)")
            #expect(!policy.contains("unsafe"))
            let page = text(response)
            // The style sheet's hash is the one the policy allows.
            let style = try #require(page.range(of: "<style>")).upperBound
            let styleEnd = try #require(page.range(of: "</style>")).lowerBound
            let hash = Data(DigestAlgorithm.sha256.hash(Array(page[style..<styleEnd].utf8))).base64EncodedString()
            #expect(policy.contains("style-src 'sha256-\(hash)'"))
            // Nothing loads from anywhere: no script, image, link or src.
            for forbidden in ["<script", "<img", "<link", "src=", "url("] { #expect(!page.contains(forbidden)) }
            for shown in [
                "Demo Agent", IdentityScope.description(IdentityScope.orderRead), IdentityScope.orderRead,
                IdentityScope.description(IdentityScope.orderManage), IdentityScope.orderManage, #"name="email""#,
                #"name="password""#, #"value="allow""#, #"value="deny""#,
            ] {
                #expect(page.contains(shown), "\(shown)")
            }
            #expect(try pendingID(response).count == 43)
        }
    }

    @Test func aWrongPasswordShowsThePageAgainAndIssuesNothing() async throws {
        try await withShop { shop in
            let id = try pendingID(try await get(shop, Self.parameters()))
            for (email, password) in [
                ("alice@example.com", "bob-password"), ("nobody@example.com", "alice-password"),
                ("alice@example.com", ""),
                ("", "alice-password"),
            ] {
                let again = try await post(
                    shop,
                    [("request_id", id), ("email", email), ("password", password), ("decision", "allow")]
                )
                #expect(again.status == 200 && again.headers["Location"] == nil)
                #expect(text(again).contains("The email or password is wrong. Nothing was linked."))
                #expect(try pendingID(again) == id)
            }
            #expect(try await codes(shop).isEmpty)
            // The same page still works with the right password (the email is case-insensitive).
            let (_, query) = try redirect(
                try await post(
                    shop,
                    [
                        ("request_id", id), ("email", "Alice@Example.com"), ("password", "alice-password"),
                        ("decision", "allow"),
                    ]
                )
            )
            #expect(query["code"]?.count == 1)
        }
    }

    @Test func allowWithTheRightPasswordIssuesACode() async throws {
        try await withShop { shop in
            let id = try pendingID(try await get(shop, Self.parameters([("scope", "dev.ucp.shopping.order:read")])))
            let form = [
                ("request_id", id), ("email", "bob@example.com"), ("password", "bob-password"), ("decision", "allow"),
            ]
            let (base, query) = try redirect(try await post(shop, form))
            #expect(base == Self.loopback)
            #expect(query.keys.sorted() == ["code", "iss", "state"])
            #expect(query["state"] == ["st-1 /+?"] && query["iss"] == [shop.server.baseURL])
            let code = try #require(query["code"]?.first)
            #expect(
                try await codes(shop) == [
                    OAuthStore.digest(code): [
                        "cus_bob", "demo-agent", Self.loopback, "dev.ucp.shopping.order:read", Self.challenge,
                    ]
                ]
            )
            // The page is answered: the same form again is refused.
            let again = try await post(shop, form)
            #expect(again.status == 400 && text(again).contains("expired"))
            #expect(try await codes(shop).count == 1)
        }
    }

    @Test func denyRedirectsAccessDenied() async throws {
        try await withShop { shop in
            let id = try pendingID(try await get(shop, Self.parameters()))
            let (base, query) = try redirect(try await post(shop, [("request_id", id), ("decision", "deny")]))
            #expect(base == Self.loopback)
            #expect(query["error"] == ["access_denied"])
            #expect(query["state"] == ["st-1 /+?"] && query["iss"] == [shop.server.baseURL])
            #expect(query["code"] == nil)
            let allow = try await post(
                shop,
                [
                    ("request_id", id), ("email", "alice@example.com"), ("password", "alice-password"),
                    ("decision", "allow"),
                ]
            )
            #expect(allow.status == 400)
            #expect(try await codes(shop).isEmpty)
        }
    }

    @Test func anUnknownOrExpiredPendingRequestIsRefused() async throws {
        let clock = MutableClock(Date(timeIntervalSince1970: 1_800_000_000))
        try await withShop(clock: clock) { shop in
            func allow(_ id: String) -> [(String, String)] {
                [
                    ("request_id", id), ("email", "alice@example.com"), ("password", "alice-password"),
                    ("decision", "allow"),
                ]
            }
            for form in [allow("made-up"), [("email", "alice@example.com"), ("decision", "allow")]] {
                let response = try await post(shop, form)
                #expect(response.status == 400 && response.headers["Location"] == nil)
                #expect(response.headers["Content-Type"] == "text/html; charset=utf-8")
                #expect(text(response).contains("This sign-in page has expired"))
            }
            let first = try pendingID(try await get(shop, Self.parameters()))
            clock.now += 300
            let second = try pendingID(try await get(shop, Self.parameters()))
            clock.now += 299
            _ = try redirect(try await post(shop, allow(first)))  // 599 s: still good
            clock.now += 302
            let late = try await post(shop, allow(second))  // 601 s
            #expect(late.status == 400 && text(late).contains("expired"))
            #expect(try await codes(shop).count == 1)
        }
    }

    @Test func badFormsAreRefused() async throws {
        try await withShop { shop in
            let id = try pendingID(try await get(shop, Self.parameters()))
            let json = try await post(
                shop,
                [("request_id", id), ("decision", "deny")],
                contentType: "application/json"
            )
            #expect(json.status == 415 && json.headers["Location"] == nil)
            let twice = try await post(shop, [("request_id", id), ("decision", "allow"), ("decision", "deny")])
            #expect(twice.status == 400 && twice.headers["Location"] == nil)
            let neither = try await post(shop, [("request_id", id), ("decision", "maybe")])
            #expect(neither.status == 400 && text(neither).contains("Choose Allow or Deny"))
            #expect(try await codes(shop).isEmpty)
        }
    }

    // MARK: - Escaping

    @Test func escapeNeutralizesMarkup() {
        #expect(
            ConsentPage.escape(#"<script>alert('x')</script> & "q""#)
                == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        )
        #expect(ConsentPage.escape("plain é") == "plain é")
    }

    @Test func everythingThePageEchoesIsEscaped() async throws {
        try await withShop { shop in
            let response = try await get(
                shop,
                Self.parameters([("client_id", "tenant-app"), ("redirect_uri", "https://platform.example/cb?tenant=7")])
            )
            #expect(response.status == 200)
            #expect(!text(response).contains("<script>"))
            #expect(text(response).contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"))
            let id = try pendingID(response)
            let typed = #""><script>alert(2)</script>"#
            let again = try await post(
                shop,
                [("request_id", id), ("email", typed), ("password", "x"), ("decision", "allow")]
            )
            #expect(again.status == 200)
            #expect(!text(again).contains("<script>"))
            #expect(text(again).contains(#"value="&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;""#))
        }
    }

    // MARK: - A real browser

    /// Headless Chromium on the real `ucpsim serve`: opens the authorization URL, fails once with a wrong password,
    /// signs in as Alice, clicks Allow, and lands on its loopback redirect URI with a code, its state and the issuer.
    @Test func aRealBrowserSignsInAndAllows() async throws {
        let directory = TestSupport.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let screenshot = directory + "/consent-page.png"
        let run = try await CheckoutJourneyTests.withShop { base in
            try await TestSupport.run(
                TestSupport.python,
                [TestSupport.path("Tests/tools/consent_browser.py"), "--shop", base, "--screenshot", screenshot]
            )
        }
        let line = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let result = try #require(
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            "consent_browser.py printed no JSON line: \(run.stdout) \(run.stderr)"
        )
        #expect(run.status == 0, "\(result["failures"] ?? run.stderr)")
        #expect(result["ok"] as? Bool == true)
        #expect((result["code"] as? String)?.count == 43)
        let size = try FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int
        #expect((size ?? 0) > 10_000)
    }
}

/// The pending requests behind the consent page's hidden id, as a value with its own clock.
@Suite struct PendingAuthorizationsTests {
    static let request = AuthorizationRequest(
        client: OAuthClient(id: "c", redirectURIs: ["http://127.0.0.1/cb"]),
        redirectURI: "http://127.0.0.1/cb",
        state: nil,
        scopes: [IdentityScope.orderRead],
        codeChallenge: AuthorizeEndpointTests.challenge
    )

    @Test func idsAreRandomSingleUseAndBounded() {
        let clock = MutableClock(Date(timeIntervalSince1970: 1_800_000_000))
        let pending = PendingAuthorizations(lifetime: 600, limit: 2, now: { clock.now })
        let first = pending.add(Self.request)
        clock.now += 1
        let second = pending.add(Self.request)
        #expect(first != second && first.count == 43)
        #expect(pending.request(first) == Self.request && pending.request(first) == Self.request)
        clock.now += 1
        let third = pending.add(Self.request)  // the oldest makes room
        #expect(pending.count == 2 && pending.request(first) == nil)
        #expect(pending.take(second) == Self.request && pending.take(second) == nil)
        clock.now += 600
        #expect(pending.request(third) == nil && pending.take(third) == nil)
    }
}
