import Foundation
import GRDB

extension OAuthStore {
    /// Whether the access token `jti` may no longer be used: true when it is unknown (never issued here), when it
    /// belongs to another grant than `grantID`, or when it or its grant is revoked (a grant that is gone counts as
    /// revoked: fail closed).
    public func isRevoked(jti: String, grantID: String) async throws -> Bool {
        try await database.queue.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT t.grant_id AS grant_id, t.revoked_at AS token_revoked_at, g.id AS grant_found,
                           g.revoked_at AS grant_revoked_at
                    FROM oauth_access_token t LEFT JOIN oauth_grant g ON g.id = t.grant_id
                    WHERE t.jti = ?
                    """,
                arguments: [jti]
            )
            guard let row, row["grant_id"] as String? == grantID, row["grant_found"] as String? != nil else {
                return true
            }
            return row["token_revoked_at"] as Int64? != nil || row["grant_revoked_at"] as Int64? != nil
        }
    }
}
