import CLibCrypto

/// The hash functions ucpsim needs, computed by OpenSSL.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case sha256 = "sha-256"
    case sha384 = "sha-384"
    case sha512 = "sha-512"

    var evpMD: OpaquePointer? {
        switch self {
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        case .sha512: EVP_sha512()
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
