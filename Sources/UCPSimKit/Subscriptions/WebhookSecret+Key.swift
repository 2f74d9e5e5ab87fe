import CLibCrypto
import Foundation

extension WebhookSecret {
    /// The prefix of generated secrets (as Standard Webhooks writes them).
    public static let prefix = "whsec_"
    /// How many key bytes a secret must give (see `keyBytes(for:)`).
    public static let keyLengths = 24...64

    /// A new secret: `whsec_` + base64 of 32 random bytes from OpenSSL's `RAND_bytes`.
    public static func generate() -> WebhookSecret {
        var bytes = [UInt8](repeating: 0, count: 32)
        let ok = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        // OpenSSL's generator failing means the process has no entropy source: nothing safe to fall back to.
        precondition(ok == 1, "RAND_bytes failed")
        defer { OPENSSL_cleanse(&bytes, bytes.count) }
        return WebhookSecret(prefix + Data(bytes).base64EncodedString())
    }

    /// The HMAC key `dialect` signs with: for `standard-webhooks` the base64-decoded bytes after an optional
    /// `whsec_` prefix (as that spec says; nil when they are not base64); for `ucp-hmac` (and `ucp`, which does not
    /// use it) the secret's UTF-8 text as given, the whole string.
    public func keyBytes(for dialect: DialectName) -> [UInt8]? {
        switch dialect {
        case .standardWebhooks:
            let encoded = text.hasPrefix(Self.prefix) ? String(text.dropFirst(Self.prefix.count)) : text
            return Data(base64Encoded: encoded).map { [UInt8]($0) }
        case .ucp, .ucpHMAC:
            return Array(text.utf8)
        }
    }
}
