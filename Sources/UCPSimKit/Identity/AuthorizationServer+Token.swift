import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension AuthorizationServer {
    /// The largest token or revocation request body, in bytes (a few hundred in practice).
    static let tokenBodyLimit = 64 * 1024

    /// `POST /oauth/token` (authorization_code, refresh_token) and `POST /oauth/revoke` (RFC 7009).
    func addTokenRoutes(to router: Router<BasicRequestContext>) {
        router.post("/oauth/token") { request, _ -> Response in
            await answer(request) { form, authorization async throws in
                try await tokenResponse(form: form, authorization: authorization)
            }
        }
        router.post("/oauth/revoke") { request, _ -> Response in
            await answer(request) { form, authorization async throws in
                try await revoke(form: form, authorization: authorization)
                return Self.oauthResponse([], status: .ok, contentType: nil)
            }
        }
    }

    /// The token endpoint's answer to a form (RFC 6749 §4.1.3, §6): the client authenticated, the grant checked
    /// and redeemed, an access token signed.
    func tokenResponse(form: OAuthForm, authorization: String?) async throws -> Response {
        let client = try authenticateClient(form: form, authorization: authorization)
        guard let grantType = form["grant_type"] else { throw OAuthTokenError.invalidRequest("grant_type is missing") }
        let issued: IssuedTokens
        switch grantType {
        case "authorization_code":
            guard let code = form["code"] else { throw OAuthTokenError.invalidRequest("code is missing") }
            guard let redirectURI = form["redirect_uri"] else {
                throw OAuthTokenError.invalidRequest("redirect_uri is missing: repeat the authorization request's")
            }
            guard let verifier = form["code_verifier"] else {
                throw OAuthTokenError.invalidGrant("code_verifier is missing: PKCE S256 is required")
            }
            issued = try await store.redeemCode(
                code,
                clientID: client.id,
                redirectURI: redirectURI,
                codeVerifier: verifier,
                accessTokenLifetime: setup.accessTokenLifetime,
                refreshTokenLifetime: setup.refreshTokenLifetime
            )
        case "refresh_token":
            guard let token = form["refresh_token"] else {
                throw OAuthTokenError.invalidRequest("refresh_token is missing")
            }
            issued = try await store.refresh(
                token,
                clientID: client.id,
                scopes: form["scope"].map(OAuthStore.scopes),
                accessTokenLifetime: setup.accessTokenLifetime,
                refreshTokenLifetime: setup.refreshTokenLifetime
            )
        default:
            throw OAuthTokenError(
                .unsupportedGrantType,
                "grant_type \(grantType) is not supported: use authorization_code or refresh_token"
            )
        }
        let accessToken = try signAccessToken(issued)
        let body = TokenResponse(
            accessToken: accessToken,
            tokenType: "Bearer",
            expiresIn: issued.expiresAt - issued.issuedAt,
            refreshToken: issued.refreshToken,
            scope: issued.scopes.joined(separator: " ")
        )
        return Self.oauthResponse(try Self.encode(body), status: .ok)
    }

    /// The access token (compact JWS, ES256, `typ: at+jwt`) of `issued`, as the token endpoint answers it.
    public func signAccessToken(_ issued: IssuedTokens) throws -> String {
        try signer.sign(accessTokenClaims(issued))
    }

    /// The claims of the access token `issued` describes (RFC 9068): issuer and audience are the shop.
    public func accessTokenClaims(_ issued: IssuedTokens) -> AccessTokenClaims {
        AccessTokenClaims(
            issuer: issuer,
            audience: issuer,
            subject: issued.customerID,
            clientID: issued.clientID,
            scopes: issued.scopes,
            issuedAt: issued.issuedAt,
            expiresAt: issued.expiresAt,
            authTime: issued.authTime,
            jti: issued.jti,
            grantID: issued.grantID
        )
    }

    /// The revocation endpoint's work (RFC 7009): `token` revoked when it is this client's; an unknown or revoked
    /// token is fine; another client's is `invalid_grant`. `token_type_hint` says which kind to try first (an
    /// unknown hint is ignored); both are tried.
    func revoke(form: OAuthForm, authorization: String?) async throws {
        let client = try authenticateClient(form: form, authorization: authorization)
        guard let token = form["token"] else { throw OAuthTokenError.invalidRequest("token is missing") }
        let accessFirst = form["token_type_hint"] == "access_token"
        for tryAccess in accessFirst ? [true, false] : [false, true] {
            let outcome: RevocationOutcome
            if tryAccess {
                guard case .success(let claims) = signer.verify(token) else { continue }
                outcome = try await store.revokeAccessToken(jti: claims.jti, clientID: client.id)
            } else {
                outcome = try await store.revokeRefreshToken(token, clientID: client.id)
            }
            switch outcome {
            case .revoked: return
            case .unknown: continue
            case .otherClient: throw OAuthTokenError.invalidGrant("The token was issued to another client")
            }
        }
    }

    /// The registered client that authenticated `form` and `authorization` with its registered method (RFC 6749
    /// §2.3): `client_secret_basic` (the Authorization header, id and secret form-urlencoded), `client_secret_post`
    /// (`client_id` and `client_secret` in the form) or `none` (`client_id` alone). One method per request.
    func authenticateClient(form: OAuthForm, authorization: String?) throws(OAuthTokenError) -> OAuthClient {
        var basic: (id: String, secret: String)?
        if let authorization {
            basic = try Self.basicCredentials(authorization)
        }
        let bodySecret = form["client_secret"]
        if basic != nil && bodySecret != nil {
            throw .invalidRequest("The client used two authentication methods: Basic and client_secret")
        }
        if let basic, let bodyID = form["client_id"], bodyID != basic.id {
            throw .invalidClient("client_id in the body differs from the Authorization header's")
        }
        guard let id = basic?.id ?? form["client_id"] else {
            throw .invalidClient("Client authentication is required: HTTP Basic, or client_id in the body")
        }
        guard let client = setup.client(id) else { throw .invalidClient("The client \(id) is not registered") }
        let used: OAuthClient.AuthMethod =
            basic != nil ? .clientSecretBasic : bodySecret != nil ? .clientSecretPost : .none
        guard used == client.authMethod else {
            throw .invalidClient(
                "The client \(id) is registered for \(client.authMethod.rawValue), not \(used.rawValue)"
            )
        }
        guard let presented = basic?.secret ?? bodySecret else { return client }
        // Digests first: equal lengths, so the comparison's time says nothing about the secret's length either.
        guard let secret = client.secret,
            HMACSHA256.constantTimeEqual(
                DigestAlgorithm.sha256.hash(Array(secret.utf8)),
                DigestAlgorithm.sha256.hash(Array(presented.utf8))
            )
        else { throw .invalidClient("The client secret is wrong") }
        return client
    }

    /// The id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1: each form-urlencoded, then joined
    /// by `:` and base64-encoded). Any other scheme is a failed client authentication.
    static func basicCredentials(_ header: String) throws(OAuthTokenError) -> (id: String, secret: String) {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic" else {
            throw .invalidClient("Only HTTP Basic client authentication is accepted in the Authorization header")
        }
        guard let decoded = Data(base64Encoded: parts[1].trimmingCharacters(in: .whitespaces)),
            let colon = decoded.firstIndex(of: UInt8(ascii: ":")),
            let id = OAuthForm.decode(Array(decoded[..<colon])),
            let secret = OAuthForm.decode(Array(decoded[decoded.index(after: colon)...])),
            !id.isEmpty
        else { throw .invalidClient("The Basic credentials are malformed: base64 of id:secret, each form-urlencoded") }
        return (id, secret)
    }

    /// Reads a form request and runs `work`, answering its `OAuthTokenError` as RFC 6749 §5.2 JSON (401 and a
    /// Basic challenge for `invalid_client` when the request carried an Authorization header).
    private func answer(
        _ request: Request,
        _ work: (OAuthForm, String?) async throws -> Response
    ) async -> Response {
        let authorization = request.headers[.authorization]
        do {
            let mediaType = request.headers[.contentType]?.split(separator: ";").first
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard mediaType == "application/x-www-form-urlencoded" else {
                throw OAuthTokenError.invalidRequest("The body must be application/x-www-form-urlencoded")
            }
            var request = request
            let body: [UInt8]
            do {
                body = [UInt8](buffer: try await request.collectBody(upTo: Self.tokenBodyLimit))
            } catch {
                throw OAuthTokenError.invalidRequest("The body is larger than \(Self.tokenBodyLimit) bytes")
            }
            return try await work(try OAuthForm(body), authorization)
        } catch let error as OAuthTokenError {
            var headers: HTTPFields = [:]
            if error.code == .invalidClient && authorization != nil {
                headers[.wwwAuthenticate] = "Basic realm=\"\(issuer)\""
            }
            let body = ErrorResponse(error: error.code.rawValue, errorDescription: error.detail)
            // RFC 6749 §5.2: a 401 only when the client tried the Authorization header (and then with the Basic
            // challenge); a client that authenticated in the body, or not at all, gets 400.
            let status = error.code == .invalidClient && authorization == nil ? 400 : error.status
            return Self.oauthResponse(
                (try? Self.encode(body)) ?? [],
                status: HTTPResponse.Status(code: status),
                headers: headers
            )
        } catch {
            let body = ErrorResponse(error: "server_error", errorDescription: "The server could not answer")
            return Self.oauthResponse((try? Self.encode(body)) ?? [], status: .internalServerError)
        }
    }

    /// An answer of the token or revocation endpoint: never cached (RFC 6749 §5.1).
    static func oauthResponse(
        _ body: [UInt8],
        status: HTTPResponse.Status,
        headers extra: HTTPFields = [:],
        contentType: String? = "application/json"
    ) -> Response {
        var headers = extra
        if let contentType { headers[.contentType] = contentType }
        headers[.cacheControl] = "no-store"
        headers[ResponseSigning.field("Pragma")] = "no-cache"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// JSON with sorted keys and unescaped slashes.
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try encoder.encode(value))
    }

    /// RFC 6749 §5.1.
    private struct TokenResponse: Encodable {
        var accessToken: String
        var tokenType: String
        var expiresIn: Int64
        var refreshToken: String
        var scope: String

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case tokenType = "token_type"
            case expiresIn = "expires_in"
            case refreshToken = "refresh_token"
            case scope
        }
    }

    /// RFC 6749 §5.2.
    private struct ErrorResponse: Encodable {
        var error: String
        var errorDescription: String

        enum CodingKeys: String, CodingKey {
            case error
            case errorDescription = "error_description"
        }
    }
}
