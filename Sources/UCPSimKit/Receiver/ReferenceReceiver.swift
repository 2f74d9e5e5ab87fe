import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A webhook as the reference receiver got it, and its verdict.
public struct ReceivedWebhook: Sendable {
    /// The receiver's sequence number for it, from 1 (its id in the inspector: `r_<sequence>`).
    public let sequence: Int
    /// When it was received.
    public let receivedAt: Date
    /// The request as received: method, reconstructed URL, header fields in order.
    public let method: String
    public let url: String
    public let headers: HTTPFieldList
    /// The body bytes of a verified webhook; of a rejected one, at most its first
    /// `ReferenceReceiver.rejectedBodyBytes` (`bodyTruncated` says whether it was cut; `bodyLength` is its length).
    public let body: [UInt8]
    /// True when `body` is only the beginning of the body received.
    public let bodyTruncated: Bool
    /// The body's length as received (for a body refused unread: as announced by `Content-Length`, or the limit).
    public let bodyLength: Int
    /// The status the receiver answered.
    public let status: Int
    /// `verified` with the key id (`ucp`) or the 1-based position of the matching secret (`#2`, HMAC dialects),
    /// or the failure.
    public let verdict: Result<String, SignatureFailure>
    /// True when this event id had been accepted before in this dialect (acknowledged again, processed once).
    public let duplicate: Bool
    /// The dialect its headers name; nil when it carries no signature header of any.
    public let dialect: DialectName?
    /// The event id: `Webhook-Id` (`ucp`, `standard-webhooks`) or the envelope's `event_id` (`ucp-hmac`). As the
    /// sender claimed it: unverified when the verdict is a failure.
    public let eventID: String?
    /// The event type the body names (`event_type` in `ucp-hmac`; `type` or `event_type` in `standard-webhooks`).
    public let eventType: String?
    /// The order the body is about, as the sender claimed it: the `id` of the order object it carries (`ucp`: the
    /// body; `ucp-hmac`: `data.order` or `data`; `standard-webhooks`: `data`).
    public let orderID: String?
    /// The signer's profile URL (from `UCP-Agent`) whose key verified a `ucp` webhook; nil otherwise.
    public let profile: String?

    /// The inspector's id: `r_<sequence>`.
    public var id: String { "r_\(sequence)" }

    /// The `Webhook-Id` header, if any.
    public var webhookID: String? { headers["webhook-id"] }

    /// One line for the log.
    /// One line for the log, whatever the sender put in its headers and body: control characters are escaped, so
    /// a hostile id cannot start a line of its own.
    public var logLine: String { Identifier.printable(rawLogLine) }

    private var rawLogLine: String {
        if let dialect, dialect != .ucp { return hmacLogLine(dialect) }
        let id = webhookID ?? "-"
        switch verdict {
        case .success(let kid):
            let order = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["id"] as? String ?? "-"
            return "verified\(duplicate ? " (duplicate)" : "")  webhook-id=\(id) order=\(order) kid=\(kid) -> \(status)"
        case .failure(let failure):
            let diagnostic = failure.diagnostic.map { " (\($0))" } ?? ""
            return "rejected  \(failure.reason.rawValue): \(failure.detail)\(diagnostic)  webhook-id=\(id) -> \(status)"
        }
    }

    /// The HMAC dialects' line: the dialect, the event id and type, and the matching secret's position or the reason.
    private func hmacLogLine(_ dialect: DialectName) -> String {
        let event = "dialect=\(dialect.rawValue) event=\(eventID ?? "-") type=\(eventType ?? "-")"
        switch verdict {
        case .success(let secret):
            return "verified\(duplicate ? " (duplicate)" : "")  \(event) secret=\(secret) -> \(status)"
        case .failure(let failure):
            let diagnostic = failure.diagnostic.map { " (\($0))" } ?? ""
            return "rejected  \(failure.reason.rawValue): \(failure.detail)\(diagnostic)  \(event) -> \(status)"
        }
    }
}

/// The reference platform receiver: resolves the shop's keys from `UCP-Agent`, checks digest, coverage and
/// signature, and answers 2xx or the spec's error status and code.
public final class ReferenceReceiver: Sendable {
    /// Options for what the receiver tolerates, and the bounds that keep strangers from exhausting it.
    public struct Options: Sendable {
        /// Which profile URLs may be fetched (loopback `http://`, private ranges, named hosts).
        public var profilePolicy = ProfileFetchPolicy()
        /// How long and how large a profile fetch may be, and how many run at once.
        public var profileLimits = ProfileCache.Limits()
        /// Require `Webhook-Id` and `Webhook-Timestamp` headers.
        public var requireWebhookHeaders = true
        /// The largest body read; a longer one is answered 413 without being read (or kept).
        public var maxBodyBytes = 1024 * 1024
        /// How many received webhooks `received` keeps (the oldest go first).
        public var logCapacity = 1_000
        /// How many body bytes of verified webhooks `received` keeps in all (the oldest records go first).
        public var logBodyBytes = 8 * 1024 * 1024
        /// The shared secrets `ucp-hmac` and `standard-webhooks` webhooks are checked with (several during a
        /// rotation: any one matching is enough). None: HMAC-signed webhooks are refused `secret_not_configured`.
        public var secrets: [WebhookSecret] = []

        public init() {}
    }

    private struct Log {
        var records: [ReceivedWebhook] = []
        var bodyBytes = 0
        var lastSequence = 0
    }

    /// How many bytes of a rejected webhook's body the log keeps (for the inspector to show).
    public static let rejectedBodyBytes = 4096

    /// The live feed of what is received (`listen`'s `/v1/events/stream`): one `received` event per webhook, its
    /// data the record's inspector JSON.
    public let events: EventStream

    let profiles: ProfileCache
    private let verifier = MessageVerifier()
    private let options: Options
    private let secrets: ReceiverSecrets
    /// The clock HMAC timestamps are judged by.
    private let now: @Sendable () -> Date
    private let log = Mutex(Log())
    /// The event ids accepted, for duplicate detection, per dialect (`ucp`: the `Webhook-Id` as is; the HMAC
    /// dialects: `<dialect> <id>`): the newest `memory` of them.
    private let seen = Mutex(BoundedMap<String, Bool>(capacity: ReferenceReceiver.memory))
    /// The shop (profile URL) that first sent each order: another shop may not speak for it.
    private let owners = Mutex(BoundedMap<String, String>(capacity: ReferenceReceiver.memory))
    /// How many webhook ids and order owners the receiver remembers (the oldest are forgotten first).
    public static let memory = 100_000
    private let onReceive: @Sendable (ReceivedWebhook) -> Void

    /// - Parameter now: the clock the profile cache and the HMAC timestamp checks run on (injected so tests can
    ///   move time).
    public init(
        client: HTTPClient,
        options: Options = Options(),
        now: @escaping @Sendable () -> Date = { Date() },
        onReceive: @escaping @Sendable (ReceivedWebhook) -> Void = { _ in }
    ) {
        self.profiles = ProfileCache(
            client: client,
            policy: options.profilePolicy,
            limits: options.profileLimits,
            now: now
        )
        self.options = options
        self.secrets = ReceiverSecrets(options.secrets)
        self.now = now
        self.onReceive = onReceive
        self.events = EventStream()
    }

    /// What was received, in order: the last `Options.logCapacity` webhooks, fewer when their bodies would exceed
    /// `Options.logBodyBytes`.
    public var received: [ReceivedWebhook] { log.withLock { $0.records } }

    /// How many webhooks the log keeps at most.
    public var logCapacity: Int { options.logCapacity }

    /// The record with this inspector id (`r_12`), while the log still keeps it.
    public func record(id: String) -> ReceivedWebhook? {
        guard id.hasPrefix("r_"), let sequence = Int(id.dropFirst(2)) else { return nil }
        return log.withLock { log in
            // Sequences ascend through the log: a binary search finds it.
            var low = 0
            var high = log.records.count
            while low < high {
                let middle = (low + high) / 2
                if log.records[middle].sequence < sequence { low = middle + 1 } else { high = middle }
            }
            return low < log.records.count && log.records[low].sequence == sequence ? log.records[low] : nil
        }
    }

    /// Newest first: up to `limit` records received before sequence `before` (nil: from the newest) that `include`
    /// accepts, and whether older ones it accepts remain.
    public func page(
        before: Int?,
        limit: Int,
        where include: (ReceivedWebhook) -> Bool
    ) -> (records: [ReceivedWebhook], more: Bool) {
        log.withLock { log in
            var found: [ReceivedWebhook] = []
            for record in log.records.reversed() where before.map({ record.sequence < $0 }) ?? true && include(record) {
                if found.count == limit { return (found, true) }
                found.append(record)
            }
            return (found, false)
        }
    }

    /// Starts a reference receiver on `host:port` (port 0: any free one); POST any path. With `apiToken`, it also
    /// serves the inspector: the page at `GET /` and the API (`/v1/received`, `/v1/events/stream`) behind that token.
    public static func start(
        client: HTTPClient,
        host: String = "127.0.0.1",
        port: Int = 0,
        options: Options = Options(),
        apiToken: BearerToken? = nil,
        logger: Logger,
        onReceive: @escaping @Sendable (ReceivedWebhook) -> Void = { _ in },
        now: @escaping @Sendable () -> Date = { Date() }
    ) async throws(UCPSimError) -> (ReferenceReceiver, RunningServer) {
        let receiver = ReferenceReceiver(client: client, options: options, now: now, onReceive: onReceive)
        let router = Router()
        receiver.addRoutes(to: router)
        if let apiToken { ReceiverInspector(receiver: receiver, token: apiToken).addRoutes(to: router) }
        let server = try await RunningServer.start(router: router, host: host, port: port, logger: logger)
        return (receiver, server)
    }

    /// Routes every POST to the verifier, and GET `/.well-known/ucp` (and `/.well-known/ucp/DATE`) to the receiver's
    /// platform profile (`ReceiverPlatformProfile`): a router given to it must not route those paths itself.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/", use: webhookHandler)
        router.post("/**", use: webhookHandler)
        // This receiver as a platform: a shop negotiating with this profile sends its order webhooks here.
        let profile: @Sendable (Request, UCPVersion) -> Response = { request, version in
            let authority = request.head.authority ?? "localhost"
            let body = ReceiverPlatformProfile.json(
                version: version,
                webhookURL: "http://\(authority)\(Self.platformWebhookPath)"
            )
            return .json(body, headers: [.cacheControl: "public, max-age=60"])
        }
        router.get("/.well-known/ucp") { request, _ in profile(request, .newest) }
        router.get("/.well-known/ucp/:version") { request, context -> Response in
            guard let version = context.parameters.get("version").flatMap(UCPVersion.init(rawValue:)) else {
                return Response(status: .notFound)
            }
            return profile(request, version)
        }
    }

    /// The handler every POST goes to: reads the body (refusing one over the limit) and verifies it. Other routes on
    /// the same router register it for POST on their own paths too (Hummingbird's router does not fall back from a
    /// path it knows to `/**`).
    var webhookHandler: @Sendable (Request, BasicRequestContext) async throws -> Response {
        { [self] request, _ in
            var request = request
            var headers = HTTPFieldList()
            for field in request.headers { headers.append(field.name.rawName, field.value) }
            let authority = request.head.authority ?? headers["host"] ?? "localhost"
            let url = "http://\(authority)\(request.uri.string)"
            let method = request.method.rawValue
            // A body over the limit is refused before it is read: the announced length first, then while reading
            // (chunked bodies). Hummingbird discards what is left unread.
            if let announced = headers["content-length"].flatMap(Int.init), announced > options.maxBodyBytes {
                let (status, body) = refuseOversized(method: method, url: url, headers: headers, length: announced)
                return .json(body, status: .init(code: status))
            }
            let buffer: ByteBuffer
            do {
                buffer = try await request.collectBody(upTo: options.maxBodyBytes)
            } catch is NIOTooManyBytesError {
                let (status, body) = refuseOversized(method: method, url: url, headers: headers, length: nil)
                return .json(body, status: .init(code: status))
            }
            let (status, responseBody) = await receive(
                method: method,
                url: url,
                headers: headers,
                body: [UInt8](buffer: buffer)
            )
            return .json(responseBody, status: .init(code: status))
        }
    }

    /// Where the platform profile points its order webhooks.
    public static let platformWebhookPath = "/webhooks/ucp/orders"

    /// Answers 413 for a body over `Options.maxBodyBytes` (`length`: as announced, nil when only reading found out).
    private func refuseOversized(method: String, url: String, headers: HTTPFieldList, length: Int?) -> (Int, [UInt8]) {
        let dialect = Self.dialect(of: headers)
        let failure = SignatureFailure(
            .bodyTooLarge,
            "the body\(length.map { " (\($0) bytes)" } ?? "") is larger than the \(options.maxBodyBytes) bytes accepted"
        )
        return answer(
            method: method,
            url: url,
            headers: headers,
            body: [],
            bodyLength: length ?? options.maxBodyBytes + 1,
            dialect: dialect,
            event: Self.claimedEvent(dialect, headers: headers, body: []),
            verdict: .failure(failure)
        )
    }

    /// The dialect a request's headers name: `Signature-Input` or `Signature` → `ucp` (RFC 9421), `UCP-Signature` →
    /// `ucp-hmac`, `webhook-signature` → `standard-webhooks`, checked in that order; nil when none is there.
    public static func dialect(of headers: HTTPFieldList) -> DialectName? {
        if headers["signature-input"] != nil || headers["signature"] != nil { return .ucp }
        if headers["ucp-signature"] != nil { return .ucpHMAC }
        if headers["webhook-signature"] != nil { return .standardWebhooks }
        return nil
    }

    /// What the request says its event is, for the log: unverified.
    static func claimedEvent(_ dialect: DialectName?, headers: HTTPFieldList, body: [UInt8]) -> ClaimedEvent {
        switch dialect {
        case .ucpHMAC: UCPHMACVerifier.claimedEvent(headers: headers, body: body)
        case .standardWebhooks: StandardWebhooksVerifier.claimedEvent(headers: headers, body: body)
        case .ucp, nil: ClaimedEvent(id: headers["webhook-id"], type: nil)
        }
    }

    /// Verifies one request in the dialect its headers name and returns the status and JSON body to answer with.
    public func receive(method: String, url: String, headers: HTTPFieldList, body: [UInt8]) async -> (Int, [UInt8]) {
        let dialect = Self.dialect(of: headers)
        let event = Self.claimedEvent(dialect, headers: headers, body: body)
        let verdict: Result<String, SignatureFailure>
        var duplicateKey: String?
        var profile: String?
        switch dialect {
        case .ucp:
            do {
                let verified = try await verify(method: method, url: url, headers: headers, body: body)
                verdict = .success(verified.kid)
                profile = verified.profile
                duplicateKey = headers["webhook-id"]
            } catch {
                verdict = .failure(error)
            }
        case .ucpHMAC, .standardWebhooks:
            let verifier: any HMACWebhookVerifier.Type =
                dialect == .ucpHMAC ? UCPHMACVerifier.self : StandardWebhooksVerifier.self
            do {
                let verified = try verifier.verify(
                    headers: headers,
                    body: body,
                    keys: secrets.keys(for: verifier.dialect),
                    now: Int64(now().timeIntervalSince1970.rounded(.down))
                )
                verdict = .success("#\(verified.secret)")
                duplicateKey = "\(verifier.dialect.rawValue) \(verified.eventID)"
            } catch {
                verdict = .failure(error)
            }
        case nil:
            verdict = .failure(
                SignatureFailure(
                    .signatureMissing,
                    "no signature header: Signature-Input (ucp), UCP-Signature (ucp-hmac) or webhook-signature "
                        + "(standard-webhooks)"
                )
            )
        }
        return answer(
            method: method,
            url: url,
            headers: headers,
            body: body,
            bodyLength: body.count,
            dialect: dialect,
            event: event,
            duplicateKey: duplicateKey,
            profile: profile,
            verdict: verdict
        )
    }

    /// Logs the verdict (keeping at most `rejectedBodyBytes` of a rejected body), tells the event stream, and returns
    /// the status and JSON body to answer with.
    private func answer(
        method: String,
        url: String,
        headers: HTTPFieldList,
        body: [UInt8],
        bodyLength: Int,
        dialect: DialectName?,
        event: ClaimedEvent,
        duplicateKey: String? = nil,
        profile: String? = nil,
        verdict: Result<String, SignatureFailure>
    ) -> (Int, [UInt8]) {
        var duplicate = false
        if case .success = verdict, let duplicateKey {
            duplicate = !seen.withLock { $0.insertIfAbsent(true, for: duplicateKey) }
        }
        let status: Int
        let response: [String: Any]
        let kept: [UInt8]
        switch verdict {
        case .success:
            status = 200
            response = dialect == .ucp ? Self.acknowledgement(body: body) : ["status": "ok"]
            kept = body
        case .failure(let failure):
            status = failure.reason.httpStatus
            response = ["code": failure.reason.errorCode, "content": "\(failure.reason.rawValue): \(failure.detail)"]
            kept = Array(body.prefix(Self.rejectedBodyBytes))
        }
        let orderID = Self.claimedOrderID(dialect, body: body)
        let receivedAt = now()
        let record = log.withLock { log in
            log.lastSequence += 1
            let record = ReceivedWebhook(
                sequence: log.lastSequence,
                receivedAt: receivedAt,
                method: method,
                url: url,
                headers: headers,
                body: kept,
                bodyTruncated: kept.count < bodyLength,
                bodyLength: bodyLength,
                status: status,
                verdict: verdict,
                duplicate: duplicate,
                dialect: dialect,
                eventID: event.id,
                eventType: event.type,
                orderID: orderID,
                profile: profile
            )
            log.records.append(record)
            log.bodyBytes += kept.count
            var drop = 0
            while drop < log.records.count - 1,
                log.records.count - drop > options.logCapacity || log.bodyBytes > options.logBodyBytes
            {
                log.bodyBytes -= log.records[drop].body.count
                drop += 1
            }
            if drop > 0 { log.records.removeFirst(drop) }
            // Under the log's lock: the stream's order is the log's.
            events.publish("received", record.inspectorJSON)
            return record
        }
        onReceive(record)
        let bytes = (try? JSONSerialization.data(withJSONObject: response, options: [.sortedKeys])) ?? Data()
        return (status, [UInt8](bytes))
    }

    /// The 2xx answer `webhooks.orderEvent` requires: `{"ucp": {...}}`, in the release the webhook declared (the
    /// newest when it declared none ucpsim knows).
    static func acknowledgement(body: [UInt8]) -> [String: Any] {
        let declared =
            (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
            .flatMap { $0["ucp"] as? [String: Any] }?["version"] as? String
        let version = declared.flatMap(UCPVersion.init(rawValue:)) ?? .newest
        return [
            "ucp": [
                "version": version.rawValue,
                "status": "success",
                "capabilities": ["dev.ucp.shopping.order": [["version": version.rawValue]]],
            ]
        ]
    }

    /// The order a body claims to be about, unverified: the `id` of the order object it carries (`ucp`: the body; the
    /// HMAC dialects: `data.order` or `data`), else the envelope's `data.order_id`.
    static func claimedOrderID(_ dialect: DialectName?, body: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        switch dialect {
        case .ucpHMAC, .standardWebhooks:
            let data = object["data"] as? [String: Any]
            let order = (data?["order"] as? [String: Any]) ?? data
            return order?["id"] as? String ?? data?["order_id"] as? String
        case .ucp, nil:
            return object["id"] as? String
        }
    }

    /// Verifies a `ucp` webhook; answers the key id that verified it and the signer's profile URL.
    private func verify(method: String, url: String, headers: HTTPFieldList, body: [UInt8])
        async throws(SignatureFailure) -> (kid: String, profile: String)
    {
        let target: RequestTarget
        do {
            target = try RequestTarget(url)
        } catch {
            throw SignatureFailure(.signatureInvalid, "cannot reconstruct the request target: \(error)")
        }
        let message = SignableMessage(method: method, target: target, headers: headers)
        _ = try verifier.parameters(of: message)
        guard let agent = headers["ucp-agent"] else {
            throw SignatureFailure(.invalidProfileURL, "no UCP-Agent header: the signer's profile is unknown")
        }
        let profileURL = try checkedProfileURL(agent)
        if options.requireWebhookHeaders {
            for name in ["Webhook-Id", "Webhook-Timestamp"] where headers[name] == nil {
                throw SignatureFailure(.headerMissing, "no \(name) header")
            }
        }
        let keys = try await profiles.keys(at: profileURL)
        let kid: String
        do {
            kid = try verifier.verify(message, body: body, keys: keys)
        } catch let failure where failure.reason == .keyNotFound {
            // The shop may have rotated keys since the profile was cached: fetch it again once.
            let fresh = try await profiles.keys(at: profileURL, refresh: true)
            kid = try verifier.verify(message, body: body, keys: fresh)
        }
        try checkOwnership(body: body, signer: profileURL)
        return (kid, profileURL)
    }

    /// Authorization: the first shop to send an order owns it; a webhook about it from another shop is refused.
    private func checkOwnership(body: [UInt8], signer: String) throws(SignatureFailure) {
        guard let order = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["id"] as? String
        else {
            return
        }
        let owner = owners.withLock { owners in
            if let owner = owners[order] { return owner }
            owners.insertIfAbsent(signer, for: order)
            return signer
        }
        guard owner == signer else {
            throw SignatureFailure(.orderNotOwned, "order \(order) belongs to \(owner), not \(signer)")
        }
    }

    private func checkedProfileURL(_ agent: String) throws(SignatureFailure) -> String {
        guard let url = UCPAgent.profileURL(from: agent) else {
            throw SignatureFailure(.invalidProfileURL, "UCP-Agent is not a dictionary with a profile string")
        }
        guard let target = try? RequestTarget(url) else {
            throw SignatureFailure(.invalidProfileURL, "UCP-Agent profile \(url) is not an http(s) URL")
        }
        if let refusal = options.profilePolicy.refusal(before: target) {
            throw SignatureFailure(.invalidProfileURL, "UCP-Agent profile \(url): \(refusal)")
        }
        guard target.path == "/.well-known/ucp", target.query == nil else {
            throw SignatureFailure(
                .invalidProfileURL,
                "a business profile URL must be <origin>/.well-known/ucp, got \(url)"
            )
        }
        return url
    }
}
