import Foundation

/// The shop's UCP business profile, served at `/.well-known/ucp`.
public struct BusinessProfile: Sendable {
    /// The UCP version the shop speaks; every `dev.ucp.*` entry carries the same one.
    public static let defaultVersion = "2026-04-08"

    public let version: String
    /// The shop's public base URL, without a trailing slash.
    public let baseURL: String
    public let keys: [JWK]

    public init(baseURL: String, keys: [JWK], version: String = BusinessProfile.defaultVersion) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.keys = keys
        self.version = version
    }

    /// The URL of this profile, as `UCP-Agent` names it.
    public var profileURL: String { "\(baseURL)/.well-known/ucp" }

    /// The profile JSON. Keys go under both `keys` (the spec's `main`) and `signing_keys` (`2026-04-08`).
    public func json() -> [UInt8] {
        let document = Document(
            ucp: .init(
                version: version,
                services: [
                    "dev.ucp.shopping": [
                        .init(
                            version: version,
                            spec: "https://ucp.dev/\(version)/specification/overview",
                            transport: "rest",
                            schema: "https://ucp.dev/\(version)/services/shopping/rest.openapi.json",
                            endpoint: baseURL
                        )
                    ]
                ],
                capabilities: [
                    "dev.ucp.shopping.order": [
                        .init(
                            version: version,
                            spec: "https://ucp.dev/\(version)/specification/order",
                            schema: "https://ucp.dev/\(version)/schemas/shopping/order.json"
                        )
                    ]
                ],
                paymentHandlers: [:]
            ),
            keys: keys,
            signingKeys: keys
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and arrays cannot fail.
        return [UInt8]((try? encoder.encode(document)) ?? Data())
    }

    private struct Document: Encodable {
        struct UCP: Encodable {
            let version: String
            let services: [String: [Service]]
            let capabilities: [String: [Capability]]
            let paymentHandlers: [String: [String]]

            enum CodingKeys: String, CodingKey {
                case version, services, capabilities
                case paymentHandlers = "payment_handlers"
            }
        }
        struct Service: Encodable {
            let version: String
            let spec: String
            let transport: String
            let schema: String
            let endpoint: String
        }
        struct Capability: Encodable {
            let version: String
            let spec: String
            let schema: String
        }
        let ucp: UCP
        let keys: [JWK]
        let signingKeys: [JWK]

        enum CodingKeys: String, CodingKey {
            case ucp, keys
            case signingKeys = "signing_keys"
        }
    }
}

/// What a verifier or shop reads from someone else's fetched UCP profile.
public struct FetchedProfile: Sendable {
    /// Signature-capable and other keys from `keys` and `signing_keys`, de-duplicated by kid.
    public let keys: [JWK]
    /// The platform's order webhook URL (`ucp.capabilities["dev.ucp.shopping.order"][0].config.webhook_url`).
    public let orderWebhookURL: String?

    /// Parses a profile document; nil when it is not a JSON object with a `ucp` object.
    public init?(json: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
            let ucp = object["ucp"] as? [String: Any]
        else { return nil }
        var seen = Set<String>()
        var keys: [JWK] = []
        for field in ["keys", "signing_keys"] {
            for entry in object[field] as? [[String: Any]] ?? [] {
                guard let data = try? JSONSerialization.data(withJSONObject: entry),
                    let jwk = try? JSONDecoder().decode(JWK.self, from: data), !seen.contains(jwk.kid)
                else { continue }
                seen.insert(jwk.kid)
                keys.append(jwk)
            }
        }
        self.keys = keys
        let order = (ucp["capabilities"] as? [String: Any])?["dev.ucp.shopping.order"] as? [[String: Any]]
        orderWebhookURL = (order?.first?["config"] as? [String: Any])?["webhook_url"] as? String
    }
}

extension FetchedProfile {
    /// Fetches a platform's profile and returns its order webhook URL, as a real shop discovers it.
    public static func orderWebhookTarget(profileURL: String, client: HTTPClient) async throws(UCPSimError)
        -> RequestTarget
    {
        do {
            _ = try RequestTarget(profileURL)
        } catch {
            throw UCPSimError(.usage, "--platform-profile: \(error.message)")
        }
        let response: ReceivedResponse
        do {
            response = try await client.send(
                OutgoingRequest(
                    method: "GET",
                    url: profileURL,
                    headers: HTTPFieldList([("Accept", "application/json")])
                )
            )
        } catch {
            throw UCPSimError(.unavailable, "platform profile \(profileURL) unreachable: \(error)")
        }
        guard (200..<300).contains(response.status) else {
            throw UCPSimError(.unavailable, "platform profile \(profileURL) answered HTTP \(response.status)")
        }
        guard let url = FetchedProfile(json: response.body)?.orderWebhookURL else {
            throw UCPSimError(
                .dataError,
                "platform profile \(profileURL) has no ucp.capabilities[\"dev.ucp.shopping.order\"][0].config.webhook_url"
            )
        }
        do {
            return try RequestTarget(url)
        } catch {
            throw UCPSimError(.dataError, "platform profile \(profileURL): webhook_url: \(error.message)")
        }
    }
}
