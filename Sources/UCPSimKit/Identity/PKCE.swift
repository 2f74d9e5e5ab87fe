import Foundation

/// Proof Key for Code Exchange (RFC 7636), S256 only: `plain` is not offered.
public enum PKCE {
    /// Whether `verifier` has RFC 7636 §4.1's shape: 43–128 characters of `[A-Za-z0-9-._~]`.
    public static func isValidVerifier(_ verifier: String) -> Bool {
        (43...128).contains(verifier.utf8.count) && verifier.utf8.allSatisfy(isUnreserved)
    }

    /// Whether `challenge` can be an S256 challenge: 43 base64url characters (32 bytes, no padding).
    public static func isValidChallenge(_ challenge: String) -> Bool {
        challenge.utf8.count == 43 && Base64URL.decode(challenge)?.count == 32
    }

    /// `BASE64URL(SHA256(ASCII(verifier)))`, the S256 challenge of `verifier`.
    public static func challenge(verifier: String) -> String {
        Base64URL.encode(DigestAlgorithm.sha256.hash(Array(verifier.utf8)))
    }

    /// Whether `verifier` is well formed and its S256 challenge is `challenge` (compared in constant time).
    public static func verify(verifier: String, challenge expected: String) -> Bool {
        guard isValidVerifier(verifier) else { return false }
        return HMACSHA256.constantTimeEqual(Array(challenge(verifier: verifier).utf8), Array(expected.utf8))
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }
}
