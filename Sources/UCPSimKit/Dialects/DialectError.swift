/// Why a dialect could not sign an attempt: no secret, or a secret it cannot use. The messages never quote a secret.
public struct DialectError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable {
        case noSecret
        case malformedSecret
    }

    private let code: Code
    /// The dialect that refused.
    public let dialect: DialectName
    /// What is wrong, written for the user.
    public let message: String
    /// What is wrong with the secret, without naming the dialect (empty when there is no secret).
    public let reason: String

    private init(_ code: Code, dialect: DialectName, message: String, reason: String = "") {
        self.code = code
        self.dialect = dialect
        self.message = message
        self.reason = reason
    }

    /// The subscription has no secret: an HMAC dialect never sends an unsigned webhook.
    static func noSecret(_ dialect: DialectName) -> DialectError {
        DialectError(
            .noSecret,
            dialect: dialect,
            message: "the \(dialect.rawValue) dialect signs with the subscription's secret, and it has none"
        )
    }

    /// The secret does not give a key this dialect can sign with.
    static func malformedSecret(_ dialect: DialectName, _ reason: String) -> DialectError {
        DialectError(
            .malformedSecret,
            dialect: dialect,
            message: "unusable \(dialect.rawValue) secret: \(reason)",
            reason: reason
        )
    }

    /// True when the delivery had no secret at all (rather than an unusable one).
    public var isMissingSecret: Bool { code == .noSecret }

    public var description: String { message }
}
