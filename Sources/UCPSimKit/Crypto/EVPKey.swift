import CLibCrypto

/// Owns one OpenSSL `EVP_PKEY` and frees it on deinit.
///
/// `@unchecked Sendable`: after construction the key is only read. OpenSSL 3 documents `EVP_PKEY` as safe for
/// concurrent read-only use, and every sign/verify call creates its own `EVP_MD_CTX`.
final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// The algorithm this key signs with, or nil for anything ucpsim does not support.
    func detectAlgorithm() -> SignatureAlgorithm? {
        switch EVP_PKEY_get_base_id(pointer) {
        case Int32(UCPSIM_EVP_PKEY_ED25519):
            return .ed25519
        case Int32(UCPSIM_EVP_PKEY_EC):
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_utf8_string_param(pointer, ucpsim_param_group_name(), &name, name.count, &length) == 1
            else {
                _ = drainOpenSSLErrors()
                return nil
            }
            switch String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) {
            case "prime256v1", "P-256", "secp256r1": return .es256
            case "secp384r1", "P-384": return .es384
            default: return nil
            }
        default:
            return nil
        }
    }

    /// The raw public key: `04 || X || Y` for EC, the 32-byte key for Ed25519.
    func publicKeyBytes(for algorithm: SignatureAlgorithm) throws(CryptoError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 1 + 2 * 66)
        var length = buffer.count
        if algorithm == .ed25519 {
            try check(EVP_PKEY_get_raw_public_key(pointer, &buffer, &length), "reading the Ed25519 public key")
        } else {
            try check(
                EVP_PKEY_get_octet_string_param(pointer, ucpsim_param_pub_key(), &buffer, buffer.count, &length),
                "reading the EC public key"
            )
        }
        return Array(buffer.prefix(length))
    }
}

/// A fresh `EVP_MD_CTX` for one sign or verify operation.
func withDigestContext<T>(_ body: (OpaquePointer) throws(CryptoError) -> T) throws(CryptoError) -> T {
    guard let context = EVP_MD_CTX_new() else { throw CryptoError.openSSL("allocating a digest context") }
    defer { EVP_MD_CTX_free(context) }
    return try body(context)
}
