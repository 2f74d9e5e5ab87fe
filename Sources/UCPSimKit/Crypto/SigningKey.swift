import CLibCrypto
import Foundation

/// A private signing key with its key id: generates, loads and saves PEM, signs, and exports its public JWK.
public struct SigningKey: Sendable {
    /// The key id published in the JWK and sent as `keyid`.
    public let kid: String
    /// The algorithm, derived from the key itself.
    public let algorithm: SignatureAlgorithm
    let key: EVPKey

    /// A signing context initialised once for this key; each signature starts from a copy of it.
    private let template: SignTemplate
    /// ECDSA with RFC 6979 nonces instead of random ones (derived keys, for reproducible vectors).
    private var isDeterministic = false

    private init(kid: String, algorithm: SignatureAlgorithm, key: EVPKey) throws(CryptoError) {
        self.template = try SignTemplate(key: key, algorithm: algorithm)
        self.kid = kid
        self.algorithm = algorithm
        self.key = key
    }

    /// The same key, signing ECDSA with RFC 6979 deterministic nonces.
    func deterministic() -> SigningKey {
        var key = self
        key.isDeterministic = true
        return key
    }

    /// Generates a new key pair.
    public static func generate(_ algorithm: SignatureAlgorithm, kid: String) throws(CryptoError) -> SigningKey {
        let typeName = algorithm == .ed25519 ? "ED25519" : "EC"
        guard let context = EVP_PKEY_CTX_new_from_name(nil, typeName, nil) else {
            throw CryptoError.openSSL("creating a \(algorithm.curve) key generator")
        }
        defer { EVP_PKEY_CTX_free(context) }
        try check(EVP_PKEY_keygen_init(context), "initialising \(algorithm.curve) key generation")
        if algorithm != .ed25519 {
            try check(
                ucpsim_EVP_PKEY_CTX_set_group_name(context, algorithm.curve),
                "selecting curve \(algorithm.curve)"
            )
        }
        var generated: OpaquePointer?
        try check(EVP_PKEY_generate(context, &generated), "generating a \(algorithm.curve) key")
        guard let generated else { throw CryptoError.openSSL("generating a \(algorithm.curve) key") }
        return try SigningKey(kid: kid, algorithm: algorithm, key: EVPKey(taking: generated))
    }

    /// Loads a PEM private key (PKCS#8 `PRIVATE KEY` or SEC 1 `EC PRIVATE KEY`). Encrypted keys are refused.
    public init(pem: [UInt8], kid: String) throws(CryptoError) {
        let loaded: OpaquePointer? = pem.withUnsafeBytes { bytes in
            // BIO_new_mem_buf does not copy: the BIO lives only inside this closure, while `bytes` is pinned.
            guard let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else { return nil }
            defer { BIO_free(bio) }
            // A password callback that declines, so an encrypted key fails instead of prompting on the terminal.
            return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        guard let loaded else {
            throw CryptoError.malformedKey("not a PEM private key (or an encrypted one, which ucpsim does not read)")
        }
        let key = EVPKey(taking: loaded)
        guard let algorithm = key.detectAlgorithm() else {
            throw CryptoError.unsupportedKey("unsupported key type: ucpsim signs with EC P-256, EC P-384 or Ed25519")
        }
        try self.init(kid: kid, algorithm: algorithm, key: key)
    }

    /// The private key as PKCS#8 PEM. Handle with care: the caller writes it with mode 0600.
    public func privateKeyPEM() throws(CryptoError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError.openSSL("allocating a memory BIO") }
        defer { BIO_free(bio) }
        try check(PEM_write_bio_PrivateKey(bio, key.pointer, nil, nil, 0, nil, nil), "encoding the private key")
        var data: UnsafeMutablePointer<CChar>?
        let length = ucpsim_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { throw CryptoError.openSSL("reading the encoded private key") }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// The public half as a JWK, with `use: "sig"` and `alg`.
    public func publicJWK() throws(CryptoError) -> JWK {
        try publicKey().jwk
    }

    /// The public half, for verification.
    public func publicKey() throws(CryptoError) -> PublicKey {
        let bytes = try key.publicKeyBytes(for: algorithm)
        return try PublicKey(kid: kid, algorithm: algorithm, rawPublicKey: bytes)
    }

    /// Signs `message`: raw `r || s` for ECDSA (not DER), the RFC 8032 signature for Ed25519.
    public func sign(_ message: [UInt8]) throws(CryptoError) -> [UInt8] {
        if isDeterministic && algorithm != .ed25519 {
            return try DeterministicECDSA.sign(message, key: key, algorithm: algorithm)
        }
        let context = try template.copy()
        defer { EVP_MD_CTX_free(context) }
        var length = template.maximumLength
        var output = [UInt8](repeating: 0, count: length)
        try check(EVP_DigestSign(context, &output, &length, message, message.count), "signing")
        let signature = Array(output.prefix(length))
        if algorithm == .ed25519 { return signature }
        return try ECDSASignature.raw(fromDER: signature, scalarLength: algorithm.scalarLength)
    }
}

/// An `EVP_MD_CTX` initialised for signing with one key. `EVP_DigestSignInit` fetches the signature algorithm and
/// sets up the provider context on every call, which dominated signing in profiles; copying a ready context does not.
///
/// `@unchecked Sendable`: the template is written only in `init`; copies are taken under the lock.
final class SignTemplate: @unchecked Sendable {
    private let context: OpaquePointer
    private let lock = NSLock()
    /// Room for any signature of the key (DER ECDSA can be longer than raw).
    let maximumLength: Int

    init(key: EVPKey, algorithm: SignatureAlgorithm) throws(CryptoError) {
        guard let context = EVP_MD_CTX_new() else { throw CryptoError.openSSL("allocating a signing context") }
        guard EVP_DigestSignInit(context, nil, algorithm.digest?.evpMD, nil, key.pointer) == 1 else {
            EVP_MD_CTX_free(context)
            throw CryptoError.openSSL("initialising \(algorithm.jwsName) signing")
        }
        self.context = context
        self.maximumLength = Int(EVP_PKEY_get_size(key.pointer))
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    /// A fresh context ready for one `EVP_DigestSign`; the caller frees it.
    func copy() throws(CryptoError) -> OpaquePointer {
        guard let fresh = EVP_MD_CTX_new() else { throw CryptoError.openSSL("allocating a signing context") }
        lock.lock()
        let copied = EVP_MD_CTX_copy_ex(fresh, context)
        lock.unlock()
        guard copied == 1 else {
            EVP_MD_CTX_free(fresh)
            throw CryptoError.openSSL("copying the signing context")
        }
        return fresh
    }
}
