import Foundation
import RawStructuredFieldValues

/// One RFC 9421 signature's covered components and parameters: the value of a `Signature-Input` member.
public struct SignatureParameters: Sendable, Equatable {
    /// Covered component identifiers, in order (`"@method"`, `"content-digest"`, …).
    public var components: [String]
    /// `created`, unix seconds.
    public var created: Int64?
    /// `expires`, unix seconds.
    public var expires: Int64?
    /// `keyid`.
    public var keyID: String?
    /// `alg`; ucpsim never sends it (UCP derives the algorithm from the JWK).
    public var algorithm: String?
    /// `nonce`.
    public var nonce: String?
    /// `tag`.
    public var tag: String?

    public init(components: [String], created: Int64?, keyID: String?) {
        self.components = components
        self.created = created
        self.keyID = keyID
    }

    /// The inner list as RFC 8941 serializes it: `("@method" …);created=…;keyid="…"`.
    ///
    /// This exact text is both the `Signature-Input` member value and the `@signature-params` line of the base.
    public func serialized() throws -> String {
        var serializer = StructuredFieldValueSerializer()
        let bytes = try serializer.writeListFieldValue([.innerList(innerList)])
        return String(decoding: bytes, as: UTF8.self)
    }

    var innerList: InnerList {
        var list = BareInnerList()
        for component in components {
            list.append(
                Item(bareItem: RFC9651BareItem.string(component), parameters: OrderedMap<String, RFC9651BareItem>())
            )
        }
        var parameters = OrderedMap<String, RFC9651BareItem>()
        if let created { parameters["created"] = .integer(created) }
        if let expires { parameters["expires"] = .integer(expires) }
        if let nonce { parameters["nonce"] = .string(nonce) }
        if let algorithm { parameters["alg"] = .string(algorithm) }
        if let keyID { parameters["keyid"] = .string(keyID) }
        if let tag { parameters["tag"] = .string(tag) }
        return InnerList(bareInnerList: list, parameters: parameters)
    }

    /// Reads one `Signature-Input` member. Components with parameters (`;sf`, `;key`, …) are refused.
    init(innerList: InnerList) throws(SignatureFailure) {
        var components: [String] = []
        for item in innerList.bareInnerList {
            guard case .string(let name) = item.rfc9651BareItem else {
                throw SignatureFailure(.signatureInvalid, "a covered component is not a string")
            }
            guard item.rfc9651Parameters.count == 0 else {
                throw SignatureFailure(.signatureInvalid, "component parameters (\(name);…) are not supported")
            }
            components.append(name)
        }
        self.components = components
        for (name, value) in innerList.rfc9651Parameters {
            switch (name, value) {
            case ("created", .integer(let v)): created = v
            case ("expires", .integer(let v)): expires = v
            case ("keyid", .string(let v)): keyID = v
            case ("alg", .string(let v)): algorithm = v
            case ("nonce", .string(let v)): nonce = v
            case ("tag", .string(let v)): tag = v
            case ("created", _), ("expires", _), ("keyid", _), ("alg", _), ("nonce", _), ("tag", _):
                throw SignatureFailure(.signatureInvalid, "signature parameter \(name) has the wrong type")
            default:
                // RFC 9421 §2.3: unknown parameters are kept in the serialized form and otherwise ignored.
                continue
            }
        }
    }
}
