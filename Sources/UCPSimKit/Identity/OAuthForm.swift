import Foundation

/// An `application/x-www-form-urlencoded` body (the token and revocation requests) or Basic credential part:
/// `+` is a space, `%XX` a byte, and every name at most once (RFC 6749 §3.2).
public struct OAuthForm: Sendable, Equatable {
    /// Parameter values by name. An empty value counts as absent (RFC 6749 §3.1).
    public let values: [String: String]

    /// Parses `bytes`; a malformed percent escape, invalid UTF-8 or a repeated parameter is an `invalid_request`.
    public init(_ bytes: [UInt8]) throws(OAuthTokenError) {
        var values: [String: String] = [:]
        var seen: Set<String> = []
        for pair in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(Array(parts[0])),
                let value = Self.decode(parts.count > 1 ? Array(parts[1]) : [])
            else { throw .invalidRequest("The form body is not valid application/x-www-form-urlencoded UTF-8") }
            guard seen.insert(name).inserted else { throw .invalidRequest("The parameter \(name) is repeated") }
            if !value.isEmpty { values[name] = value }
        }
        self.values = values
    }

    public subscript(name: String) -> String? { values[name] }

    /// Decodes one form-urlencoded component; nil when a `%` escape is malformed or the bytes are not UTF-8.
    public static func decode(_ bytes: [UInt8]) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) else {
                    return nil
                }
                out.append(high << 4 | low)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        return String(validating: out, as: UTF8.self)
    }

    /// Encodes `text` for a form body or a Basic credential part (RFC 6749 Appendix B): unreserved characters
    /// stay, a space is `+`, every other byte `%XX`.
    public static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// `name=value&…`, each part encoded.
    public static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
