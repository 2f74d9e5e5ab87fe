/// Which keys a release can publish and sign with.
extension KeyRing {
    /// Refuses a key ring the shop's release cannot publish whole: every key needs an algorithm `version` lists
    /// (no Ed25519 under 2026-04-08), and each older release's leaf profile needs at least one key it lists.
    public func check(version: UCPVersion, olderVersions: [UCPVersion] = []) throws(UCPSimError) {
        for key in keys where !version.algorithms.contains(key.algorithm) {
            throw UCPSimError(
                .usage,
                "key \(key.kid) is \(key.algorithm.jwsName), which UCP \(version.rawValue) does not list "
                    + "(it lists \(version.algorithmNames)); use another key or --ucp-version \(UCPVersion.newest.rawValue)"
            )
        }
        for older in olderVersions where !keys.contains(where: { older.algorithms.contains($0.algorithm) }) {
            throw UCPSimError(
                .usage,
                "--supported-version \(older.rawValue): no key to publish in its profile (it lists \(older.algorithmNames))"
            )
        }
    }
}
