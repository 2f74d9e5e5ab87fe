import CLibCrypto

/// An error from the crypto layer: key loading, signing, verification or JWK import.
public struct CryptoError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable {
        case openSSL
        case unsupportedKey
        case malformedKey
        case malformedSignature
    }

    private let code: Code
    /// What was being attempted, written for the user.
    public let context: String
    /// The drained OpenSSL error queue, if any.
    public let details: [String]

    private init(_ code: Code, context: String, details: [String] = []) {
        self.code = code
        self.context = context
        self.details = details
    }

    /// An OpenSSL call failed; drains and keeps OpenSSL's error queue.
    static func openSSL(_ context: String) -> CryptoError {
        CryptoError(.openSSL, context: context, details: drainOpenSSLErrors())
    }

    /// The key is of a type or curve ucpsim does not sign with.
    static func unsupportedKey(_ context: String) -> CryptoError {
        _ = drainOpenSSLErrors()
        return CryptoError(.unsupportedKey, context: context)
    }

    /// The key material could not be parsed.
    static func malformedKey(_ context: String) -> CryptoError {
        CryptoError(.malformedKey, context: context, details: drainOpenSSLErrors())
    }

    /// A signature had the wrong length or encoding.
    static func malformedSignature(_ context: String) -> CryptoError {
        CryptoError(.malformedSignature, context: context, details: drainOpenSSLErrors())
    }

    /// True when the key type or curve is not one ucpsim supports.
    public var isUnsupportedKey: Bool { code == .unsupportedKey }

    public var description: String {
        details.isEmpty ? context : "\(context) (\(details.joined(separator: "; ")))"
    }
}

/// Empties OpenSSL's thread-local error queue into readable strings.
func drainOpenSSLErrors() -> [String] {
    var messages: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return messages
}

/// Throws `CryptoError.openSSL(context)` unless an OpenSSL call returned 1 (its success value).
@inline(__always)
func check(_ result: Int32, _ context: @autoclosure () -> String) throws(CryptoError) {
    guard result == 1 else { throw CryptoError.openSSL(context()) }
}
