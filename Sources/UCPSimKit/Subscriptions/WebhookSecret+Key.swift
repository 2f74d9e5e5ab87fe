import CLibCrypto
import Foundation

extension WebhookSecret {
    /// A new secret: `whsec_` + base64 of 32 random bytes from OpenSSL's `RAND_bytes`.
    public static func generate() -> WebhookSecret {
        var bytes = SecureRandom.bytes(32)
        defer { OPENSSL_cleanse(&bytes, bytes.count) }
        return WebhookSecret(prefix + Data(bytes).base64EncodedString())
    }
}
