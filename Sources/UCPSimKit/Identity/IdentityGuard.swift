import Foundation
import HTTPTypes

/// A customer a valid access token speaks for.
public struct BuyerIdentity: Sendable, Equatable {
    public var customerID: String
    public var clientID: String
    public var scopes: [String]

    public init(customerID: String, clientID: String, scopes: [String]) {
        self.customerID = customerID
        self.clientID = clientID
        self.scopes = scopes
    }
}

/// A refusal of the resource server: 401 `identity_required` (no token, or a bad one: then with
/// `error="invalid_token"`) or 403 `insufficient_scope`, with its `WWW-Authenticate: Bearer` challenge.
public struct IdentityChallenge: Error, Sendable, Equatable {
    /// 401 or 403.
    public let status: HTTPResponse.Status
    /// The message code of the body: `identity_required` or `insufficient_scope`.
    public let code: String
    /// The message's sentence.
    public let content: String
    /// The `WWW-Authenticate` value.
    public let challenge: String

    /// The headers of the answer.
    public var headers: HTTPFields { [.wwwAuthenticate: challenge] }

    /// The body: the spec's `error_response`, with the call's envelope.
    public func reply(_ call: ShoppingCall) -> ShoppingReply {
        var reply = ShoppingReply.error(call, code: code, content, severity: .requiresBuyerReview)
        reply.status = status
        return reply
    }
}

/// The resource server's side of identity linking: validates the Bearer access token of a request (signature,
/// `iss`, `aud`, `exp`, `iat`, client, revocation) and answers the spec's 401 `identity_required` / 403
/// `insufficient_scope` challenges.
public struct IdentityGuard: Sendable {
    public let issuer: String
    public let resourceMetadataURL: String
    public let setup: IdentitySetup
    public let signer: TokenSigner
    public let store: OAuthStore
    /// Who can sign in (the shop file's customers): a token's `sub` must be one of them.
    public let customers: [ShopFile.Customer]
    public let now: @Sendable () -> Date

    /// How far in the future a token's `iat` may be (clock skew between the shop's own clocks is none; this is for
    /// a restarted shop on a corrected clock).
    public static let issuedAtLeeway: TimeInterval = 60

    public init(server: AuthorizationServer) {
        issuer = server.issuer
        resourceMetadataURL = server.resourceMetadataURL
        setup = server.setup
        signer = server.signer
        store = server.store
        customers = server.customers
        now = server.now
    }

    /// The customer `id` names (a token's `sub`).
    public func customer(id: String) -> ShopFile.Customer? { customers.first { $0.id == id } }

    /// The buyer the request's `Authorization: Bearer` token speaks for: nil when the request has no
    /// `Authorization`; a 401 `invalid_token` challenge when it has a malformed one, several, or a token that does
    /// not validate. A store that cannot be read fails closed (503).
    ///
    /// A token of a client bound to a platform (`OAuthClient.profile`) is accepted only when `platform` (the request's
    /// `UCP-Agent` profile) is that profile and `signature` (the request's, verified against that profile's keys)
    /// covers `Authorization` and was created at most `boundSignatureMaxAge` ago: a captured signed request cannot
    /// carry another stolen token, nor be replayed for long.
    public func authenticate(
        _ headers: HTTPFields,
        platform: String? = nil,
        signature: SignatureParameters? = nil
    ) async throws(APIError) -> Result<BuyerIdentity?, IdentityChallenge> {
        let values = headers[values: .authorization]
        guard !values.isEmpty else { return .success(nil) }
        guard values.count == 1, let token = Self.bearerToken(values[0]) else {
            return .failure(
                invalidToken(
                    values.count == 1
                        ? TokenProblem("The Authorization header is not Bearer <token> (RFC 6750)")
                        : TokenProblem("The request has more than one Authorization header")
                )
            )
        }
        switch try await validate(token) {
        case .success(let buyer):
            if let bound = setup.client(buyer.clientID)?.profile,
                let problem = Self.bindingProblem(bound: bound, platform: platform, signature: signature)
            {
                return .failure(invalidToken(problem))
            }
            return .success(buyer)
        case .failure(let problem): return .failure(invalidToken(problem))
        }
    }

    /// How old a bound token's request signature may be (its `created`), in seconds.
    public static let boundSignatureMaxAge: Int64 = 300

    /// Why a request may not present a token of a client bound to the platform `bound`; nil when it may.
    static func bindingProblem(bound: String, platform: String?, signature: SignatureParameters?) -> TokenProblem? {
        let wanted =
            "present it in a request that platform signed, covering Authorization, created at most "
            + "\(boundSignatureMaxAge) s ago"
        guard platform == bound, let signature else {
            return TokenProblem("The access token was issued to the platform \(bound): \(wanted)")
        }
        guard signature.components.contains("authorization") else {
            return TokenProblem("The request's signature does not cover Authorization: \(wanted)")
        }
        // The wire's clock, as the signature verifier's (not the shop's, which --fixed-time may stop).
        let now = Int64(Date().timeIntervalSince1970)
        guard let created = signature.created, now - created <= boundSignatureMaxAge else {
            return TokenProblem("The request's signature has no created time or is too old: \(wanted)")
        }
        return nil
    }

    /// Validates an access token: our signature, `iss` and `aud` our issuer, not expired (no leeway), not issued
    /// in the future (beyond `issuedAtLeeway`), a registered client, a known customer, and not revoked (the token or
    /// its grant).
    public func validate(_ token: String) async throws(APIError) -> Result<BuyerIdentity, TokenProblem> {
        let claims: AccessTokenClaims
        switch signer.verify(token) {
        case .success(let verified): claims = verified
        case .failure(let problem): return .failure(problem)
        }
        let now = now().timeIntervalSince1970
        guard claims.issuer == issuer else {
            return .failure(TokenProblem("The access token's issuer is not this shop"))
        }
        guard claims.audience == issuer else {
            return .failure(TokenProblem("The access token's audience is not this shop"))
        }
        guard Double(claims.expiresAt) > now else { return .failure(TokenProblem("The access token expired")) }
        guard Double(claims.issuedAt) <= now + Self.issuedAtLeeway else {
            return .failure(TokenProblem("The access token is issued in the future"))
        }
        guard setup.client(claims.clientID) != nil else {
            return .failure(TokenProblem("The access token's client is not registered"))
        }
        guard customer(id: claims.subject) != nil else {
            return .failure(TokenProblem("The access token's customer is unknown"))
        }
        let revoked: Bool
        do {
            revoked = try await store.isRevoked(jti: claims.jti, grantID: claims.grantID)
        } catch {
            var answer = APIError(
                .serviceUnavailable,
                code: "unavailable",
                "cannot check the access token's revocation: \(ShopDatabase.describe(error))"
            )
            answer.headers[.retryAfter] = "1"
            throw answer
        }
        guard !revoked else { return .failure(TokenProblem("The access token was revoked")) }
        return .success(BuyerIdentity(customerID: claims.subject, clientID: claims.clientID, scopes: claims.scopes))
    }

    /// A 403 `insufficient_scope` when `buyer` lacks one of `required` (the full set goes in the challenge).
    public func check(_ buyer: BuyerIdentity, has required: [String]) -> IdentityChallenge? {
        guard required.contains(where: { !buyer.scopes.contains($0) }) else { return nil }
        let scope = required.joined(separator: " ")
        return IdentityChallenge(
            status: .forbidden,
            code: "insufficient_scope",
            content: "This operation requires scopes: \(required.joined(separator: ", "))",
            challenge: challenge([("error", "insufficient_scope"), ("scope", scope)])
        )
    }

    /// The 401 when the request has no token: the challenge without `error` (RFC 6750 §3.1).
    public func identityRequired(_ content: String = "User identity is required for this operation.")
        -> IdentityChallenge
    {
        IdentityChallenge(status: .unauthorized, code: "identity_required", content: content, challenge: challenge([]))
    }

    /// The 401 for a token that was sent and does not validate.
    public func invalidToken(_ problem: TokenProblem) -> IdentityChallenge {
        IdentityChallenge(
            status: .unauthorized,
            code: "identity_required",
            content: "User identity is required. \(problem.description).",
            challenge: challenge([("error", "invalid_token"), ("error_description", problem.description)])
        )
    }

    /// `Bearer realm="…", <parameters>, resource_metadata="…"`, each value a quoted-string.
    func challenge(_ parameters: [(String, String)]) -> String {
        let all = [("realm", issuer)] + parameters + [("resource_metadata", resourceMetadataURL)]
        return "Bearer " + all.map { "\($0.0)=\(Self.quoted($0.1))" }.joined(separator: ", ")
    }

    /// `value` as an RFC 9110 quoted-string: `"` and `\` escaped, characters outside printable ASCII dropped (RFC
    /// 6750 restricts `error_description` to them).
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars where scalar.value >= 0x20 && scalar.value < 0x7F {
            if scalar == "\"" || scalar == "\\" { out.append("\\") }
            out.unicodeScalars.append(scalar)
        }
        return out + "\""
    }

    /// The token of `Bearer <token>` (RFC 6750 §2.1: the scheme case-insensitive, one or more spaces, a b64token);
    /// nil for anything else.
    static func bearerToken(_ value: String) -> String? {
        let parts = value.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1]
        guard let first = token.unicodeScalars.first, first != "=" else { return nil }
        var sawEquals = false
        for scalar in token.unicodeScalars {
            if scalar == "=" {
                sawEquals = true
            } else if sawEquals || !Self.tokenCharacters.contains(scalar) {
                return nil
            }
        }
        return String(token)
    }

    private static let tokenCharacters = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
    )
}
