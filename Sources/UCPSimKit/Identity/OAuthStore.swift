import Foundation
import GRDB

/// What a customer granted a client at the authorization endpoint: kept with its code until the code is redeemed.
public struct AuthorizationGrant: Sendable, Equatable {
    public var clientID: String
    /// The shop file customer's id (the access token's `sub`).
    public var customerID: String
    /// As the authorization request gave it: the token request must repeat it byte for byte.
    public var redirectURI: String
    /// Granted scopes, in the order requested.
    public var scopes: [String]
    /// The PKCE S256 `code_challenge` (base64url of SHA-256 of the verifier).
    public var codeChallenge: String
    /// When the customer signed in.
    public var authTime: Date

    public init(
        clientID: String,
        customerID: String,
        redirectURI: String,
        scopes: [String],
        codeChallenge: String,
        authTime: Date
    ) {
        self.clientID = clientID
        self.customerID = customerID
        self.redirectURI = redirectURI
        self.scopes = scopes
        self.codeChallenge = codeChallenge
        self.authTime = authTime
    }
}

/// The authorization server's state in the shop's database (`DIR/ucpsim.sqlite`), so codes and tokens survive a
/// restart of `serve` on the same state directory: authorization codes, grants (one per redeemed code: the family
/// its refresh and access tokens belong to), refresh tokens (rotating), issued access tokens (by `jti`, for
/// revocation) and the key that signs access tokens.
///
/// Codes and refresh tokens are stored as SHA-256 digests only: the database never holds a usable credential.
public struct OAuthStore: Sendable {
    let database: ShopDatabase
    let now: @Sendable () -> Date

    public init(database: ShopDatabase, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.now = now
    }

    /// Keeps `grant` under a new random code, valid `lifetime`, and answers the code.
    public func issueCode(_ grant: AuthorizationGrant, lifetime: TimeInterval) async throws -> String {
        let code = Self.randomToken()
        let issued = now()
        try await database.queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO oauth_code
                        (code_sha256, client_id, customer_id, redirect_uri, scope, code_challenge, auth_time,
                         created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Self.digest(code), grant.clientID, grant.customerID, grant.redirectURI,
                    grant.scopes.joined(separator: " "), grant.codeChallenge, Self.milliseconds(grant.authTime),
                    Self.milliseconds(issued), Self.milliseconds(issued.addingTimeInterval(lifetime)),
                ]
            )
        }
        return code
    }

    /// The key that signs access tokens: made on first use and kept in the database (ES256).
    public func signingKey() async throws -> SigningKey {
        let kept = try await database.queue.read { db -> [String]? in
            try Row.fetchOne(db, sql: "SELECT kid, pem FROM oauth_signing_key ORDER BY created_at DESC LIMIT 1")
                .map { [$0["kid"], $0["pem"]] }
        }
        if let kept, kept.count == 2 {
            return try SigningKey(pem: Array(kept[1].utf8), kid: kept[0])
        }
        let kid = "ucpsim-at-" + String(Self.randomToken().prefix(8))
        let key = try SigningKey.generate(.es256, kid: kid)
        let pem = try key.privateKeyPEM()
        let stamp = Self.milliseconds(now())
        try await database.queue.write { db in
            try db.execute(
                sql: "INSERT INTO oauth_signing_key (kid, pem, created_at) VALUES (?, ?, ?)",
                arguments: [kid, pem, stamp]
            )
        }
        return key
    }

    // MARK: - Schema

    /// Migration `v6 identity linking`.
    static func migrate(_ db: Database) throws {
        try db.create(table: "oauth_code") { table in
            // SHA-256 of the code, lowercase hex.
            table.primaryKey("code_sha256", .text)
            table.column("client_id", .text).notNull()
            table.column("customer_id", .text).notNull()
            table.column("redirect_uri", .text).notNull()
            // Space-separated, as OAuth writes scopes.
            table.column("scope", .text).notNull()
            table.column("code_challenge", .text).notNull()
            // Unix milliseconds.
            table.column("auth_time", .integer).notNull()
            table.column("created_at", .integer).notNull()
            table.column("expires_at", .integer).notNull()
            // Set when the code is redeemed; a second redemption finds it set and revokes `grant_id`.
            table.column("used_at", .integer)
            table.column("grant_id", .text)
        }
        try db.create(table: "oauth_grant") { table in
            // One per redeemed code: its refresh tokens (rotating) and access tokens all belong to it.
            table.primaryKey("id", .text)
            table.column("client_id", .text).notNull()
            table.column("customer_id", .text).notNull()
            table.column("scope", .text).notNull()
            table.column("auth_time", .integer).notNull()
            table.column("created_at", .integer).notNull()
            // Set by revocation (of a refresh token, or a reused code or refresh token): every token of the grant
            // is refused from then on.
            table.column("revoked_at", .integer)
        }
        try db.create(table: "oauth_refresh_token") { table in
            table.primaryKey("token_sha256", .text)
            table.column("grant_id", .text).notNull().indexed()
            table.column("scope", .text).notNull()
            table.column("created_at", .integer).notNull()
            table.column("expires_at", .integer).notNull()
            // Set when it was exchanged for a new pair (rotation): presenting it again revokes the grant.
            table.column("rotated_at", .integer)
        }
        try db.create(table: "oauth_access_token") { table in
            // The JWT's `jti`.
            table.primaryKey("jti", .text)
            table.column("grant_id", .text).notNull().indexed()
            table.column("expires_at", .integer).notNull()
            table.column("revoked_at", .integer)
        }
        try db.create(table: "customer_order") { table in
            // Orders placed with a buyer token: whose they are (`CustomerOrders`).
            table.primaryKey("order_id", .text)
            table.column("customer_id", .text).notNull().indexed()
            table.column("created_at", .integer).notNull()
        }
        try db.create(table: "oauth_signing_key") { table in
            table.primaryKey("kid", .text)
            // PKCS#8 PEM: the database file is created 0600.
            table.column("pem", .text).notNull()
            table.column("created_at", .integer).notNull()
        }
    }

    // MARK: - Helpers

    /// 32 random bytes from OpenSSL, base64url (256 bits: codes, refresh tokens, ids).
    static func randomToken() -> String {
        Base64URL.encode(SecureRandom.bytes(32))
    }

    /// SHA-256 of `text`, lowercase hex: how codes and refresh tokens are stored.
    static func digest(_ text: String) -> String {
        DigestAlgorithm.sha256.hash(Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
}
