/// A public JSON Web Key (RFC 7517) as a UCP profile publishes it. Never carries private members.
public struct JWK: Codable, Sendable, Equatable {
    public var kid: String
    public var kty: String
    public var crv: String?
    public var x: String?
    public var y: String?
    public var use: String?
    public var alg: String?

    public init(
        kid: String,
        kty: String,
        crv: String? = nil,
        x: String? = nil,
        y: String? = nil,
        use: String? = "sig",
        alg: String? = nil
    ) {
        self.kid = kid
        self.kty = kty
        self.crv = crv
        self.x = x
        self.y = y
        self.use = use
        self.alg = alg
    }

    /// The signature algorithm derived from `kty`/`crv` (never from `alg`), nil when unsupported.
    public var algorithm: SignatureAlgorithm? {
        SignatureAlgorithm(keyType: kty, curve: crv)
    }

    /// Whether RFC 7517 allows this key to verify signatures (`use` absent or `sig`).
    public var isSignatureCapable: Bool { use == nil || use == "sig" }
}
