import Foundation

/// The outcome of one delivery attempt.
public struct DeliveryAttempt: Sendable {
    public let event: WebhookEvent
    /// The request exactly as sent.
    public let request: OutgoingRequest
    /// The response, or why there was none.
    public let outcome: Result<ReceivedResponse, TransportError>
    /// Wall time in seconds.
    public let elapsed: Double

    /// True on any 2xx.
    public var accepted: Bool {
        if case .success(let response) = outcome { return (200..<300).contains(response.status) }
        return false
    }

    /// `200`, or the transport failure, for one-line reports.
    public var summary: String {
        switch outcome {
        case .success(let response): "HTTP \(response.status)"
        case .failure(let error): "no response (\(error.message))"
        }
    }
}

/// Signs order events and posts them over libcurl.
public struct WebhookSender: Sendable {
    public let client: HTTPClient
    public let signer: MessageSigner
    /// The shop's profile URL, sent in `UCP-Agent`.
    public let profileURL: String
    /// Unix seconds now, for `created`. Injected so tests and replays control it.
    public let now: @Sendable () -> Int64

    public init(
        client: HTTPClient,
        signer: MessageSigner,
        profileURL: String,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.client = client
        self.signer = signer
        self.profileURL = profileURL
        self.now = now
    }

    /// The same sender (client, profile URL, clock) signing with another key: rotation and deliberate faults.
    public func with(key: SigningKey) -> WebhookSender {
        WebhookSender(client: client, signer: MessageSigner(key: key), profileURL: profileURL, now: now)
    }

    /// The headers a webhook carries before signing, in wire order.
    public func unsignedHeaders(for event: WebhookEvent, profileURL: String? = nil) -> HTTPFieldList {
        Self.headers(
            for: event,
            ucpAgent: UCPAgent.header(profileURL: profileURL ?? self.profileURL),
            digest: ContentDigest.header(for: event.body)
        )
    }

    /// The unsigned webhook headers, in wire order, with room for the two signature headers.
    private static func headers(for event: WebhookEvent, ucpAgent: String, digest: String) -> HTTPFieldList {
        var headers = HTTPFieldList()
        headers.reserveCapacity(7)
        headers.append("Content-Type", "application/json")
        headers.append("UCP-Agent", ucpAgent)
        headers.append("Webhook-Id", event.webhookID)
        headers.append("Webhook-Timestamp", String(event.timestamp))
        headers.append("Content-Digest", digest)
        return headers
    }

    /// Signs `headers` for a POST of `body` to `target`: covers `components` (default: the webhook set, `@query`
    /// added when the URL has one) and appends `Signature-Input` and `Signature`.
    public func signed(
        _ headers: HTTPFieldList,
        body: [UInt8],
        to target: RequestTarget,
        created: Int64,
        components: [String]? = nil
    ) throws -> OutgoingRequest {
        var headers = headers
        let message = SignableMessage(method: "POST", target: target, headers: headers)
        var parameters = signer.webhookParameters(for: message, created: created)
        if let components { parameters.components = components }
        let signature = try signer.sign(message, parameters: parameters)
        headers.append("Signature-Input", signature.signatureInput)
        headers.append("Signature", signature.signature)
        return OutgoingRequest(method: "POST", url: target.url, headers: headers, body: body)
    }

    /// The signed request for `event` to `target`, with a fresh `created`. With a `plan` for this sender and target
    /// the constant parts of the headers and the signature base are not rebuilt (the result is the same).
    public func signedRequest(
        for event: WebhookEvent,
        to target: RequestTarget,
        created: Int64,
        plan: WebhookSigningPlan? = nil
    ) throws -> OutgoingRequest {
        if let plan, plan.fits(self, target: target, event: event, created: created) {
            let digest = ContentDigest.header(for: event.body)
            let signatureParams = plan.signatureParams(created: created)
            let signature = try signer.key.sign(
                plan.signatureBase(event: event, digest: digest, params: signatureParams)
            )
            var headers = Self.headers(for: event, ucpAgent: plan.ucpAgent, digest: digest)
            headers.append("Signature-Input", plan.inputLabel + signatureParams)
            headers.append("Signature", plan.signatureHead + Data(signature).base64EncodedString() + plan.signatureTail)
            return OutgoingRequest(method: "POST", url: target.url, headers: headers, body: event.body)
        }
        return try signed(unsignedHeaders(for: event), body: event.body, to: target, created: created)
    }

    /// The constant parts of this sender's webhook signatures to `target`, for `signedRequest(…, plan:)`.
    public func plan(for target: RequestTarget) throws -> WebhookSigningPlan {
        try WebhookSigningPlan(sender: self, target: target)
    }

    /// Signs and sends one attempt.
    public func deliver(_ event: WebhookEvent, to target: RequestTarget) async throws -> DeliveryAttempt {
        let request = try signedRequest(for: event, to: target, created: now())
        let started = Date()
        let outcome: Result<ReceivedResponse, TransportError>
        do {
            outcome = .success(try await client.send(request))
        } catch let error as TransportError {
            outcome = .failure(error)
        }
        return DeliveryAttempt(
            event: event,
            request: request,
            outcome: outcome,
            elapsed: Date().timeIntervalSince(started)
        )
    }
}

/// What every webhook signature from one sender (key, profile URL) to one target repeats: the signature base lines
/// before `content-digest`, the `UCP-Agent` value, the `@signature-params` text around `created`, and the
/// `Signature-Input` and `Signature` values around what changes.
///
/// Built once with the general code (`SignableMessage.componentValue` for the lines, the structured-field serializer
/// for every header value), so the fast path in `signedRequest` only splices in the integer `created` and the base64
/// signature, and yields exactly what the general path would; tests hold the two to the same bytes.
public struct WebhookSigningPlan: Sendable {
    let targetURL: String
    let kid: String
    let profileURL: String
    let ucpAgent: String
    /// `"@method": POST\n` … `"content-type": application/json\n"content-digest": `.
    let baseHead: [UInt8]
    /// `\n"ucp-agent": …\n"webhook-id": `.
    let baseAgent: [UInt8]
    /// `("@method" …);created=` and `;keyid="…"`.
    let paramsHead: String
    let paramsTail: String
    /// `sig1=` before the parameters, and `sig1=:` and `:` around the base64 signature, as the serializer writes them.
    let inputLabel: String
    let signatureHead: String
    let signatureTail: String

    init(sender: WebhookSender, target: RequestTarget) throws {
        let probe = WebhookEvent(webhookID: "x", timestamp: 0, orderID: "x", body: [])
        let message = SignableMessage(method: "POST", target: target, headers: sender.unsignedHeaders(for: probe))
        let components = sender.signer.webhookParameters(for: message, created: 0).components
        guard let digestIndex = components.firstIndex(of: "content-digest"),
            components[digestIndex...] == ["content-digest", "ucp-agent", "webhook-id", "webhook-timestamp"]
        else { throw SignatureFailure(.signatureInvalid, "unexpected webhook components \(components)") }
        var head = ""
        for component in components[..<digestIndex] {
            guard let value = message.componentValue(component) else {
                throw SignatureFailure(.signatureInvalid, "covered component \"\(component)\" is absent")
            }
            head += "\"\(component)\": \(value)\n"
        }
        head += "\"content-digest\": "
        let agent = UCPAgent.header(profileURL: sender.profileURL)
        let bare = try SignatureParameters(components: components, created: nil, keyID: nil).serialized()
        let keyed = try SignatureParameters(components: components, created: nil, keyID: sender.signer.key.kid)
            .serialized()
        guard keyed.hasPrefix(bare) else {
            throw SignatureFailure(.signatureInvalid, "signature parameters cannot be serialized")
        }
        targetURL = target.url
        kid = sender.signer.key.kid
        profileURL = sender.profileURL
        ucpAgent = agent
        baseHead = Array(head.utf8)
        baseAgent = Array("\n\"ucp-agent\": \(agent)\n\"webhook-id\": ".utf8)
        paramsHead = bare + ";created="
        paramsTail = String(keyed.dropFirst(bare.count))
        // The two header values, serialized around a placeholder signature (three zero bytes: `AAAA`).
        let placeholder = try MessageSigner.headers(
            parameters: SignatureParameters(components: components, created: nil, keyID: nil),
            signature: [0, 0, 0]
        )
        guard placeholder.signatureInput.hasSuffix(bare), let marker = placeholder.signature.range(of: "AAAA") else {
            throw SignatureFailure(.signatureInvalid, "signature headers cannot be serialized")
        }
        inputLabel = String(placeholder.signatureInput.dropLast(bare.count))
        signatureHead = String(placeholder.signature[..<marker.lowerBound])
        signatureTail = String(placeholder.signature[marker.upperBound...])
    }

    /// True when the plan was made for this sender and target, and the event's values need none of the general
    /// path's handling (a token-like id; a `created` the serializer takes as an integer).
    func fits(_ sender: WebhookSender, target: RequestTarget, event: WebhookEvent, created: Int64) -> Bool {
        targetURL == target.url && kid == sender.signer.key.kid && profileURL == sender.profileURL
            && abs(created) < 1_000_000_000_000_000 && !event.webhookID.isEmpty
            && event.webhookID.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// The `Signature-Input` member value (also the `@signature-params` line's value).
    func signatureParams(created: Int64) -> String {
        paramsHead + String(created) + paramsTail
    }

    /// The signature base, byte for byte what `SignableMessage.signatureBase` builds for the same request.
    func signatureBase(event: WebhookEvent, digest: String, params: String) -> [UInt8] {
        var base = baseHead
        base.reserveCapacity(baseHead.count + baseAgent.count + 256 + params.utf8.count)
        base.append(contentsOf: digest.utf8)
        base.append(contentsOf: baseAgent)
        base.append(contentsOf: event.webhookID.utf8)
        base.append(contentsOf: "\n\"webhook-timestamp\": ".utf8)
        base.append(contentsOf: String(event.timestamp).utf8)
        base.append(contentsOf: "\n\"@signature-params\": ".utf8)
        base.append(contentsOf: params.utf8)
        return base
    }
}
