import Foundation

/// The claims of an access token (RFC 9068 JWT profile for OAuth 2.0 access tokens).
public struct AccessTokenClaims: Sendable, Equatable, Codable {
    /// The authorization server's issuer (RFC 8414 `issuer`).
    public var issuer: String
    /// The resource server: the shop's base URL (RFC 9728 `resource`).
    public var audience: String
    /// The customer's id.
    public var subject: String
    public var clientID: String
    public var scopes: [String]
    /// Unix seconds.
    public var issuedAt: Int64
    public var expiresAt: Int64
    public var authTime: Int64
    public var jti: String
    /// The grant (redeemed code) the token belongs to: revoking the grant's refresh token revokes it.
    public var grantID: String

    public init(
        issuer: String,
        audience: String,
        subject: String,
        clientID: String,
        scopes: [String],
        issuedAt: Int64,
        expiresAt: Int64,
        authTime: Int64,
        jti: String,
        grantID: String
    ) {
        self.issuer = issuer
        self.audience = audience
        self.subject = subject
        self.clientID = clientID
        self.scopes = scopes
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.authTime = authTime
        self.jti = jti
        self.grantID = grantID
    }

    enum CodingKeys: String, CodingKey {
        case issuer = "iss"
        case audience = "aud"
        case subject = "sub"
        case clientID = "client_id"
        case scope
        case issuedAt = "iat"
        case expiresAt = "exp"
        case authTime = "auth_time"
        case jti
        case grantID = "sid"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        issuer = try container.decode(String.self, forKey: .issuer)
        // RFC 7519: `aud` is a string or an array of strings; ours is one string.
        if let one = try? container.decode(String.self, forKey: .audience) {
            audience = one
        } else {
            let many = try container.decode([String].self, forKey: .audience)
            guard many.count == 1 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .audience,
                    in: container,
                    debugDescription: "aud must name this shop alone"
                )
            }
            audience = many[0]
        }
        subject = try container.decode(String.self, forKey: .subject)
        clientID = try container.decode(String.self, forKey: .clientID)
        scopes = try container.decode(String.self, forKey: .scope).split(separator: " ").map(String.init)
        issuedAt = try container.decode(Int64.self, forKey: .issuedAt)
        expiresAt = try container.decode(Int64.self, forKey: .expiresAt)
        authTime = try container.decode(Int64.self, forKey: .authTime)
        jti = try container.decode(String.self, forKey: .jti)
        grantID = try container.decode(String.self, forKey: .grantID)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(issuer, forKey: .issuer)
        try container.encode(audience, forKey: .audience)
        try container.encode(subject, forKey: .subject)
        try container.encode(clientID, forKey: .clientID)
        try container.encode(scopes.joined(separator: " "), forKey: .scope)
        try container.encode(issuedAt, forKey: .issuedAt)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(authTime, forKey: .authTime)
        try container.encode(jti, forKey: .jti)
        try container.encode(grantID, forKey: .grantID)
    }
}

/// Why an access token was refused (the `error_description` of the 401's `WWW-Authenticate`).
public struct TokenProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// Signs and verifies access tokens: compact JWS, ES256 through OpenSSL, `typ: at+jwt` (RFC 9068), with the key
/// `jwks_uri` publishes.
public struct TokenSigner: Sendable {
    public let key: SigningKey
    /// The public key, for verification.
    let publicKey: PublicKey

    public init(key: SigningKey) throws(CryptoError) {
        self.key = key
        publicKey = try key.publicKey()
    }

    /// The JWKS `jwks_uri` serves (`{"keys": [...]}`).
    public var jwks: [JWK] { [publicKey.jwk] }

    /// The compact JWS of `claims`.
    public func sign(_ claims: AccessTokenClaims) throws -> String {
        let header = Header(alg: key.algorithm.jwsName, kid: key.kid, typ: "at+jwt")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let input =
            Base64URL.encode([UInt8](try encoder.encode(header))) + "."
            + Base64URL.encode([UInt8](try encoder.encode(claims)))
        let signature = try key.sign(Array(input.utf8))
        return input + "." + Base64URL.encode(signature)
    }

    /// The claims of `token` when it is a JWS this signer made: its header names our algorithm and key and the
    /// `at+jwt` type, its signature verifies, and its claims decode. Issuer, audience, expiry and revocation are the
    /// caller's to check (`IdentityGuard`).
    public func verify(_ token: String) -> Result<AccessTokenClaims, TokenProblem> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(String(parts[0])),
            let claimBytes = Base64URL.decode(String(parts[1])), let signature = Base64URL.decode(String(parts[2]))
        else { return .failure(TokenProblem("The access token is not a JWT")) }
        guard let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)) else {
            return .failure(TokenProblem("The access token's JOSE header is malformed"))
        }
        guard header.alg == key.algorithm.jwsName else {
            return .failure(TokenProblem("The access token's alg \(header.alg) is not \(key.algorithm.jwsName)"))
        }
        guard header.typ?.lowercased() == "at+jwt" || header.typ?.lowercased() == "application/at+jwt" else {
            return .failure(TokenProblem("The token is not an access token (typ at+jwt)"))
        }
        guard header.kid == key.kid else { return .failure(TokenProblem("The access token's key is unknown")) }
        let input = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        guard publicKey.verify(signature: signature, message: input) else {
            return .failure(TokenProblem("The access token's signature does not verify"))
        }
        guard let claims = try? JSONDecoder().decode(AccessTokenClaims.self, from: Data(claimBytes)) else {
            return .failure(TokenProblem("The access token's claims are malformed"))
        }
        return .success(claims)
    }

    private struct Header: Codable {
        var alg: String
        var kid: String?
        var typ: String?
    }
}
