import Foundation

/// The shop's UCP business profile, served at `/.well-known/ucp`, and its leaf profiles for older releases.
public struct BusinessProfile: Sendable {
    /// The release the shop speaks; every `dev.ucp.*` entry carries the same one.
    public let version: UCPVersion
    /// Older releases the shop also supports: each gets a leaf profile at `/.well-known/ucp/<date>`, listed in
    /// `ucp.supported_versions`.
    public let olderVersions: [UCPVersion]
    /// The shop's public base URL, without a trailing slash.
    public let baseURL: String
    public let keys: [JWK]
    /// The shop file's payment handlers, advertised under `ucp.payment_handlers`.
    public let paymentHandlers: [ShopFile.PaymentHandler]
    /// The scopes `dev.ucp.common.identity_linking` lists in `config.scopes`; nil: the shop offers no identity
    /// linking.
    public let identityScopes: [String]?

    public init(
        baseURL: String,
        keys: [JWK],
        version: UCPVersion = .newest,
        olderVersions: [UCPVersion] = [],
        paymentHandlers: [ShopFile.PaymentHandler] = [],
        identityScopes: [String]? = nil
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.keys = keys
        self.version = version
        self.olderVersions = Array(Set(olderVersions.filter { $0 < version })).sorted()
        self.paymentHandlers = paymentHandlers
        self.identityScopes = identityScopes
    }

    /// The name of the identity-linking capability.
    public static let identityLinking = "dev.ucp.common.identity_linking"

    /// The URL of this profile, as `UCP-Agent` names it.
    public var profileURL: String { "\(baseURL)/.well-known/ucp" }

    /// The URL of the leaf profile for `version`.
    public func leafURL(_ version: UCPVersion) -> String { "\(profileURL)/\(version.rawValue)" }

    /// The self-contained profile of one older release (no `supported_versions`: leaves never have one).
    public func leaf(_ version: UCPVersion) -> BusinessProfile {
        BusinessProfile(
            baseURL: baseURL,
            keys: keys,
            version: version,
            paymentHandlers: paymentHandlers,
            identityScopes: identityScopes
        )
    }

    /// The published keys the release lists an algorithm for (Ed25519 keys stay out of a 2026-04-08 profile).
    public var publishedKeys: [JWK] {
        keys.filter { $0.algorithm.map(version.algorithms.contains) ?? true }
    }

    /// The profile JSON in the release's shape: its spec URLs, and its keys under `signing_keys` (2026-04-08) or
    /// `keys` (2026-08-25).
    public func json() -> [UInt8] {
        let document = Document(
            ucp: .init(
                version: version.rawValue,
                supportedVersions: olderVersions.isEmpty
                    ? nil : Dictionary(uniqueKeysWithValues: olderVersions.map { ($0.rawValue, leafURL($0)) }),
                services: [
                    "dev.ucp.shopping": [
                        .init(
                            version: version.rawValue,
                            spec: version.serviceSpecURL,
                            transport: "rest",
                            schema: version.serviceSchemaURL,
                            endpoint: baseURL
                        )
                    ]
                ],
                capabilities: capabilities,
                paymentHandlers: Dictionary(grouping: paymentHandlers, by: \.name).mapValues { handlers in
                    handlers.map { Document.PaymentHandlerEntry(id: $0.id, version: version.rawValue) }
                }
            ),
            keys: publishedKeys,
            keysMember: version.keysMember
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and arrays cannot fail.
        return [UInt8]((try? encoder.encode(document)) ?? Data())
    }

    /// `ucp.capabilities`: every shopping capability, and identity linking with its scopes when offered.
    private var capabilities: [String: [Document.Capability]] {
        var entries = Dictionary(
            uniqueKeysWithValues: ShoppingCapability.allCases.map { capability in
                (
                    capability.rawValue,
                    [
                        Document.Capability(
                            version: version.rawValue,
                            spec: version.specURL(capability),
                            schema: version.schemaURL(capability),
                            extends: Document.Extends(capability.extends)
                        )
                    ]
                )
            }
        )
        if let identityScopes {
            entries[Self.identityLinking] = [
                Document.Capability(
                    version: version.rawValue,
                    spec: version.identityLinkingSpecURL,
                    schema: "\(version.base)/schemas/common/identity_linking.json",
                    extends: nil,
                    config: Document.IdentityConfig(
                        scopes: Dictionary(
                            uniqueKeysWithValues: identityScopes.map { scope in
                                (
                                    scope,
                                    Document.ScopePolicy(description: .init(plain: IdentityScope.description(scope)))
                                )
                            }
                        )
                    )
                )
            ]
        }
        return entries
    }

    private struct Document: Encodable {
        struct UCP: Encodable {
            let version: String
            let supportedVersions: [String: String]?
            let services: [String: [Service]]
            let capabilities: [String: [Capability]]
            let paymentHandlers: [String: [PaymentHandlerEntry]]

            enum CodingKeys: String, CodingKey {
                case version, services, capabilities
                case supportedVersions = "supported_versions"
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
            let extends: Extends?
            var config: IdentityConfig?
        }
        /// `dev.ucp.common.identity_linking`'s `config`.
        struct IdentityConfig: Encodable {
            let scopes: [String: ScopePolicy]
        }
        struct ScopePolicy: Encodable {
            struct Description: Encodable { let plain: String }
            let description: Description
        }
        /// `extends` as the spec's examples write it: a string for one parent, an array for several.
        enum Extends: Encodable {
            case one(String)
            case many([String])

            init?(_ parents: [ShoppingCapability]) {
                switch parents.count {
                case 0: return nil
                case 1: self = .one(parents[0].rawValue)
                default: self = .many(parents.map(\.rawValue))
                }
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                switch self {
                case .one(let parent): try container.encode(parent)
                case .many(let parents): try container.encode(parents)
                }
            }
        }
        struct PaymentHandlerEntry: Encodable {
            let id: String
            let version: String
        }
        let ucp: UCP
        let keys: [JWK]
        /// `keys` or `signing_keys`, as the release names it.
        let keysMember: String

        private struct Member: CodingKey {
            let stringValue: String
            var intValue: Int? { nil }
            init(_ name: String) { stringValue = name }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Member.self)
            try container.encode(ucp, forKey: Member("ucp"))
            try container.encode(keys, forKey: Member(keysMember))
        }
    }
}

/// What a verifier or shop reads from someone else's fetched UCP profile.
public struct FetchedProfile: Sendable {
    /// Signature-capable and other keys from `keys` and `signing_keys`, de-duplicated by kid.
    public let keys: [JWK]
    /// The platform's order webhook URL (`ucp.capabilities["dev.ucp.shopping.order"][0].config.webhook_url`).
    public let orderWebhookURL: String?
    /// `ucp.version`, when it is a string.
    public let version: String?
    /// `ucp.capabilities`: each name with the versions its entries declare; nil when the member is absent or not an
    /// object of arrays of objects with a string `version` (see `shapeProblem`).
    public let capabilities: [String: [String]]?
    /// Why the document is not a UCP profile a shop negotiates with (no `ucp.version` date, capabilities not an
    /// object of arrays of `{version}` objects); nil when it is one.
    public let shapeProblem: String?

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
        version = ucp["version"] as? String
        var problem: String?
        var capabilities: [String: [String]]? = [:]
        if let declared = ucp["capabilities"] {
            if let members = declared as? [String: Any] {
                for (name, entries) in members {
                    guard let list = entries as? [[String: Any]] else {
                        problem = "ucp.capabilities[\"\(name)\"] is not an array of objects"
                        capabilities = nil
                        break
                    }
                    let versions = list.compactMap { $0["version"] as? String }
                    guard versions.count == list.count else {
                        problem = "an entry of ucp.capabilities[\"\(name)\"] has no string version"
                        capabilities = nil
                        break
                    }
                    capabilities?[name] = versions
                }
            } else {
                problem = "ucp.capabilities is not an object"
                capabilities = nil
            }
        }
        if let version {
            if version.range(of: #"^\d{4}-\d{2}-\d{2}$"#, options: .regularExpression) == nil {
                problem = "ucp.version \"\(version)\" is not a YYYY-MM-DD date"
            }
        } else {
            problem = "ucp.version is missing or not a string"
        }
        self.capabilities = capabilities
        shapeProblem = problem
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
