import Foundation
import RawStructuredFieldValues

/// RFC 9530 `Content-Digest` over the exact body bytes.
public enum ContentDigest {
    /// The header value ucpsim sends: `sha-256=:<base64>:`.
    public static func header(for body: [UInt8]) -> String {
        "sha-256=:\(Data(DigestAlgorithm.sha256.hash(body)).base64EncodedString()):"
    }

    /// Why a `Content-Digest` did not match the body.
    public enum Mismatch: Error, Sendable, Equatable, CustomStringConvertible {
        case unparseable
        case noSupportedAlgorithm([String])
        case mismatch(algorithm: String)

        public var description: String {
            switch self {
            case .unparseable: "Content-Digest is not an RFC 8941 dictionary of byte sequences"
            case .noSupportedAlgorithm(let names):
                "Content-Digest has no sha-256 or sha-512 member (\(names.joined(separator: ", ")))"
            case .mismatch(let algorithm): "the \(algorithm) digest does not match the body bytes"
            }
        }
    }

    /// Checks every member ucpsim knows (`sha-256`, `sha-512`; at least one required) against the body.
    public static func verify(header: String, body: [UInt8]) throws(Mismatch) {
        let members: OrderedMap<String, ItemOrInnerList>
        do {
            var parser = StructuredFieldValueParser(Array(header.utf8))
            members = try parser.parseDictionaryFieldValue()
        } catch {
            throw .unparseable
        }
        var checked = 0
        var names: [String] = []
        for (name, value) in members {
            names.append(name)
            guard let algorithm = DigestAlgorithm(rawValue: name), algorithm != .sha384 else { continue }
            guard case .item(let item) = value, case .undecodedByteSequence(let encoded) = item.rfc9651BareItem,
                let expected = Data(base64Encoded: encoded)
            else { throw .unparseable }
            guard [UInt8](expected) == algorithm.hash(body) else { throw .mismatch(algorithm: name) }
            checked += 1
        }
        if checked == 0 { throw .noSupportedAlgorithm(names) }
    }
}
