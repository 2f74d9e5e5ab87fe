/// The signature algorithms ucpsim signs and verifies with (UCP: ES256 required; ES384 and Ed25519 optional).
public enum SignatureAlgorithm: String, Sendable, CaseIterable, Codable {
    case es256
    case es384
    case ed25519

    /// The JWS `alg` name published in the JWK.
    public var jwsName: String {
        switch self {
        case .es256: "ES256"
        case .es384: "ES384"
        case .ed25519: "EdDSA"
        }
    }

    /// The RFC 9421 algorithm name (never sent; the verifier derives it from the JWK).
    public var rfc9421Name: String {
        switch self {
        case .es256: "ecdsa-p256-sha256"
        case .es384: "ecdsa-p384-sha384"
        case .ed25519: "ed25519"
        }
    }

    /// JWK `kty`.
    public var keyType: String { self == .ed25519 ? "OKP" : "EC" }

    /// JWK `crv`.
    public var curve: String {
        switch self {
        case .es256: "P-256"
        case .es384: "P-384"
        case .ed25519: "Ed25519"
        }
    }

    /// Bytes of one coordinate / scalar: the raw signature is twice this.
    var scalarLength: Int {
        switch self {
        case .es256, .ed25519: 32
        case .es384: 48
        }
    }

    /// Length of the wire signature: raw r||s for ECDSA, the RFC 8032 signature for Ed25519.
    public var signatureLength: Int { scalarLength * 2 }

    var digest: DigestAlgorithm? {
        switch self {
        case .es256: .sha256
        case .es384: .sha384
        case .ed25519: nil
        }
    }

    /// The algorithm a JWK's `kty`/`crv` implies, or nil when ucpsim does not support it.
    public init?(keyType: String, curve: String?) {
        guard let match = Self.allCases.first(where: { $0.keyType == keyType && $0.curve == curve }) else {
            return nil
        }
        self = match
    }
}
