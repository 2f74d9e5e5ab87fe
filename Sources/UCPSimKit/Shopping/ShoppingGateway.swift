import Foundation
import HTTPTypes
import Hummingbird

/// Every shopping request passes here: its body is read, the platform is negotiated (`UCP-Agent`), its signature
/// checked, its `Idempotency-Key` honoured; the handler's answer is kept for that key, signed, and sent.
///
/// Handlers (catalog, cart, checkout, orders) see only a `ShoppingCall` and answer a `ShoppingReply`; an `APIError`
/// they throw is answered (signed, and kept for the key) in the flat `{code, content}` shape.
///
/// In order:
/// 1. `UCP-Agent` (RFC 8941 dictionary, `profile="<url>"`): required on cart, checkout and order operations (400
///    `invalid_profile_url` without it); optional on catalog ones, where a request without it is served at the
///    shop's release with every capability (anonymous browsing).
/// 2. The platform profile, fetched through `ProfileCache` (`.platform`): TTL floor 60 s, no redirects, 256 KiB,
///    5 s, special-use addresses refused (loopback allowed for local development). 400 `invalid_profile_url`,
///    424 `profile_unreachable`, 422 `profile_malformed`.
/// 3. Its `ucp.version`: the shop's or one of its `supportedVersions`, else 422 `version_unsupported`.
/// 4. A request signature, when there is one (or always, with `requireSignedRequests`), against the profile's
///    keys (one forced refresh on an unknown `keyid`): 401 `signature_missing` / `signature_invalid` /
///    `key_not_found`, 400 `digest_mismatch` / `algorithm_unsupported`.
/// 5. The capability intersection; the operation's capability outside it: HTTP 200 `capabilities_incompatible`.
/// 6. Identity linking (`identity`): a request with `Authorization` must carry a valid Bearer token with the
///    operation's scopes (`requiredScopes`), else the spec's 401 `identity_required` (`error="invalid_token"`) or 403
///    `insufficient_scope` with its `WWW-Authenticate` challenge; a valid one is `ShoppingCall.buyer`. Without a
///    token, order reads not signed by a platform and (`requireIdentity`) checkout operations are 401.
/// 7. On checkout operations, the platform's order `webhook_url` becomes its subscription
///    (`SubscriptionRegistry.platformSubscription`).
/// 8. `Idempotency-Key` on state-changing operations (see `IdempotencyStore`): a replay answers the kept bytes; the
///    key with another body or path is 409 `idempotency_key_reused`; the store failing is 503. Without the key the
///    operation runs with no deduplication. A buyer's keys are scoped to that customer too.
public struct ShoppingGateway: Sendable {
    /// The release the shop speaks.
    public let version: UCPVersion
    /// The shop's payment handlers (for checkout envelopes).
    public let paymentHandlers: [ShopFile.PaymentHandler]
    /// Older releases the shop also speaks (`--supported-version`).
    public let supportedVersions: [UCPVersion]
    /// Fetches platform profiles; nil: no negotiation (every capability at the shop's release, no signatures).
    public let profiles: ProfileCache?
    /// Signs every answer; nil: unsigned.
    public let signing: ResponseSigning?
    /// Refuse requests without a signature (`serve --require-signed-requests`).
    public let requireSignedRequests: Bool
    /// Keeps answers by `Idempotency-Key`; nil: no deduplication.
    public let idempotency: IdempotencyStore?
    /// Where a platform's order webhook becomes a subscription; nil: none is made.
    public let subscriptions: SubscriptionRegistry?
    /// Checks request signatures.
    public var verifier = MessageVerifier()
    /// Checks buyer tokens (identity linking); nil: the shop offers no identity linking.
    public var identity: IdentityGuard?

    private let serializer = KeyedSerializer<IdempotencyStore.Scope>()

    /// The largest request body, in bytes.
    public static let bodyLimit = 1024 * 1024
    /// The longest `Idempotency-Key` accepted.
    public static let maxKeyLength = 255

    public init(
        version: UCPVersion,
        paymentHandlers: [ShopFile.PaymentHandler],
        supportedVersions: [UCPVersion] = [],
        profiles: ProfileCache? = nil,
        signing: ResponseSigning? = nil,
        requireSignedRequests: Bool = false,
        idempotency: IdempotencyStore? = nil,
        subscriptions: SubscriptionRegistry? = nil
    ) {
        self.version = version
        self.paymentHandlers = paymentHandlers
        self.supportedVersions = supportedVersions
        self.profiles = profiles
        self.signing = signing
        self.requireSignedRequests = requireSignedRequests
        self.idempotency = idempotency
        self.subscriptions = subscriptions
    }

    /// Whether `operation` refuses a request without `UCP-Agent`: cart and checkout ones (they create state a
    /// platform owns), order reads (a platform reads the orders it placed); catalog reads are served anonymously.
    public static func requiresAgent(_ operation: ShoppingOperation) -> Bool {
        switch operation.capability {
        case .cart, .checkout, .order, .fulfillment, .discount: true
        case .catalogSearch, .catalogLookup: false
        }
    }

    /// Runs `work` for `operation` and answers its reply, signed.
    public func handle(
        _ request: Request,
        _ operation: ShoppingOperation,
        _ work: @Sendable (ShoppingCall) async throws -> ShoppingReply
    ) async throws -> Response {
        var request = request
        let body: [UInt8]
        do {
            body = [UInt8](buffer: try await request.collectBody(upTo: Self.bodyLimit))
        } catch {
            return answer(APIError.tooLarge(limit: Self.bodyLimit))
        }
        do throws(APIError) {
            var call = try await negotiate(request, operation, body: body)
            guard call.has(operation.capability) else {
                let reply = ShoppingReply.error(
                    call,
                    code: "capabilities_incompatible",
                    "\(operation.capability.rawValue) is not among the capabilities the platform and the shop share"
                )
                return answer(reply.status, reply.body)
            }
            switch try await identify(request, call) {
            case .success(let buyer):
                call.buyer = buyer
            case .failure(let challenge):
                let reply = challenge.reply(call)
                return answer(reply.status, reply.body, extra: challenge.headers)
            }
            try await subscribePlatform(call)
            guard operation.changesState, let key = try idempotencyKey(request) else {
                let (status, bytes) = await run(work, call, request: request)
                return answer(status, bytes)
            }
            return try await idempotent(
                key: key,
                call: call,
                request: request,
                body: body,
                work: work
            )
        } catch {
            return answer(error)
        }
    }

    // MARK: - Negotiation

    private func negotiate(_ request: Request, _ operation: ShoppingOperation, body: [UInt8])
        async throws(APIError) -> ShoppingCall
    {
        let agent = request.headers[values: Self.ucpAgent]
        guard let profiles, !agent.isEmpty || Self.requiresAgent(operation) else {
            if requireSignedRequests, profiles != nil {
                throw APIError(
                    .unauthorized,
                    code: "signature_missing",
                    "this shop requires signed requests, and a signature is checked against the keys of the UCP-Agent profile; the request has no UCP-Agent"
                )
            }
            if profiles != nil, Self.isSigned(request) {
                throw APIError(
                    .unauthorized,
                    code: "key_not_found",
                    "the request is signed but has no UCP-Agent naming the profile that publishes its key"
                )
            }
            var all: [ShoppingCapability: UCPVersion] = [:]
            for capability in ShoppingCapability.allCases { all[capability] = version }
            return call(operation, version: version, platform: nil, capabilities: all, body: body)
        }
        guard agent.count == 1, let url = UCPAgent.profileURL(from: agent[0]) else {
            throw APIError(
                .badRequest,
                code: "invalid_profile_url",
                agent.isEmpty
                    ? "the UCP-Agent header is required: UCP-Agent: profile=\"https://platform.example/profile\""
                    : "UCP-Agent must be one RFC 8941 dictionary with a string member profile=\"https://…\""
            )
        }
        var profile = try await fetch(profiles, url)
        guard let platformVersion = profile.version,
            let negotiated = CapabilityNegotiation.protocolVersion(
                platform: platformVersion,
                shop: version,
                supported: supportedVersions
            )
        else {
            let spoken = ([version] + supportedVersions).map(\.rawValue).joined(separator: ", ")
            throw APIError(
                .unprocessableContent,
                code: "version_unsupported",
                "the platform profile's ucp.version \(profile.version ?? "(none)") is not one this shop speaks (\(spoken))"
            )
        }
        let signed = Self.isSigned(request) || requireSignedRequests
        if signed {
            profile = try await verify(request, body: body, profile: profile, url: url, cache: profiles)
        }
        let capabilities = CapabilityNegotiation.shopCapabilities(
            platform: profile.capabilities ?? [:],
            version: negotiated
        )
        let platform = PlatformInfo(profileURL: url, webhookURL: profile.orderWebhookURL, keys: profile.keys)
        var call = call(operation, version: negotiated, platform: platform, capabilities: capabilities, body: body)
        call.signed = signed
        if signed { call.signature = try? verifier.parameters(of: Self.message(request)).1 }
        return call
    }

    private func call(
        _ operation: ShoppingOperation,
        version: UCPVersion,
        platform: PlatformInfo?,
        capabilities: [ShoppingCapability: UCPVersion],
        body: [UInt8]
    ) -> ShoppingCall {
        ShoppingCall(
            operation: operation,
            version: version,
            platform: platform,
            capabilities: capabilities,
            body: body,
            paymentHandlers: paymentHandlers
        )
    }

    private func fetch(_ profiles: ProfileCache, _ url: String, refresh: Bool = false)
        async throws(APIError) -> FetchedProfile
    {
        do {
            return try await profiles.profile(at: url, refresh: refresh)
        } catch {
            throw Self.apiError(error)
        }
    }

    // MARK: - Signatures

    private static func isSigned(_ request: Request) -> Bool {
        request.headers[signatureInput] != nil || request.headers[ResponseSigning.signature] != nil
    }

    /// Verifies the request's signature against the profile's keys; an unknown `keyid` refreshes the profile once
    /// (at most once per TTL floor per origin: `ProfileCache`). Returns the profile the signature verified with.
    private func verify(
        _ request: Request,
        body: [UInt8],
        profile: FetchedProfile,
        url: String,
        cache: ProfileCache
    ) async throws(APIError) -> FetchedProfile {
        let message = try Self.message(request)
        do {
            _ = try verifier.verify(message, body: body, keys: profile.keys)
            return profile
        } catch  where error.reason == .keyNotFound {
            let refreshed = try await fetch(cache, url, refresh: true)
            do {
                _ = try verifier.verify(message, body: body, keys: refreshed.keys)
                return refreshed
            } catch {
                throw Self.apiError(error)
            }
        } catch {
            throw Self.apiError(error)
        }
    }

    /// The request as RFC 9421 sees it: its method, `Host` (`@authority`), path and query, and header fields.
    private static func message(_ request: Request) throws(APIError) -> SignableMessage {
        let authority = request.head.authority ?? ""
        let target: RequestTarget
        do {
            target = try RequestTarget("http://\(authority)\(request.uri.string)")
        } catch {
            throw APIError(.badRequest, code: "invalid_request", "the request's Host and path do not form a URL")
        }
        var fields = HTTPFieldList()
        for field in request.headers { fields.append(field.name.rawName, field.value) }
        return SignableMessage(method: request.method.rawValue, target: target, headers: fields)
    }

    /// A profile or signature failure as the error answer the spec's tables give it.
    static func apiError(_ failure: SignatureFailure) -> APIError {
        APIError(
            HTTPResponse.Status(code: failure.reason.httpStatus),
            code: failure.reason.errorCode,
            failure.detail
        )
    }

    // MARK: - Identity

    /// The scopes a buyer token needs for `operation`: `dev.ucp.shopping.order:read` to read an order;
    /// `dev.ucp.shopping.checkout:manage` on checkout operations when the shop requires identity; none otherwise.
    public static func requiredScopes(_ operation: ShoppingOperation, setup: IdentitySetup) -> [String] {
        ShoppingOperation.requiredScopes(for: operation, requireIdentity: setup.requireIdentity)
    }

    /// The buyer of the call (identity linking): a request with `Authorization` must carry a valid Bearer token
    /// (never served anonymously otherwise: 401 `invalid_token`) with the operation's scopes (403
    /// `insufficient_scope`). Without a token: checkout operations with `requireIdentity`, and order reads not
    /// signed by a platform, are 401 `identity_required`; everything else is served without a buyer. Without
    /// identity linking, no buyer.
    private func identify(_ request: Request, _ call: ShoppingCall) async throws(APIError)
        -> Result<BuyerIdentity?, IdentityChallenge>
    {
        guard let identity else { return .success(nil) }
        let required = Self.requiredScopes(call.operation, setup: identity.setup)
        switch try await identity.authenticate(
            request.headers,
            platform: call.platform?.profileURL,
            signature: call.signed ? call.signature : nil
        )
        {
        case .failure(let challenge):
            return .failure(challenge)
        case .success(let buyer?):
            if let refusal = identity.check(buyer, has: required) { return .failure(refusal) }
            return .success(buyer)
        case .success(nil):
            if call.operation.capability == .checkout, identity.setup.requireIdentity {
                return .failure(identity.identityRequired("Checkout at this shop requires a linked customer account."))
            }
            if call.operation == .orderCancel {
                return .failure(identity.identityRequired("User identity is required to manage orders."))
            }
            if call.operation == .orderGet, !call.signed {
                return .failure(identity.identityRequired("User identity is required to access order history."))
            }
            return .success(nil)
        }
    }

    // MARK: - Platform webhooks

    /// On checkout create and complete: the platform's order webhook URL becomes (or updates) its subscription,
    /// before the handler can place an order. (Not on reads: a stranger's GET makes no subscription.)
    private func subscribePlatform(_ call: ShoppingCall) async throws(APIError) {
        guard call.operation == .checkoutCreate || call.operation == .checkoutComplete, let subscriptions,
            let platform = call.platform,
            let url = platform.webhookURL
        else { return }
        do {
            _ = try SubscriptionRules.checkURL(url)
        } catch {
            throw APIError(
                .unprocessableContent,
                code: "profile_malformed",
                "the platform profile's dev.ucp.shopping.order config.webhook_url \(error.problem)"
            )
        }
        do {
            try await subscriptions.platformSubscription(for: platform.profileURL, webhookURL: url)
        } catch {
            var answer = APIError(.serviceUnavailable, code: "unavailable", "cannot subscribe the platform: \(error)")
            answer.headers[.retryAfter] = "1"
            throw answer
        }
    }

    // MARK: - Idempotency

    /// The `Idempotency-Key`, nil when absent or when the shop keeps no answers.
    private func idempotencyKey(_ request: Request) throws(APIError) -> String? {
        guard idempotency != nil else { return nil }
        let values = request.headers[values: Self.idempotencyKeyField]
        guard let key = values.first else { return nil }
        guard values.count == 1, !key.isEmpty, key.utf8.count <= Self.maxKeyLength else {
            throw APIError(
                .badRequest,
                code: "invalid_request",
                "Idempotency-Key must be one non-empty value of at most \(Self.maxKeyLength) bytes"
            )
        }
        return key
    }

    private func idempotent(
        key: String,
        call: ShoppingCall,
        request: Request,
        body: [UInt8],
        work: @Sendable (ShoppingCall) async throws -> ShoppingReply
    ) async throws(APIError) -> Response {
        guard let store = idempotency else { throw APIError(.internalServerError, code: "internal_error", "no store") }
        // A buyer's keys are the buyer's: the same key from another customer (or from no customer) is another
        // scope, so a replay never answers one customer with another's session.
        let scope = IdempotencyStore.Scope(
            platform: (call.platform?.profileURL ?? "") + (call.buyer.map { " customer=\($0.customerID)" } ?? ""),
            operation: call.operation,
            key: key
        )
        let digest = DigestAlgorithm.sha256.hash(body)
        let path = request.uri.path
        // One request per key at a time: a retry sent while the first runs waits for its answer and replays it.
        return try await serializer.run(scope) { () async throws(APIError) -> Response in
            let kept: IdempotencyStore.Entry?
            do {
                kept = try await store.entry(scope)
            } catch {
                throw Self.unavailable("the idempotency store cannot be read: \(ShopDatabase.describe(error))")
            }
            if let kept {
                guard kept.bodyDigest == digest, kept.path == path else {
                    throw APIError(
                        .conflict,
                        code: "idempotency_key_reused",
                        "Idempotency-Key \(key) was used for another request (a different body or resource); use a new key"
                    )
                }
                return answer(HTTPResponse.Status(code: kept.status), kept.response)
            }
            let (status, bytes) = await run(work, call, request: request)
            // Server errors are not kept: a retry runs again.
            if status.code < 500 {
                do {
                    try await store.keep(
                        IdempotencyStore.Entry(path: path, bodyDigest: digest, status: status.code, response: bytes),
                        for: scope
                    )
                } catch {
                    throw Self.unavailable("the idempotency store cannot be written: \(ShopDatabase.describe(error))")
                }
            }
            return answer(status, bytes)
        }
    }

    private static func unavailable(_ content: String) -> APIError {
        var error = APIError(.serviceUnavailable, code: "unavailable", content)
        error.headers[.retryAfter] = "1"
        return error
    }

    // MARK: - Answers

    /// Runs the handler; an error it throws becomes its answer in the flat error shape.
    private func run(
        _ work: @Sendable (ShoppingCall) async throws -> ShoppingReply,
        _ call: ShoppingCall,
        request: Request
    ) async -> (HTTPResponse.Status, [UInt8]) {
        do {
            let reply = try await work(call)
            return (reply.status, reply.body)
        } catch {
            let failure = APIError.from(error, request: request)
            return (failure.status, failure.body)
        }
    }

    private func answer(_ status: HTTPResponse.Status, _ body: [UInt8], extra: HTTPFields = [:]) -> Response {
        if let signing { return signing.response(status: status, body: body, extra: extra) }
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: .init(bytes: body)))
    }

    private func answer(_ error: APIError) -> Response {
        answer(error.status, error.body, extra: error.headers)
    }

    static let ucpAgent = ResponseSigning.field("UCP-Agent")
    static let idempotencyKeyField = ResponseSigning.field("Idempotency-Key")
    static let signatureInput = ResponseSigning.field("Signature-Input")
}
