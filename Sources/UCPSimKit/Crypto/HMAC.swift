import CLibCrypto

/// HMAC-SHA256, computed by OpenSSL's EVP_MAC, and the constant-time comparison a receiver checks a MAC with.
public enum HMACSHA256 {
    /// The MAC of `message` under `key` (32 bytes).
    public static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        mac(key: key) { update in update(message) }
    }

    /// The MAC of the concatenation of `parts` under `key`: `"<t>.<body>"` without copying the body.
    public static func mac(key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        mac(key: key) { update in
            for part in parts { update(part) }
        }
    }

    private static func mac(key: [UInt8], feed: (_ update: ([UInt8]) -> Void) -> Void) -> [UInt8] {
        guard let context = EVP_MAC_CTX_new(fetchedHMAC) else {
            preconditionFailure("EVP_MAC_CTX_new failed: \(drainOpenSSLErrors())")
        }
        defer { EVP_MAC_CTX_free(context) }
        // OSSL_PARAM keeps raw pointers: the digest name is pinned for the init call.
        let initialised = "SHA2-256".withCString { digest in
            key.withUnsafeBufferPointer { keyBytes in
                var params = [
                    OSSL_PARAM_construct_utf8_string(
                        ucpsim_mac_param_digest(),
                        UnsafeMutablePointer(mutating: digest),
                        0
                    ),
                    OSSL_PARAM_construct_end(),
                ]
                // An empty key still needs a non-null pointer.
                var empty: UInt8 = 0
                return withUnsafePointer(to: &empty) { emptyPointer in
                    EVP_MAC_init(context, keyBytes.baseAddress ?? emptyPointer, keyBytes.count, &params)
                }
            }
        }
        precondition(initialised == 1, "EVP_MAC_init failed: \(drainOpenSSLErrors())")
        feed { part in
            let ok = part.withUnsafeBufferPointer { EVP_MAC_update(context, $0.baseAddress, $0.count) }
            precondition(ok == 1, "EVP_MAC_update failed: \(drainOpenSSLErrors())")
        }
        var output = [UInt8](repeating: 0, count: 32)
        var length = 0
        let finished = EVP_MAC_final(context, &output, &length, output.count)
        precondition(finished == 1 && length == 32, "EVP_MAC_final failed: \(drainOpenSSLErrors())")
        return output
    }

    /// Overwrites key bytes once they are used (OpenSSL's OPENSSL_cleanse, which the optimizer cannot drop).
    public static func cleanse(_ key: inout [UInt8]) {
        guard !key.isEmpty else { return }
        key.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
    }

    /// True when `a` and `b` are the same bytes, in time that depends only on their length (OpenSSL's CRYPTO_memcmp).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { left in
            b.withUnsafeBytes { right in CRYPTO_memcmp(left.baseAddress, right.baseAddress, a.count) == 0 }
        }
    }
}

// Fetched once and never freed; an EVP_MAC is immutable and safe to share between threads (OpenSSL 3).
nonisolated(unsafe) private let fetchedHMAC = EVP_MAC_fetch(nil, "HMAC", nil)
