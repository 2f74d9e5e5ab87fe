import Foundation

/// The platform a request came from, as its profile (`UCP-Agent: profile="…"`) says.
public struct PlatformInfo: Sendable, Equatable {
    /// The profile URL from `UCP-Agent`.
    public var profileURL: String
    /// `dev.ucp.shopping.order` `config.webhook_url`, when the platform advertises one.
    public var webhookURL: String?
    /// Its public keys (request signatures).
    public var keys: [JWK]

    public init(profileURL: String, webhookURL: String? = nil, keys: [JWK] = []) {
        self.profileURL = profileURL
        self.webhookURL = webhookURL
        self.keys = keys
    }
}

/// What the gateway concluded about one shopping request: what it is, in which release, from whom, with which
/// capabilities; handlers answer with it.
public struct ShoppingCall: Sendable {
    public let operation: ShoppingOperation
    /// The negotiated protocol version.
    public let version: UCPVersion
    /// The platform, when the request named one.
    public let platform: PlatformInfo?
    /// The negotiated capabilities (the shop's and the platform's intersection), with their versions.
    public let capabilities: [ShoppingCapability: UCPVersion]
    /// The request body (empty for GET).
    public let body: [UInt8]
    /// The shop's payment handlers (checkout responses carry them).
    public let paymentHandlers: [ShopFile.PaymentHandler]
    /// The customer a valid buyer token (identity linking) speaks for; nil without one.
    public var buyer: BuyerIdentity?
    /// Whether the request carried an RFC 9421 signature that verified against `platform`'s profile keys: only then
    /// does the request speak for that platform (e.g. to read the orders it placed).
    public var signed = false
    /// The verified signature's parameters (covered components, `created`); nil when the request was not signed.
    public var signature: SignatureParameters?

    public init(
        operation: ShoppingOperation,
        version: UCPVersion,
        platform: PlatformInfo?,
        capabilities: [ShoppingCapability: UCPVersion],
        body: [UInt8],
        paymentHandlers: [ShopFile.PaymentHandler]
    ) {
        self.operation = operation
        self.version = version
        self.platform = platform
        self.capabilities = capabilities
        self.body = body
        self.paymentHandlers = paymentHandlers
    }

    /// Whether `capability` was negotiated (an extension such as discount or fulfillment is active only then).
    public func has(_ capability: ShoppingCapability) -> Bool { capabilities[capability] != nil }

    /// The response's `ucp` member: the negotiated version and only the negotiated capabilities relevant to this
    /// operation (its root capability and the extensions of it); checkout responses add the payment handlers.
    public func envelope(status: ResponseEnvelope.Status = .success) -> ResponseEnvelope {
        let root = operation.capability
        var relevant: [String: [ResponseEnvelope.Entry]] = [:]
        if status == .success || capabilities[root] != nil {
            for (capability, version) in capabilities where capability == root || capability.extends.contains(root) {
                relevant[capability.rawValue] = [ResponseEnvelope.Entry(version: version.rawValue)]
            }
        }
        var handlers: [String: [ResponseEnvelope.Handler]]?
        if root == .checkout {
            var byName: [String: [ResponseEnvelope.Handler]] = [:]
            for handler in paymentHandlers {
                byName[handler.name, default: []].append(
                    ResponseEnvelope.Handler(id: handler.id, version: version.rawValue)
                )
            }
            handlers = byName
        }
        return ResponseEnvelope(
            version: version.rawValue,
            status: status,
            capabilities: relevant,
            paymentHandlers: handlers
        )
    }
}

/// The `ucp` member of a shopping response.
public struct ResponseEnvelope: Encodable, Sendable, Equatable {
    public enum Status: String, Encodable, Sendable {
        case success
        case error
    }

    public struct Entry: Encodable, Sendable, Equatable {
        public var version: String
    }

    public struct Handler: Encodable, Sendable, Equatable {
        public var id: String
        public var version: String
    }

    public var version: String
    public var status: Status
    public var capabilities: [String: [Entry]]
    public var paymentHandlers: [String: [Handler]]?

    enum CodingKeys: String, CodingKey {
        case version, status, capabilities
        case paymentHandlers = "payment_handlers"
    }
}
