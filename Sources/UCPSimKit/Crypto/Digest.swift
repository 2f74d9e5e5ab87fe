import CLibCrypto

/// The hash functions ucpsim needs, computed by OpenSSL.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case sha256 = "sha-256"
    case sha384 = "sha-384"
    case sha512 = "sha-512"

    /// The digest, fetched from the default provider once: `EVP_sha256()` and friends fetch implicitly on every
    /// use, which showed up in profiles as provider-table lookups.
    var evpMD: OpaquePointer? {
        switch self {
        case .sha256: fetchedSHA256
        case .sha384: fetchedSHA384
        case .sha512: fetchedSHA512
        }
    }

    /// Hashes `bytes` in one shot.
    public func hash(_ bytes: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = EVP_Digest(bytes, bytes.count, &output, &length, evpMD, nil)
        // EVP_Digest with a built-in digest and memory input cannot fail short of memory exhaustion.
        precondition(ok == 1, "EVP_Digest failed: \(drainOpenSSLErrors())")
        return Array(output.prefix(Int(length)))
    }
}

// Fetched once and never freed; an EVP_MD is immutable and safe to share between threads (OpenSSL 3).
nonisolated(unsafe) private let fetchedSHA256 = EVP_MD_fetch(nil, "SHA2-256", nil)
nonisolated(unsafe) private let fetchedSHA384 = EVP_MD_fetch(nil, "SHA2-384", nil)
nonisolated(unsafe) private let fetchedSHA512 = EVP_MD_fetch(nil, "SHA2-512", nil)
