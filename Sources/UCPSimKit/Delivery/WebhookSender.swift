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
        var headers = HTTPFieldList()
        headers.append("Content-Type", "application/json")
        headers.append("UCP-Agent", UCPAgent.header(profileURL: profileURL ?? self.profileURL))
        headers.append("Webhook-Id", event.webhookID)
        headers.append("Webhook-Timestamp", String(event.timestamp))
        headers.append("Content-Digest", ContentDigest.header(for: event.body))
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

    /// The signed request for `event` to `target`, with a fresh `created`.
    public func signedRequest(for event: WebhookEvent, to target: RequestTarget, created: Int64) throws
        -> OutgoingRequest
    {
        try signed(unsignedHeaders(for: event), body: event.body, to: target, created: created)
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
