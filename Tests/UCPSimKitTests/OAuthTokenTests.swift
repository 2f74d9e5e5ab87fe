import Foundation
import Testing

@testable import UCPSimKit

/// The token side of the shop's OAuth authorization server over real HTTP on a real in-process shop: code exchange
/// with PKCE S256, client authentication by registered method, refresh rotation and reuse detection, revocation
/// (RFC 7009), metadata (RFC 8414, RFC 9728), the JWKS, persistence across a restart; the metadata and an issued
/// access token checked independently by authlib.
@Suite struct OAuthTokenTests {
    static let callback = "http://127.0.0.1/callback"
    /// A public client (`none`): PKCE alone.
    static let agent = OAuthClient(id: "agent", redirectURIs: [callback])
    /// `client_secret_basic`, with an id and secret that need RFC 6749 §2.3.1's form-urlencoding in Basic.
    static let platform = OAuthClient(id: "platform:one", secret: "s3cret +/&é%", redirectURIs: [callback])
    /// `client_secret_post`.
    static let poster = OAuthClient(
        id: "poster",
        secret: "post-secret",
        redirectURIs: [callback],
        authMethod: .clientSecretPost
    )
    static let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    static let scopes = [IdentityScope.orderRead, IdentityScope.orderManage]

    struct Running {
        let shop: Shop
        let server: AuthorizationServer
        var issuer: String { server.issuer }
    }

    func startShop(
        stateDirectory: String? = nil,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) async throws -> Running {
        var shopping = ShoppingSetup()
        shopping.identity = IdentitySetup(clients: [Self.agent, Self.platform, Self.poster])
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            delivery: DeliverySetup(stateDirectory: stateDirectory),
            clock: clock,
            shopping: shopping,
            logger: TestSupport.quietLogger
        )
        return Running(shop: shop, server: try #require(shop.authorization))
    }

    /// Runs `body` with a started shop, and stops the shop whatever happens.
    func withShop(
        stateDirectory: String? = nil,
        clock: @escaping @Sendable () -> Date = { Date() },
        _ body: (Running) async throws -> Void
    ) async throws {
        let running = try await startShop(stateDirectory: stateDirectory, clock: clock)
        do {
            try await body(running)
        } catch {
            await running.shop.stop()
            throw error
        }
        await running.shop.stop()
    }

    /// A code for `client`, as the authorization endpoint would issue it.
    func newCode(
        _ running: Running,
        for client: OAuthClient,
        verifier: String = Self.verifier,
        scopes: [String] = Self.scopes,
        redirectURI: String = Self.callback,
        authTime: Date = Date(timeIntervalSince1970: 1_795_924_000)
    ) async throws -> String {
        try await running.server.store.issueCode(
            AuthorizationGrant(
                clientID: client.id,
                customerID: "cus_alice",
                redirectURI: redirectURI,
                scopes: scopes,
                codeChallenge: PKCE.challenge(verifier: verifier),
                authTime: authTime
            ),
            lifetime: running.server.setup.codeLifetime
        )
    }

    enum Auth {
        case basic(String, String)
        case header(String)
        case none
    }

    func post(
        _ running: Running,
        _ path: String,
        _ form: [(String, String)],
        auth: Auth = .none,
        contentType: String = "application/x-www-form-urlencoded"
    ) async throws -> ReceivedResponse {
        var headers = HTTPFieldList([("Content-Type", contentType)])
        switch auth {
        case .basic(let id, let secret):
            let credentials = OAuthForm.encode(id) + ":" + OAuthForm.encode(secret)
            headers.append("Authorization", "Basic " + Data(credentials.utf8).base64EncodedString())
        case .header(let value):
            headers.append("Authorization", value)
        case .none:
            break
        }
        return try await running.shop.client.send(
            OutgoingRequest(
                method: "POST",
                url: running.shop.server.baseURL + path,
                headers: headers,
                body: Array(OAuthForm.encode(form).utf8)
            )
        )
    }

    func get(_ running: Running, _ path: String) async throws -> ReceivedResponse {
        try await running.shop.client.send(OutgoingRequest(method: "GET", url: running.shop.server.baseURL + path))
    }

    func object(_ response: ReceivedResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    /// The credentials `client` authenticates with, by its registered method, added to `form` or as a header.
    func authenticated(_ client: OAuthClient, _ form: [(String, String)]) -> ([(String, String)], Auth) {
        switch client.authMethod {
        case .none: (form + [("client_id", client.id)], .none)
        case .clientSecretPost: (form + [("client_id", client.id), ("client_secret", client.secret ?? "")], .none)
        case .clientSecretBasic: (form, .basic(client.id, client.secret ?? ""))
        }
    }

    func exchange(
        _ running: Running,
        _ client: OAuthClient,
        code: String,
        verifier: String = Self.verifier,
        redirectURI: String = Self.callback
    ) async throws -> ReceivedResponse {
        let (form, auth) = authenticated(
            client,
            [
                ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
                ("code_verifier", verifier),
            ]
        )
        return try await post(running, "/oauth/token", form, auth: auth)
    }

    func refresh(
        _ running: Running,
        _ client: OAuthClient,
        _ token: String,
        scope: String? = nil
    ) async throws -> ReceivedResponse {
        let (form, auth) = authenticated(
            client,
            [("grant_type", "refresh_token"), ("refresh_token", token)] + (scope.map { [("scope", $0)] } ?? [])
        )
        return try await post(running, "/oauth/token", form, auth: auth)
    }

    func revoke(
        _ running: Running,
        _ client: OAuthClient,
        _ token: String,
        hint: String? = nil
    ) async throws -> ReceivedResponse {
        let (form, auth) = authenticated(
            client,
            [("token", token)] + (hint.map { [("token_type_hint", $0)] } ?? [])
        )
        return try await post(running, "/oauth/revoke", form, auth: auth)
    }

    /// The tokens of a 200 token response.
    struct Tokens {
        var access: String
        var refresh: String
        var claims: AccessTokenClaims
        var object: [String: Any]
    }

    func tokens(_ running: Running, _ response: ReceivedResponse) throws -> Tokens {
        #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
        let object = try object(response)
        let access = try #require(object["access_token"] as? String)
        let refresh = try #require(object["refresh_token"] as? String)
        let claims = try running.server.signer.verify(access).get()
        return Tokens(access: access, refresh: refresh, claims: claims, object: object)
    }

    /// Expects an RFC 6749 §5.2 error answer.
    func expectError(
        _ response: ReceivedResponse,
        _ error: String,
        status: Int = 400,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(response.status == status, "\(text)", sourceLocation: sourceLocation)
        let object = try object(response)
        #expect(object["error"] as? String == error, "\(text)", sourceLocation: sourceLocation)
        #expect(object["error_description"] is String, sourceLocation: sourceLocation)
        #expect(response.headers["Cache-Control"] == "no-store", sourceLocation: sourceLocation)
    }

    func isRevoked(_ running: Running, _ claims: AccessTokenClaims) async throws -> Bool {
        try await running.server.store.isRevoked(jti: claims.jti, grantID: claims.grantID)
    }

    // MARK: - Code exchange

    @Test func publicClientExchangesACodeWithPKCE() async throws {
        try await withShop { running in
            let code = try await newCode(running, for: Self.agent)
            let response = try await exchange(running, Self.agent, code: code)
            let tokens = try tokens(running, response)
            #expect(response.headers["Cache-Control"] == "no-store" && response.headers["Pragma"] == "no-cache")
            #expect(response.headers["Content-Type"] == "application/json")
            #expect(tokens.object["token_type"] as? String == "Bearer")
            #expect(tokens.object["expires_in"] as? Int == 300)
            #expect(tokens.object["scope"] as? String == Self.scopes.joined(separator: " "))
            #expect(Base64URL.decode(tokens.refresh)?.count == 32)
            let claims = tokens.claims
            #expect(claims.issuer == running.issuer && claims.audience == running.issuer)
            #expect(running.issuer == running.shop.server.baseURL)
            #expect(claims.subject == "cus_alice" && claims.clientID == "agent" && claims.scopes == Self.scopes)
            #expect(claims.expiresAt == claims.issuedAt + 300 && claims.authTime == 1_795_924_000)
            #expect(abs(Double(claims.issuedAt) - Date().timeIntervalSince1970) < 3600)
            #expect(claims.grantID.hasPrefix("grt_") && Base64URL.decode(claims.jti)?.count == 32)
            #expect(try await !isRevoked(running, claims))

            // authlib, independently: the JWS under /oauth/jwks, ES256, at+jwt, RFC 9068 claims.
            let jwks = try await get(running, "/oauth/jwks")
            let jwksFile = try TestSupport.temporaryJSON(try object(jwks), name: "jwks.json")
            let check = try await TestSupport.run(
                TestSupport.python,
                [
                    TestSupport.path("Tests/tools/oauth_check.py"), "token", "--jwks", jwksFile, "--issuer",
                    running.issuer, "--client-id", "agent", "--scope", IdentityScope.orderRead, tokens.access,
                ]
            )
            #expect(check.status == 0 && check.stdout.hasPrefix("ok token "), "\(check.stdout)\(check.stderr)")
            #expect(check.stdout.contains(#""sub": "cus_alice""#), "\(check.stdout)")
            // The same check refuses a token whose claims were changed after signing, and another client's.
            let parts = tokens.access.split(separator: ".").map(String.init)
            let payload = try #require(Base64URL.decode(parts[1]))
            var forged = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
            forged["sub"] = "cus_bob"
            let forgedToken =
                parts[0] + "." + Base64URL.encode(try JSONSerialization.data(withJSONObject: forged)) + "." + parts[2]
            for (token, client) in [(forgedToken, "agent"), (tokens.access, "platform:one")] {
                let refused = try await TestSupport.run(
                    TestSupport.python,
                    [
                        TestSupport.path("Tests/tools/oauth_check.py"), "token", "--jwks", jwksFile, "--issuer",
                        running.issuer, "--client-id", client, "--scope", IdentityScope.orderRead, token,
                    ]
                )
                #expect(refused.status == 1 && refused.stdout.hasPrefix("invalid: "), "\(refused.stdout)")
            }
        }
    }

    @Test func confidentialClientsAuthenticateWithTheirRegisteredMethod() async throws {
        try await withShop { running in
            let basicCode = try await newCode(running, for: Self.platform)
            let form: [(String, String)] = [
                ("grant_type", "authorization_code"), ("code", basicCode), ("redirect_uri", Self.callback),
                ("code_verifier", Self.verifier),
            ]
            let realm = "Basic realm=\"\(running.issuer)\""
            // Failed authentications, each invalid_client: 401 with the Basic challenge when the Authorization header
            // was tried, 400 otherwise (RFC 6749 §5.2).
            let wrongSecret = try await post(running, "/oauth/token", form, auth: .basic("platform:one", "s3cret"))
            try expectError(wrongSecret, "invalid_client", status: 401)
            #expect(wrongSecret.headers["WWW-Authenticate"] == realm)
            // The secret sent without RFC 6749 §2.3.1's form-urlencoding is a different secret.
            let unencoded = "Basic " + Data("platform:one:s3cret +/&é%".utf8).base64EncodedString()
            let raw = try await post(running, "/oauth/token", form, auth: .header(unencoded))
            try expectError(raw, "invalid_client", status: 401)
            let asPost = try await post(
                running,
                "/oauth/token",
                form + [("client_id", "platform:one"), ("client_secret", "s3cret +/&é%")]
            )
            try expectError(asPost, "invalid_client", status: 400)
            #expect(asPost.headers["WWW-Authenticate"] == nil)
            let noSecret = try await post(running, "/oauth/token", form + [("client_id", "platform:one")])
            try expectError(noSecret, "invalid_client", status: 400)
            let unknown = try await post(running, "/oauth/token", form, auth: .basic("stranger", "s3cret +/&é%"))
            try expectError(unknown, "invalid_client", status: 401)
            #expect(unknown.headers["WWW-Authenticate"] == realm)
            let bearer = try await post(running, "/oauth/token", form, auth: .header("Bearer abc"))
            try expectError(bearer, "invalid_client", status: 401)
            let anonymous = try await post(running, "/oauth/token", form)
            try expectError(anonymous, "invalid_client", status: 400)
            let twoMethods = try await post(
                running,
                "/oauth/token",
                form + [("client_secret", "s3cret +/&é%")],
                auth: .basic("platform:one", "s3cret +/&é%")
            )
            try expectError(twoMethods, "invalid_request")
            // None of them used the code: the registered method with the right secret still redeems it.
            let basic = try tokens(running, try await exchange(running, Self.platform, code: basicCode))
            #expect(basic.claims.clientID == "platform:one")

            let postCode = try await newCode(running, for: Self.poster)
            let postForm: [(String, String)] = [
                ("grant_type", "authorization_code"), ("code", postCode), ("redirect_uri", Self.callback),
                ("code_verifier", Self.verifier),
            ]
            let postAsBasic = try await post(running, "/oauth/token", postForm, auth: .basic("poster", "post-secret"))
            try expectError(postAsBasic, "invalid_client", status: 401)
            #expect(postAsBasic.headers["WWW-Authenticate"] == realm)
            let postWrong = try await post(
                running,
                "/oauth/token",
                postForm + [("client_id", "poster"), ("client_secret", "post-secreT")]
            )
            try expectError(postWrong, "invalid_client", status: 400)
            let posted = try tokens(running, try await exchange(running, Self.poster, code: postCode))
            #expect(posted.claims.clientID == "poster")

            // A public client may not present a secret, by either method.
            let agentCode = try await newCode(running, for: Self.agent)
            let agentForm: [(String, String)] = [
                ("grant_type", "authorization_code"), ("code", agentCode), ("redirect_uri", Self.callback),
                ("code_verifier", Self.verifier),
            ]
            try expectError(
                try await post(running, "/oauth/token", agentForm + [("client_id", "agent"), ("client_secret", "x")]),
                "invalid_client",
                status: 400
            )
            try expectError(
                try await post(running, "/oauth/token", agentForm, auth: .basic("agent", "")),
                "invalid_client",
                status: 401
            )
        }
    }

    @Test func badTokenRequestsAreRefusedAndLeaveTheCodeUnused() async throws {
        try await withShop { running in
            let code = try await newCode(running, for: Self.agent)
            let wrongVerifier = try await exchange(
                running,
                Self.agent,
                code: code,
                verifier: "x" + String(Self.verifier.dropFirst())
            )
            try expectError(wrongVerifier, "invalid_grant")
            let missingVerifier = try await post(
                running,
                "/oauth/token",
                [
                    ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.callback),
                    ("client_id", "agent"),
                ]
            )
            try expectError(missingVerifier, "invalid_grant")
            // Loopback redirect URIs may use any port at the authorization endpoint, but the token request must repeat
            // the one the authorization request used, byte for byte.
            let otherPort = try await exchange(
                running,
                Self.agent,
                code: code,
                redirectURI: "http://127.0.0.1:8080/callback"
            )
            try expectError(otherPort, "invalid_grant")
            let trailingSlash = try await exchange(running, Self.agent, code: code, redirectURI: Self.callback + "/")
            try expectError(trailingSlash, "invalid_grant")
            let otherClient = try await exchange(running, Self.poster, code: code)
            try expectError(otherClient, "invalid_grant")
            try expectError(try await exchange(running, Self.agent, code: code + "x"), "invalid_grant")

            let missingCode = try await post(
                running,
                "/oauth/token",
                [("grant_type", "authorization_code"), ("redirect_uri", Self.callback), ("client_id", "agent")]
            )
            try expectError(missingCode, "invalid_request")
            let missingRedirect = try await post(
                running,
                "/oauth/token",
                [
                    ("grant_type", "authorization_code"), ("code", code), ("code_verifier", Self.verifier),
                    ("client_id", "agent"),
                ]
            )
            try expectError(missingRedirect, "invalid_request")
            try expectError(
                try await post(running, "/oauth/token", [("code", code), ("client_id", "agent")]),
                "invalid_request"
            )
            try expectError(
                try await post(running, "/oauth/token", [("grant_type", "password"), ("client_id", "agent")]),
                "unsupported_grant_type"
            )
            let repeated = try await post(
                running,
                "/oauth/token",
                [
                    ("grant_type", "authorization_code"), ("code", code), ("code", code),
                    ("redirect_uri", Self.callback),
                    ("code_verifier", Self.verifier), ("client_id", "agent"),
                ]
            )
            try expectError(repeated, "invalid_request")
            let json = try await post(
                running,
                "/oauth/token",
                [("grant_type", "authorization_code"), ("client_id", "agent")],
                contentType: "application/json"
            )
            try expectError(json, "invalid_request")

            // A verifier outside RFC 7636's shape is refused even when its challenge matches.
            let short = "too-short-verifier"
            let shortCode = try await newCode(running, for: Self.agent, verifier: short)
            try expectError(try await exchange(running, Self.agent, code: shortCode, verifier: short), "invalid_grant")

            // None of these used the code.
            _ = try tokens(running, try await exchange(running, Self.agent, code: code))
        }
    }

    @Test func aReusedCodeIsRefusedAndRevokesWhatItIssued() async throws {
        try await withShop { running in
            let code = try await newCode(running, for: Self.platform)
            let first = try tokens(running, try await exchange(running, Self.platform, code: code))
            #expect(try await !isRevoked(running, first.claims))
            try expectError(try await exchange(running, Self.platform, code: code), "invalid_grant")
            // The first redemption's tokens are revoked: the access token's jti and the refresh token.
            #expect(try await isRevoked(running, first.claims))
            try expectError(try await refresh(running, Self.platform, first.refresh), "invalid_grant")
            // A third try is refused the same way.
            try expectError(try await exchange(running, Self.platform, code: code), "invalid_grant")
        }
    }

    @Test func anExpiredCodeIsInvalidGrant() async throws {
        let clock = MutableClock(Date(timeIntervalSince1970: 1_795_924_800))
        try await withShop(clock: { clock.now }) { running in
            let early = try await newCode(running, for: Self.agent)
            let late = try await newCode(running, for: Self.agent)
            clock.now += 59
            let tokens = try tokens(running, try await exchange(running, Self.agent, code: early))
            // The injected clock stamps the access token.
            #expect(tokens.claims.issuedAt == 1_795_924_859 && tokens.claims.expiresAt == 1_795_925_159)
            clock.now += 1
            try expectError(try await exchange(running, Self.agent, code: late), "invalid_grant")
        }
    }

    // MARK: - Refresh

    @Test func refreshTokensRotateAndAReusedOneRevokesTheGrant() async throws {
        try await withShop { running in
            let first = try tokens(
                running,
                try await exchange(running, Self.poster, code: try await newCode(running, for: Self.poster))
            )
            let second = try tokens(running, try await refresh(running, Self.poster, first.refresh))
            #expect(second.refresh != first.refresh && second.claims.jti != first.claims.jti)
            #expect(second.claims.grantID == first.claims.grantID && second.claims.scopes == Self.scopes)
            #expect(second.claims.authTime == first.claims.authTime)
            #expect(try await !isRevoked(running, first.claims))
            #expect(try await !isRevoked(running, second.claims))
            // Another client cannot use it.
            try expectError(try await refresh(running, Self.agent, second.refresh), "invalid_grant")
            // The rotated token presented again: refused, and the whole grant with it.
            try expectError(try await refresh(running, Self.poster, first.refresh), "invalid_grant")
            try expectError(try await refresh(running, Self.poster, second.refresh), "invalid_grant")
            #expect(try await isRevoked(running, first.claims))
            #expect(try await isRevoked(running, second.claims))
        }
    }

    @Test func aRefreshMayNarrowTheScopeButNeverWiden() async throws {
        try await withShop { running in
            let first = try tokens(
                running,
                try await exchange(running, Self.agent, code: try await newCode(running, for: Self.agent))
            )
            let widened = try await refresh(
                running,
                Self.agent,
                first.refresh,
                scope: "\(IdentityScope.orderRead) \(IdentityScope.checkoutManage)"
            )
            try expectError(widened, "invalid_scope")
            // Refused without rotating: the token still works, for a narrower access token.
            let narrow = try tokens(
                running,
                try await refresh(running, Self.agent, first.refresh, scope: IdentityScope.orderRead)
            )
            #expect(
                narrow.claims.scopes == [IdentityScope.orderRead]
                    && narrow.object["scope"] as? String == IdentityScope.orderRead
            )
            // The new refresh token keeps the grant's scopes (RFC 6749 §6).
            let full = try tokens(running, try await refresh(running, Self.agent, narrow.refresh))
            #expect(full.claims.scopes == Self.scopes)
        }
    }

    @Test func anExpiredRefreshTokenIsInvalidGrant() async throws {
        let clock = MutableClock(Date(timeIntervalSince1970: 1_795_924_800))
        try await withShop(clock: { clock.now }) { running in
            let first = try tokens(
                running,
                try await exchange(running, Self.agent, code: try await newCode(running, for: Self.agent))
            )
            clock.now += 30 * 24 * 3600 - 1
            let second = try tokens(running, try await refresh(running, Self.agent, first.refresh))
            clock.now += 30 * 24 * 3600
            try expectError(try await refresh(running, Self.agent, second.refresh), "invalid_grant")
        }
    }

    // MARK: - Revocation

    @Test func revokingARefreshTokenRevokesItsGrantsAccessTokens() async throws {
        try await withShop { running in
            let first = try tokens(
                running,
                try await exchange(running, Self.platform, code: try await newCode(running, for: Self.platform))
            )
            let second = try tokens(running, try await refresh(running, Self.platform, first.refresh))
            let revoked = try await revoke(running, Self.platform, second.refresh, hint: "refresh_token")
            #expect(revoked.status == 200 && revoked.body.isEmpty && revoked.headers["Cache-Control"] == "no-store")
            #expect(try await isRevoked(running, first.claims))
            #expect(try await isRevoked(running, second.claims))
            try expectError(try await refresh(running, Self.platform, second.refresh), "invalid_grant")
            // Already revoked, unknown, or with an unknown hint: 200 all the same.
            #expect(try await revoke(running, Self.platform, second.refresh).status == 200)
            #expect(try await revoke(running, Self.platform, "no-such-token", hint: "access_token").status == 200)
            #expect(try await revoke(running, Self.platform, "no-such-token", hint: "id_token").status == 200)
            // The revocation endpoint authenticates clients as the token endpoint does.
            let wrong = try await post(
                running,
                "/oauth/revoke",
                [("token", first.refresh)],
                auth: .basic("platform:one", "x")
            )
            try expectError(wrong, "invalid_client", status: 401)
            #expect(wrong.headers["WWW-Authenticate"] == "Basic realm=\"\(running.issuer)\"")
            try expectError(try await revoke(running, Self.platform, ""), "invalid_request")
        }
    }

    @Test func revokingAnAccessTokenRevokesThatTokenAlone() async throws {
        try await withShop { running in
            let first = try tokens(
                running,
                try await exchange(running, Self.agent, code: try await newCode(running, for: Self.agent))
            )
            // The wrong hint is only a hint: both kinds are tried.
            let revoked = try await revoke(running, Self.agent, first.access, hint: "refresh_token")
            #expect(revoked.status == 200 && revoked.body.isEmpty)
            #expect(try await isRevoked(running, first.claims))
            let second = try tokens(running, try await refresh(running, Self.agent, first.refresh))
            #expect(try await !isRevoked(running, second.claims))
            #expect(try await revoke(running, Self.agent, second.access, hint: "access_token").status == 200)
            #expect(try await isRevoked(running, second.claims))
        }
    }

    @Test func anotherClientsTokenIsNotRevoked() async throws {
        try await withShop { running in
            let mine = try tokens(
                running,
                try await exchange(running, Self.agent, code: try await newCode(running, for: Self.agent))
            )
            try expectError(try await revoke(running, Self.poster, mine.refresh), "invalid_grant")
            try expectError(try await revoke(running, Self.poster, mine.access, hint: "access_token"), "invalid_grant")
            #expect(try await !isRevoked(running, mine.claims))
            _ = try tokens(running, try await refresh(running, Self.agent, mine.refresh))
        }
    }

    @Test func isRevokedRefusesWhatTheStoreDidNotIssue() async throws {
        try await withShop { running in
            let mine = try tokens(
                running,
                try await exchange(running, Self.agent, code: try await newCode(running, for: Self.agent))
            )
            let store = running.server.store
            #expect(try await !store.isRevoked(jti: mine.claims.jti, grantID: mine.claims.grantID))
            #expect(try await store.isRevoked(jti: "unknown", grantID: mine.claims.grantID))
            #expect(try await store.isRevoked(jti: mine.claims.jti, grantID: "grt_other"))
        }
    }

    // MARK: - Persistence

    @Test func codesAndTokensSurviveARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ucpsim-oauth-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var pending = ""
        var used = ""
        var issued: Tokens?
        var kid = ""
        try await withShop(stateDirectory: directory.path) { before in
            pending = try await newCode(before, for: Self.agent)
            issued = try tokens(
                before,
                try await exchange(before, Self.platform, code: try await newCode(before, for: Self.platform))
            )
            used = try await newCode(before, for: Self.agent)
            _ = try tokens(before, try await exchange(before, Self.agent, code: used))
            kid = before.server.signer.key.kid
        }
        let earlier = try #require(issued)
        try await withShop(stateDirectory: directory.path) { after in
            // The same signing key: tokens issued before still verify, and /oauth/jwks serves it.
            #expect(after.server.signer.key.kid == kid)
            #expect(try after.server.signer.verify(earlier.access).get() == earlier.claims)
            #expect(try await !isRevoked(after, earlier.claims))
            _ = try tokens(after, try await exchange(after, Self.agent, code: pending))
            _ = try tokens(after, try await refresh(after, Self.platform, earlier.refresh))
            // A code used before the restart is still used.
            try expectError(try await exchange(after, Self.agent, code: used), "invalid_grant")
        }
    }

    // MARK: - Metadata

    @Test func metadataDescribesTheServerAndAuthlibAcceptsIt() async throws {
        try await withShop { running in
            let issuer = running.issuer
            let response = try await get(running, "/.well-known/oauth-authorization-server")
            #expect(response.status == 200 && response.headers["Content-Type"] == "application/json")
            #expect(response.headers["Cache-Control"] == "public, max-age=300")
            let metadata = try object(response)
            #expect(metadata["issuer"] as? String == issuer)
            #expect(metadata["authorization_endpoint"] as? String == "\(issuer)/oauth/authorize")
            #expect(metadata["token_endpoint"] as? String == "\(issuer)/oauth/token")
            #expect(metadata["revocation_endpoint"] as? String == "\(issuer)/oauth/revoke")
            #expect(metadata["jwks_uri"] as? String == "\(issuer)/oauth/jwks")
            #expect(metadata["scopes_supported"] as? [String] == Self.scopes)
            #expect(metadata["response_types_supported"] as? [String] == ["code"])
            #expect(metadata["response_modes_supported"] as? [String] == ["query"])
            #expect(metadata["grant_types_supported"] as? [String] == ["authorization_code", "refresh_token"])
            #expect(metadata["code_challenge_methods_supported"] as? [String] == ["S256"])
            #expect(metadata["authorization_response_iss_parameter_supported"] as? Bool == true)
            let methods = ["client_secret_basic", "client_secret_post", "none"]
            #expect(metadata["token_endpoint_auth_methods_supported"] as? [String] == methods)
            #expect(metadata["revocation_endpoint_auth_methods_supported"] as? [String] == methods)
            #expect(metadata.count == 13)

            let file = try TestSupport.temporaryJSON(metadata, name: "metadata.json")
            let check = try await TestSupport.run(
                TestSupport.python,
                [TestSupport.path("Tests/tools/oauth_check.py"), "metadata", file]
            )
            #expect(check.status == 0 && check.stdout == "ok metadata\n", "\(check.stdout)\(check.stderr)")
            // authlib refuses metadata that breaks RFC 8414 (an issuer with a query): the check is not a no-op.
            var broken = metadata
            broken["issuer"] = issuer + "?x=1"
            let refused = try await TestSupport.run(
                TestSupport.python,
                [
                    TestSupport.path("Tests/tools/oauth_check.py"), "metadata",
                    try TestSupport.temporaryJSON(broken, name: "metadata.json"),
                ]
            )
            #expect(refused.status == 1 && refused.stdout.hasPrefix("invalid: "), "\(refused.stdout)")

            let resource = try await get(running, "/.well-known/oauth-protected-resource")
            #expect(resource.status == 200)
            let protected = try object(resource)
            #expect(protected["resource"] as? String == issuer)
            #expect(protected["authorization_servers"] as? [String] == [issuer])
            #expect(protected["scopes_supported"] as? [String] == Self.scopes)
            #expect(protected["bearer_methods_supported"] as? [String] == ["header"])
            #expect(protected["resource_name"] as? String == running.shop.shopFile.name)

            let jwks = try object(try await get(running, "/oauth/jwks"))
            let keys = try #require(jwks["keys"] as? [[String: Any]])
            #expect(keys.count == 1 && keys.first?["kid"] as? String == running.server.signer.key.kid)
            #expect(keys.first?["kty"] as? String == "EC" && keys.first?["crv"] as? String == "P-256")
            #expect(keys.first?["d"] == nil)
        }
    }

    @Test func aShopWithoutIdentityLinkingHasNoAuthorizationServer() async throws {
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        #expect(shop.authorization == nil)
        var statuses: [Int] = []
        for path in ["/.well-known/oauth-authorization-server", "/oauth/jwks"] {
            let response = try? await shop.client.send(OutgoingRequest(method: "GET", url: shop.server.baseURL + path))
            statuses.append(response?.status ?? 0)
        }
        await shop.stop()
        #expect(statuses == [404, 404])
    }
}

/// The pieces of the token endpoint without a server: form bodies, Basic credentials, PKCE.
@Suite struct OAuthFormTests {
    @Test func pkceMatchesRFC7636AppendixB() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        #expect(PKCE.challenge(verifier: verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        #expect(PKCE.verify(verifier: verifier, challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"))
        #expect(!PKCE.verify(verifier: verifier, challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"))
        #expect(PKCE.isValidChallenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"))
        #expect(!PKCE.isValidChallenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"))
    }

    @Test(arguments: [
        (String(repeating: "a", count: 42), false), (String(repeating: "a", count: 43), true),
        (String(repeating: "~", count: 128), true), (String(repeating: "a", count: 129), false),
        (String(repeating: "a", count: 42) + "+", false), (String(repeating: "a", count: 42) + "=", false),
        (String(repeating: "a", count: 42) + "é", false),
    ])
    func verifierShape(_ verifier: String, _ valid: Bool) {
        #expect(PKCE.isValidVerifier(verifier) == valid)
    }

    @Test func formsDecodeAndRefuseWhatIsMalformed() throws {
        let form = try OAuthForm(Array("a=x+y%2Bz%C3%A9&b=&c&d=%3D%26".utf8))
        #expect(form.values == ["a": "x y+zé", "d": "=&"])
        for bad in ["a=%ZZ", "a=%4", "a=%FF", "a=1&a=2", "a=&a=2"] {
            #expect(throws: OAuthTokenError.self, "\(bad)") { try OAuthForm(Array(bad.utf8)) }
        }
        #expect(OAuthForm.encode("s3cret +/&é%") == "s3cret+%2B%2F%26%C3%A9%25")
    }

    @Test func basicCredentialsAreFormDecoded() throws {
        let header = "Basic " + Data("platform%3Aone:s3cret+%2B%2F%26%C3%A9%25".utf8).base64EncodedString()
        let credentials = try AuthorizationServer.basicCredentials(header)
        #expect(credentials.id == "platform:one" && credentials.secret == "s3cret +/&é%")
        for bad in ["Bearer abc", "Basic", "Basic !!!", "Basic " + Data("no-colon".utf8).base64EncodedString()] {
            #expect(throws: OAuthTokenError.self, "\(bad)") { try AuthorizationServer.basicCredentials(bad) }
        }
    }
}
