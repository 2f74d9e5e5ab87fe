import Foundation
import RawStructuredFieldValues

/// Signs messages with RFC 9421 HTTP Message Signatures, label `sig1`.
public struct MessageSigner: Sendable {
    /// The components a UCP webhook signature covers (`@query` is added when the URL has one).
    public static let webhookComponents = [
        "@method", "@authority", "@path", "content-type", "content-digest", "ucp-agent", "webhook-id",
        "webhook-timestamp",
    ]

    /// The signature label.
    public static let label = "sig1"

    public let key: SigningKey

    public init(key: SigningKey) {
        self.key = key
    }

    /// The parameters for a webhook signature over `message` created at `created`.
    public func webhookParameters(for message: SignableMessage, created: Int64) -> SignatureParameters {
        var components = Self.webhookComponents
        if message.target.query != nil {
            let afterPath = components.firstIndex(of: "@path").map { $0 + 1 } ?? components.endIndex
            components.insert("@query", at: afterPath)
        }
        return SignatureParameters(components: components, created: created, keyID: key.kid)
    }

    /// Signs `message` and returns the `Signature-Input` and `Signature` header values.
    public func sign(
        _ message: SignableMessage,
        parameters: SignatureParameters
    ) throws -> (signatureInput: String, signature: String) {
        let base = try message.signatureBase(parameters)
        let signature = try key.sign(Array(base.utf8))
        return try Self.headers(parameters: parameters, signature: signature)
    }

    /// Serializes a signature and its parameters as the two header values.
    public static func headers(
        parameters: SignatureParameters,
        signature: [UInt8],
        label: String = label
    ) throws -> (signatureInput: String, signature: String) {
        var input = OrderedMap<String, ItemOrInnerList>()
        input[label] = .innerList(parameters.innerList)
        var value = OrderedMap<String, ItemOrInnerList>()
        value[label] = .item(
            Item(
                bareItem: RFC9651BareItem.undecodedByteSequence(Data(signature).base64EncodedString()),
                parameters: OrderedMap<String, RFC9651BareItem>()
            )
        )
        var serializer = StructuredFieldValueSerializer()
        let inputBytes = try serializer.writeDictionaryFieldValue(input)
        let valueBytes = try serializer.writeDictionaryFieldValue(value)
        return (String(decoding: inputBytes, as: UTF8.self), String(decoding: valueBytes, as: UTF8.self))
    }
}
