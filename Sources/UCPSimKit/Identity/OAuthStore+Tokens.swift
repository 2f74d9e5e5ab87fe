import Foundation
import GRDB

/// What a successful code exchange or refresh made: a grant's new refresh token and the record of the access token
/// to sign (its `jti`, times and scopes).
public struct IssuedTokens: Sendable, Equatable {
    /// The grant (redeemed code) both tokens belong to: the access token's `sid`.
    public var grantID: String
    public var clientID: String
    /// The access token's `sub`.
    public var customerID: String
    /// The access token's scopes (a refresh may narrow them; the refresh token keeps the grant's).
    public var scopes: [String]
    /// Unix seconds.
    public var authTime: Int64
    /// The new refresh token (opaque, 256 bits); only its SHA-256 is stored.
    public var refreshToken: String
    /// The access token's `jti`, recorded for revocation.
    public var jti: String
    /// Unix seconds: the access token's `iat` and `exp`.
    public var issuedAt: Int64
    public var expiresAt: Int64
}

/// What a revocation found.
public enum RevocationOutcome: Sendable, Equatable {
    /// The token (and, for a refresh token, its whole grant) is revoked now, or already was.
    case revoked
    /// No such token: RFC 7009 answers 200 all the same.
    case unknown
    /// The token was issued to another client: nothing was changed.
    case otherClient
}

extension OAuthStore {
    /// Redeems `code` for `clientID` (RFC 6749 §4.1.3) and issues a grant with its first refresh token and access
    /// token record, in one transaction.
    ///
    /// The code must be unexpired, issued to `clientID` for `redirectURI` (byte for byte), and `codeVerifier` must
    /// match its PKCE S256 challenge; otherwise `invalid_grant` and the code stays unused. A code presented again
    /// after its redemption is refused and the grant its redemption created is revoked, access tokens included
    /// (RFC 6749 §4.1.2).
    public func redeemCode(
        _ code: String,
        clientID: String,
        redirectURI: String,
        codeVerifier: String,
        accessTokenLifetime: TimeInterval,
        refreshTokenLifetime: TimeInterval
    ) async throws -> IssuedTokens {
        let at = now()
        let fresh = Fresh()
        let outcome = try await database.queue.write { db -> Result<IssuedTokens, OAuthTokenError> in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT * FROM oauth_code WHERE code_sha256 = ?",
                    arguments: [Self.digest(code)]
                )
            else { return .failure(.invalidGrant("The authorization code is unknown")) }
            let usedAt: Int64? = row["used_at"]
            if usedAt != nil {
                let grantID: String? = row["grant_id"]
                if let grantID { try Self.revokeGrant(grantID, db: db, at: at) }
                return .failure(
                    .invalidGrant("The authorization code was already used: the tokens issued for it are revoked")
                )
            }
            let expiresAt: Int64 = row["expires_at"]
            guard Self.milliseconds(at) < expiresAt else {
                return .failure(.invalidGrant("The authorization code has expired"))
            }
            let codeClient: String = row["client_id"]
            guard codeClient == clientID else {
                return .failure(.invalidGrant("The authorization code was issued to another client"))
            }
            let codeRedirect: String = row["redirect_uri"]
            guard codeRedirect == redirectURI else {
                return .failure(
                    .invalidGrant("The redirect_uri is not the one of the authorization request, byte for byte")
                )
            }
            let challenge: String = row["code_challenge"]
            guard PKCE.verify(verifier: codeVerifier, challenge: challenge) else {
                return .failure(.invalidGrant("The code_verifier does not match the code_challenge (PKCE S256)"))
            }
            let scope: String = row["scope"]
            let authTime: Int64 = row["auth_time"]
            let customerID: String = row["customer_id"]
            try db.execute(
                sql: "UPDATE oauth_code SET used_at = ?, grant_id = ? WHERE code_sha256 = ?",
                arguments: [Self.milliseconds(at), fresh.grantID, Self.digest(code)]
            )
            try db.execute(
                sql: """
                    INSERT INTO oauth_grant (id, client_id, customer_id, scope, auth_time, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [fresh.grantID, clientID, customerID, scope, authTime, Self.milliseconds(at)]
            )
            return .success(
                try Self.issue(
                    fresh,
                    grant: Granted(
                        id: fresh.grantID,
                        clientID: clientID,
                        customerID: customerID,
                        scope: scope,
                        authTime: authTime
                    ),
                    accessScopes: Self.scopes(scope),
                    db: db,
                    at: at,
                    accessTokenLifetime: accessTokenLifetime,
                    refreshTokenLifetime: refreshTokenLifetime
                )
            )
        }
        return try outcome.get()
    }

    /// Exchanges `refreshToken` of `clientID` for a new pair (RFC 6749 §6), rotating it: the presented token is
    /// marked rotated, the new one carries the same scopes, the access token `scopes` (default: all of them, which
    /// may narrow but never widen: `invalid_scope`).
    ///
    /// An unknown, expired, revoked or another client's token is `invalid_grant`. A token presented again after its
    /// rotation revokes its whole grant (someone else holds a copy) and is `invalid_grant`.
    public func refresh(
        _ refreshToken: String,
        clientID: String,
        scopes requested: [String]?,
        accessTokenLifetime: TimeInterval,
        refreshTokenLifetime: TimeInterval
    ) async throws -> IssuedTokens {
        let at = now()
        let fresh = Fresh()
        let outcome = try await database.queue.write { db -> Result<IssuedTokens, OAuthTokenError> in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT r.grant_id, r.scope, r.expires_at, r.rotated_at, g.client_id, g.customer_id,
                            g.auth_time, g.revoked_at
                        FROM oauth_refresh_token r JOIN oauth_grant g ON g.id = r.grant_id
                        WHERE r.token_sha256 = ?
                        """,
                    arguments: [Self.digest(refreshToken)]
                )
            else { return .failure(.invalidGrant("The refresh token is unknown")) }
            let granted = Granted(
                id: row["grant_id"],
                clientID: row["client_id"],
                customerID: row["customer_id"],
                scope: row["scope"],
                authTime: row["auth_time"]
            )
            guard granted.clientID == clientID else {
                return .failure(.invalidGrant("The refresh token was issued to another client"))
            }
            let revokedAt: Int64? = row["revoked_at"]
            guard revokedAt == nil else { return .failure(.invalidGrant("The refresh token has been revoked")) }
            let rotatedAt: Int64? = row["rotated_at"]
            guard rotatedAt == nil else {
                try Self.revokeGrant(granted.id, db: db, at: at)
                return .failure(
                    .invalidGrant("The refresh token was already used: every token of its grant is revoked")
                )
            }
            let expiresAt: Int64 = row["expires_at"]
            guard Self.milliseconds(at) < expiresAt else {
                return .failure(.invalidGrant("The refresh token has expired"))
            }
            let held = Self.scopes(granted.scope)
            let scopes = requested ?? held
            guard !scopes.isEmpty else {
                return .failure(.invalidScope("The scope names no scope: omit it to keep the grant's"))
            }
            if let wider = scopes.first(where: { !held.contains($0) }) {
                return .failure(.invalidScope("The scope \(wider) was not granted: a refresh may only narrow"))
            }
            try db.execute(
                sql: "UPDATE oauth_refresh_token SET rotated_at = ? WHERE token_sha256 = ?",
                arguments: [Self.milliseconds(at), Self.digest(refreshToken)]
            )
            return .success(
                try Self.issue(
                    fresh,
                    grant: granted,
                    accessScopes: scopes,
                    db: db,
                    at: at,
                    accessTokenLifetime: accessTokenLifetime,
                    refreshTokenLifetime: refreshTokenLifetime
                )
            )
        }
        return try outcome.get()
    }

    /// Revokes the grant of `refreshToken` (RFC 7009): the grant, so all its refresh tokens and every access token
    /// issued under it. A token of another client is refused and nothing changes.
    public func revokeRefreshToken(_ refreshToken: String, clientID: String) async throws -> RevocationOutcome {
        let at = now()
        return try await database.queue.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT g.id, g.client_id FROM oauth_refresh_token r JOIN oauth_grant g ON g.id = r.grant_id
                        WHERE r.token_sha256 = ?
                        """,
                    arguments: [Self.digest(refreshToken)]
                )
            else { return .unknown }
            let owner: String = row["client_id"]
            guard owner == clientID else { return .otherClient }
            try Self.revokeGrant(row["id"], db: db, at: at)
            return .revoked
        }
    }

    /// Revokes the access token `jti` alone (RFC 7009: its grant and refresh token stay). A token of another
    /// client is refused and nothing changes.
    public func revokeAccessToken(jti: String, clientID: String) async throws -> RevocationOutcome {
        let at = Self.milliseconds(now())
        return try await database.queue.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT g.client_id FROM oauth_access_token a JOIN oauth_grant g ON g.id = a.grant_id
                        WHERE a.jti = ?
                        """,
                    arguments: [jti]
                )
            else { return .unknown }
            let owner: String = row["client_id"]
            guard owner == clientID else { return .otherClient }
            try db.execute(
                sql: "UPDATE oauth_access_token SET revoked_at = COALESCE(revoked_at, ?) WHERE jti = ?",
                arguments: [at, jti]
            )
            return .revoked
        }
    }

    /// Whether the access token `jti` of grant `grantID` must be refused: it was revoked, its grant was, or this
    /// store never issued it under that grant (the resource side's check, after the signature and claims).
    public func isRevoked(jti: String, grantID: String) async throws -> Bool {
        try await database.queue.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT a.grant_id, a.revoked_at, g.revoked_at AS grant_revoked_at
                        FROM oauth_access_token a JOIN oauth_grant g ON g.id = a.grant_id
                        WHERE a.jti = ?
                        """,
                    arguments: [jti]
                )
            else { return true }
            let grant: String = row["grant_id"]
            let revoked: Int64? = row["revoked_at"]
            let grantRevoked: Int64? = row["grant_revoked_at"]
            return grant != grantID || revoked != nil || grantRevoked != nil
        }
    }

    // MARK: - Within a transaction

    /// New random ids, made before the transaction (OpenSSL's generator, not under the database's lock).
    private struct Fresh {
        let grantID = "grt_" + OAuthStore.randomToken()
        let refreshToken = OAuthStore.randomToken()
        let jti = OAuthStore.randomToken()
    }

    /// A grant as its tokens need it.
    private struct Granted {
        var id: String
        var clientID: String
        var customerID: String
        /// Space-separated.
        var scope: String
        /// Unix milliseconds.
        var authTime: Int64
    }

    /// Stores a new refresh token (the grant's full scope) and the access token record, and answers both.
    private static func issue(
        _ fresh: Fresh,
        grant: Granted,
        accessScopes: [String],
        db: Database,
        at: Date,
        accessTokenLifetime: TimeInterval,
        refreshTokenLifetime: TimeInterval
    ) throws -> IssuedTokens {
        let issuedAt = Int64(at.timeIntervalSince1970.rounded(.down))
        let expiresAt = issuedAt + Int64(accessTokenLifetime.rounded())
        try db.execute(
            sql: """
                INSERT INTO oauth_refresh_token (token_sha256, grant_id, scope, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?)
                """,
            arguments: [
                digest(fresh.refreshToken), grant.id, grant.scope, milliseconds(at),
                milliseconds(at.addingTimeInterval(refreshTokenLifetime)),
            ]
        )
        try db.execute(
            sql: "INSERT INTO oauth_access_token (jti, grant_id, expires_at) VALUES (?, ?, ?)",
            arguments: [fresh.jti, grant.id, expiresAt * 1000]
        )
        return IssuedTokens(
            grantID: grant.id,
            clientID: grant.clientID,
            customerID: grant.customerID,
            scopes: accessScopes,
            authTime: grant.authTime / 1000,
            refreshToken: fresh.refreshToken,
            jti: fresh.jti,
            issuedAt: issuedAt,
            expiresAt: expiresAt
        )
    }

    /// Revokes grant `id` and every access token issued under it (its refresh tokens die with the grant).
    private static func revokeGrant(_ id: String, db: Database, at: Date) throws {
        let stamp = milliseconds(at)
        try db.execute(
            sql: "UPDATE oauth_grant SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
            arguments: [stamp, id]
        )
        try db.execute(
            sql: "UPDATE oauth_access_token SET revoked_at = COALESCE(revoked_at, ?) WHERE grant_id = ?",
            arguments: [stamp, id]
        )
    }

    /// The scopes of a space-separated `scope` value.
    static func scopes(_ scope: String) -> [String] {
        scope.split(separator: " ").map(String.init)
    }
}
