import Foundation

/// The platform profile `ucpsim listen` serves at `/.well-known/ucp`: every shopping capability, and
/// `dev.ucp.shopping.order` `config.webhook_url` pointing back at the receiver. A shop (ucpsim `serve` or any other)
/// that a request names it to with `UCP-Agent: profile="…"` negotiates with it and sends the order webhooks of that
/// platform's checkouts to the receiver. It publishes no keys: requests in its name are unsigned.
public enum ReceiverPlatformProfile {
    /// The profile's bytes for `version`, its webhook URL `webhookURL`.
    public static func json(version: UCPVersion, webhookURL: String) -> [UInt8] {
        var capabilities: [String: Any] = [:]
        for capability in ShoppingCapability.allCases {
            var entry: [String: Any] = [
                "version": version.rawValue,
                "spec": version.specURL(capability),
                "schema": version.schemaURL(capability),
            ]
            switch capability.extends.count {
            case 0: break
            case 1: entry["extends"] = capability.extends[0].rawValue
            default: entry["extends"] = capability.extends.map(\.rawValue)
            }
            if capability == .order { entry["config"] = ["webhook_url": webhookURL] }
            capabilities[capability.rawValue] = [entry]
        }
        let document: [String: Any] = [
            "ucp": [
                "version": version.rawValue,
                "services": [
                    "dev.ucp.shopping": [
                        [
                            "version": version.rawValue,
                            "spec": version.serviceSpecURL,
                            "transport": "rest",
                            "schema": version.serviceSchemaURL,
                        ]
                    ]
                ],
                "capabilities": capabilities,
                "payment_handlers": [String: Any](),
            ],
            version.keysMember: [Any](),
        ]
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Plain strings, arrays and dictionaries: serialization cannot fail.
        return [UInt8]((try? JSONSerialization.data(withJSONObject: document, options: options)) ?? Data())
    }
}
