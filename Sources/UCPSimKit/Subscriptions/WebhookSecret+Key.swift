import CLibCrypto
import Foundation

extension WebhookSecret {
    /// A new secret: `whsec_` + base64 of 32 random bytes from OpenSSL's `RAND_bytes`.
    public static func generate() -> WebhookSecret {
        var bytes = [UInt8](repeating: 0, count: 32)
        let ok = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        // OpenSSL's generator failing means the process has no entropy source: nothing safe to fall back to.
        precondition(ok == 1, "RAND_bytes failed")
        defer { OPENSSL_cleanse(&bytes, bytes.count) }
        return WebhookSecret(prefix + Data(bytes).base64EncodedString())
    }
}
