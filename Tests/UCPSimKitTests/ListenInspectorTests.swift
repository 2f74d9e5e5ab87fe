import Foundation
import Synchronization
import Testing

@testable import UCPSimKit

/// `ucpsim listen`'s inspector: its JSON API (`/v1/received`, `/v1/events/stream`) behind the Bearer token, over
/// real HTTP to a real receiver, and its page at `/`.
@Suite struct ListenInspectorTests {
    static let token = "tok_listen_inspector"

    /// A receiver with the inspector (and `secrets` for the HMAC dialects) on loopback.
    static func start(secrets: [String] = []) async throws -> (ReferenceReceiver, RunningServer, HTTPClient) {
        let client = HTTPClient(workers: 4)
        var options = ReferenceReceiver.Options()
        options.secrets = secrets.map(WebhookSecret.init)
        let (receiver, server) = try await ReferenceReceiver.start(
            client: client,
            options: options,
            apiToken: BearerToken(token),
            logger: TestSupport.quietLogger
        )
        return (receiver, server, client)
    }

    static func get(
        _ client: HTTPClient,
        _ url: String,
        token: String? = ListenInspectorTests.token,
        headers extra: [(String, String)] = []
    ) async throws -> ReceivedResponse {
        var headers = HTTPFieldList(extra)
        if let token { headers.append("Authorization", "Bearer \(token)") }
        return try await client.send(OutgoingRequest(method: "GET", url: url, headers: headers))
    }

    static func object(_ response: ReceivedResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], "\(response)")
    }

    static func postUnsigned(_ client: HTTPClient, _ url: String, _ body: [UInt8]) async throws -> ReceivedResponse {
        try await client.send(
            OutgoingRequest(
                method: "POST",
                url: url,
                headers: HTTPFieldList([("Content-Type", "application/json")]),
                body: body
            )
        )
    }

    @Test func theAPIAndItsStreamNeedTheTokenThePageDoesNotAndPOSTsStillGoToTheVerifier() async throws {
        let (_, server, client) = try await Self.start()
        let base = server.baseURL
        _ = try await Self.postUnsigned(client, "\(base)/webhooks", Array("{}".utf8))
        var refusals: [String] = []
        for path in ["/v1/received", "/v1/received?limit=1", "/v1/received/r_1", "/v1/events/stream", "/v1/nowhere"] {
            for token in [nil, "wrong"] {
                let response = try await Self.get(client, "\(base)\(path)", token: token)
                let code = (try? Self.object(response))?["code"] as? String
                if response.status != 401 || code != "unauthorized" || response.headers["www-authenticate"] == nil {
                    refusals.append("\(path) with \(token ?? "no token"): \(response.status) \(code ?? "-")")
                }
            }
        }
        let page = try await Self.get(client, "\(base)/", token: nil)
        // A webhook may be POSTed to any path, these included: the verifier answers, not the token check.
        let posted = try await Self.postUnsigned(client, "\(base)/v1/received", Array("{}".utf8))
        let postedElsewhere = try await Self.postUnsigned(client, "\(base)/v1/anything", Array("{}".utf8))
        let put = try await client.send(
            OutgoingRequest(
                method: "PUT",
                url: "\(base)/v1/received",
                headers: HTTPFieldList([("Authorization", "Bearer \(Self.token)")])
            )
        )
        let unknown = try await Self.get(client, "\(base)/v1/nowhere")
        await server.stop()
        await client.shutdown()

        #expect(refusals.isEmpty, "\(refusals)")
        #expect(page.status == 200 && page.headers["content-type"] == "text/html; charset=utf-8")
        for answer in [posted, postedElsewhere] {
            #expect(answer.status == 401)
            #expect(try Self.object(answer)["code"] as? String == "signature_missing", "the verifier answered")
        }
        #expect(put.status == 405 && put.headers["allow"] == "GET")
        #expect(try unknown.status == 404 && Self.object(unknown)["code"] as? String == "not_found")
    }

    @Test func aVerifiedUCPWebhookRecordsItsKeyAndSignerARejectedOneItsReasonAndFirst4KiB() async throws {
        let (receiver, server, client) = try await Self.start()
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let document = try OrderDocument.load(path: TestSupport.path("fixtures/order-created.json"))
        let target = try RequestTarget("\(server.baseURL)/webhooks/ucp/orders")
        let attempt = try await shop.send(document, to: target)
        var forged = try shop.sender.signedRequest(
            for: WebhookEvent(timestamp: 1_775_913_000, orderID: document.id, body: document.bytes),
            to: target,
            created: Int64(Date().timeIntervalSince1970)
        )
        forged.body = Array(
            String(decoding: document.bytes, as: UTF8.self).replacingOccurrences(of: "2800", with: "0001").utf8
        )
        let forgedAnswer = try await shop.client.send(forged)
        let large =
            Array(#"{"note":""#.utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 10_000) + Array(#""}"#.utf8)
        _ = try await Self.postUnsigned(client, "\(server.baseURL)/large", large)
        let verified = try Self.object(try await Self.get(client, "\(server.baseURL)/v1/received/r_1"))
        let rejected = try Self.object(try await Self.get(client, "\(server.baseURL)/v1/received/r_2"))
        let truncated = try Self.object(try await Self.get(client, "\(server.baseURL)/v1/received/r_3"))
        let missing = try await Self.get(client, "\(server.baseURL)/v1/received/r_4")
        await shop.stop()
        await server.stop()
        await client.shutdown()

        #expect(attempt.accepted && forgedAnswer.status == 400)
        #expect(verified["verified"] as? Bool == true && verified["status"] as? Int == 200)
        #expect(verified["dialect"] as? String == "ucp")
        #expect(verified["event_id"] as? String == attempt.webhookID)
        #expect(verified["order_id"] as? String == document.id)
        #expect(verified["method"] as? String == "POST")
        #expect(verified["url"] as? String == "\(server.baseURL)/webhooks/ucp/orders")
        #expect(
            verified["key"] as? [String: String]
                == ["kid": shop.keyRing.active.kid, "profile": "\(shop.server.baseURL)/.well-known/ucp"]
        )
        #expect(verified["failure"] is NSNull)
        #expect(verified["body"] as? String == String(decoding: document.bytes, as: UTF8.self))
        #expect(verified["body_size"] as? Int == document.bytes.count && verified["body_truncated"] as? Bool == false)
        let headers = try #require(verified["headers"] as? [[String: String]])
        #expect(headers.contains { $0["name"] == "Signature-Input" && $0["value"]?.contains("keyid=") == true })
        let received = try #require(verified["received_at"] as? String)
        #expect(received.hasSuffix("Z") && received.contains("."), "RFC 3339 with milliseconds: \(received)")
        #expect(receiver.received.first?.receivedAt.timeIntervalSinceNow ?? 1 <= 0)

        #expect(rejected["verified"] as? Bool == false && rejected["status"] as? Int == 400)
        #expect(rejected["key"] is NSNull)
        let failure = try #require(rejected["failure"] as? [String: Any])
        #expect(failure["reason"] as? String == "digest_mismatch" && failure["code"] as? String == "digest_mismatch")
        #expect((failure["detail"] as? String)?.isEmpty == false)
        #expect(rejected["body"] as? String == String(decoding: forged.body, as: UTF8.self), "under 4 KiB: all kept")

        #expect(truncated["body_truncated"] as? Bool == true && truncated["body_size"] as? Int == large.count)
        #expect(truncated["body"] as? String == String(decoding: large.prefix(4096), as: UTF8.self))
        #expect((truncated["failure"] as? [String: Any])?["reason"] as? String == "signature_missing")
        #expect(try missing.status == 404 && Self.object(missing)["code"] as? String == "not_found")
    }

    @Test func anHMACWebhookRecordsTheMatchingSecretsPositionNeverTheSecret() async throws {
        let unsigned = HMACReceiverTests.Unsigned(.ucpHMAC, id: "evt_inspector_1")
        let signed = try await HMACReceiverTests.sign([unsigned])
        let (_, server, client) = try await Self.start(secrets: [HMACReceiverTests.secret])
        _ = try await HMACReceiverTests.post([(signed[0], unsigned.body)], to: "\(server.baseURL)/h", client: client)
        let response = try await Self.get(client, "\(server.baseURL)/v1/received/r_1")
        await server.stop()
        await client.shutdown()

        let record = try Self.object(response)
        #expect(record["verified"] as? Bool == true)
        #expect(record["key"] as? [String: String] == ["secret": "#1"])
        #expect(record["dialect"] as? String == "ucp-hmac")
        #expect(
            record["event_id"] as? String == "evt_inspector_1" && record["event_type"] as? String == "order.created"
        )
        #expect(record["order_id"] as? String == "ord_hmac_1")
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(!text.contains(HMACReceiverTests.secret))
    }

    @Test func theListPagesNewestFirstWithACursorAndFiltersByVerdictStrictly() async throws {
        let unsigned = (1...2).map { HMACReceiverTests.Unsigned(.standardWebhooks, id: "msg_page_\($0)") }
        let signed = try await HMACReceiverTests.sign(unsigned)
        let (_, server, client) = try await Self.start(secrets: [HMACReceiverTests.secret])
        let base = server.baseURL
        // r_1, r_2, r_4 rejected; r_3, r_5 verified.
        _ = try await Self.postUnsigned(client, "\(base)/a", Array("{}".utf8))
        _ = try await Self.postUnsigned(client, "\(base)/a", Array("{}".utf8))
        _ = try await HMACReceiverTests.post([(signed[0], unsigned[0].body)], to: "\(base)/h", client: client)
        _ = try await Self.postUnsigned(client, "\(base)/a", Array("{}".utf8))
        _ = try await HMACReceiverTests.post([(signed[1], unsigned[1].body)], to: "\(base)/h", client: client)

        func ids(_ query: String) async throws -> ([String], String?) {
            let page = try Self.object(try await Self.get(client, "\(base)/v1/received\(query)"))
            let records = try #require(page["received"] as? [[String: Any]])
            return (records.compactMap { $0["id"] as? String }, page["next_cursor"] as? String)
        }
        let all = try await ids("")
        var walked: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await ids("?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
            walked += page.0
            cursor = page.1
            pages += 1
        } while cursor != nil && pages < 10
        let verified = try await ids("?verdict=verified")
        let rejected = try await ids("?verdict=rejected&limit=2")
        let afterVerified = try await ids("?verdict=rejected&limit=2&cursor=\(try #require(rejected.1))")
        var refusals: [String: String] = [:]
        for (query, parameter) in [
            ("?verdict=maybe", "verdict"), ("?limit=0", "limit"), ("?limit=501", "limit"), ("?limit=x", "limit"),
            ("?cursor=xyz", "cursor"), ("?status=delivered", "status"), ("?limit=2&limit=3", "limit"),
        ] {
            let response = try await Self.get(client, "\(base)/v1/received\(query)")
            let body = try Self.object(response)
            if response.status != 400 || body["code"] as? String != "invalid_request"
                || body["path"] as? String != "$.\(parameter)"
            {
                refusals[query] = "\(response.status) \(body)"
            }
        }
        await server.stop()
        await client.shutdown()

        #expect(all.0 == ["r_5", "r_4", "r_3", "r_2", "r_1"] && all.1 == nil)
        #expect(walked == all.0 && pages == 3)
        #expect(verified.0 == ["r_5", "r_3"])
        #expect(rejected.0 == ["r_4", "r_2"] && afterVerified.0 == ["r_1"] && afterVerified.1 == nil)
        #expect(refusals.isEmpty, "\(refusals)")
    }

    /// The SSE stream over real HTTP: `retry`, then one `received` event per webhook with its record; a reconnect
    /// with `Last-Event-ID` gets what came after it. Each request's body is read whole once the stream ends
    /// (`events.finish()`, as `listen` does when it stops).
    @Test func theStreamSendsEachReceivedWebhookAndReplaysAfterLastEventID() async throws {
        let (receiver, server, client) = try await Self.start()
        let base = server.baseURL
        let live = Task { try await Self.get(client, "\(base)/v1/events/stream") }
        while receiver.events.subscriberCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        _ = try await Self.postUnsigned(client, "\(base)/one", Array(#"{"n":1}"#.utf8))
        _ = try await Self.postUnsigned(client, "\(base)/two", Array(#"{"n":2}"#.utf8))
        receiver.events.finish()
        let stream = try await live.value
        // After the end, a reconnect still gets its replay, then the end.
        let replay = try await Self.get(client, "\(base)/v1/events/stream", headers: [("Last-Event-ID", "1")])
        let tooOld = try await Self.get(client, "\(base)/v1/events/stream", headers: [("Last-Event-ID", "99")])
        await server.stop()
        await client.shutdown()

        #expect(stream.status == 200 && stream.headers["content-type"] == "text/event-stream")
        #expect(stream.headers["cache-control"] == "no-store")
        let text = String(decoding: stream.body, as: UTF8.self)
        #expect(text.hasPrefix("retry: 2000\n\n"), "\(text)")
        let events = Self.events(text)
        #expect(events.map(\.id) == ["1", "2"] && events.allSatisfy { $0.type == "received" })
        let records = try events.map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any])
        }
        #expect(records.map { $0["id"] as? String } == ["r_1", "r_2"])
        #expect(records.map { $0["url"] as? String } == ["\(base)/one", "\(base)/two"])
        #expect(records.first?["body"] as? String == #"{"n":1}"#)
        #expect(Self.events(String(decoding: replay.body, as: UTF8.self)).map(\.id) == ["2"])
        #expect(Self.events(String(decoding: tooOld.body, as: UTF8.self)).map(\.type) == ["reset"])
    }

    /// A graceful stop ends an open stream (it would otherwise hold the stop forever).
    @Test func stoppingTheServerEndsAnOpenStream() async throws {
        let (receiver, server, client) = try await Self.start()
        let live = Task { try await Self.get(client, "\(server.baseURL)/v1/events/stream") }
        while receiver.events.subscriberCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        await server.stop()
        let stream = try await live.value
        await client.shutdown()
        #expect(stream.status == 200 && String(decoding: stream.body, as: UTF8.self) == "retry: 2000\n\n")
        #expect(receiver.events.subscriberCount == 0)
    }

    /// A real `ucpsim listen` with an event-stream client that never reads: 400 verified webhooks of 256 KiB each
    /// (over 100 MB of events for that client) leave its resident memory under 150 MiB (about 85 MB here) — the
    /// client's queue, the replay and the log are bounded in bytes — and it still answers, and stops on SIGTERM.
    @Test func aStreamClientThatNeverReadsDoesNotGrowListenWithoutBound() async throws {
        let listen = try await ListenProcess.start(arguments: [
            "--api-token", Self.token, "--secret", HMACReceiverTests.secret,
        ])
        defer { listen.stop() }
        let port = try #require(listen.baseURL.split(separator: ":").last.flatMap { Int($0) })
        let stuck = try Self.stuckStream(port: port)
        defer { close(stuck) }
        var unsigned = HMACReceiverTests.Unsigned(.standardWebhooks, id: "msg_rss_1")
        unsigned.body = Array(
            (#"{"type":"order.created","timestamp":"2026-11-30T00:00:00Z","data":{"note":""#
                + String(repeating: "a", count: 256 * 1024) + #""}}"#).utf8
        )
        let headers = try #require(try await HMACReceiverTests.sign([unsigned]).first)
        let body = unsigned.body
        let client = HTTPClient(workers: 4)
        let statuses = ReceiverHardeningTests.Recorder<Int>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for _ in stride(from: worker, to: 400, by: 4) {
                        let response = try await client.send(
                            OutgoingRequest(
                                method: "POST",
                                url: "\(listen.baseURL)/webhooks",
                                headers: headers,
                                body: body
                            )
                        )
                        statuses.append(response.status)
                    }
                }
            }
            try await group.waitForAll()
        }
        let rss = try #require(listen.residentKiB())
        let list = try await Self.get(client, "\(listen.baseURL)/v1/received?limit=1&verdict=rejected")
        await client.shutdown()
        #expect(statuses.all.count == 400 && statuses.all.allSatisfy { $0 == 200 })
        #expect(rss < 150 * 1024, "VmRSS \(rss) kB after 400 × 256 KiB webhooks with a stuck stream client")
        #expect(list.status == 200)
        // A clean stop does not wait for the stuck client: its write is cancelled after the server's grace period.
        #expect(await listen.terminate(), "listen did not stop (SIGTERM) with a stream client that never reads")
    }

    /// A connection that asks for the event stream and never reads a byte of it (a small receive buffer, so the
    /// server feels it at once).
    static func stuckStream(port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw UCPSimError(.unavailable, "socket: \(errno)") }
        var size: Int32 = 4096
        _ = setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        let request = Array(
            ("GET /v1/events/stream HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAuthorization: Bearer \(token)\r\n"
                + "Accept: text/event-stream\r\n\r\n").utf8
        )
        guard connected == 0, write(socket, request, request.count) == request.count else {
            close(socket)
            throw UCPSimError(.unavailable, "cannot open the stream: \(errno)")
        }
        return socket
    }

    struct SSEEvent {
        var id: String?
        var type = "message"
        var data = ""
    }

    /// The events of an SSE text (comments and `retry` skipped).
    static func events(_ text: String) -> [SSEEvent] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var event = SSEEvent()
            var data: [String] = []
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { event.id = String(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { event.type = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
            }
            event.data = data.joined(separator: "\n")
            return data.isEmpty ? nil : event
        }
    }

    /// The page: one document whose inline script and style are exactly what its CSP allows, with the headers that
    /// keep it from being framed, sniffed or cached; the script parses (node --check).
    @Test func thePageIsAllowedByItsCSPHashesAndItsScriptParses() async throws {
        let (_, server, client) = try await Self.start()
        let response = try await Self.get(client, "\(server.baseURL)/", token: nil)
        await server.stop()
        await client.shutdown()

        let html = String(decoding: response.body, as: UTF8.self)
        func inline(_ tag: String) throws -> String {
            let start = try #require(html.range(of: "<\(tag)>"))
            let end = try #require(html.range(of: "</\(tag)>", range: start.upperBound..<html.endIndex))
            return String(html[start.upperBound..<end.lowerBound])
        }
        let script = try inline("script")
        let style = try inline("style")
        let csp = try #require(response.headers["content-security-policy"])
        func hash(_ text: String) -> String {
            "'sha256-" + Data(DigestAlgorithm.sha256.hash(Array(text.utf8))).base64EncodedString() + "'"
        }
        #expect(csp.contains("script-src \(hash(script));"), "\(csp)")
        #expect(csp.contains("style-src \(hash(style));"), "\(csp)")
        #expect(csp.hasPrefix("default-src 'none';") && csp.contains("connect-src 'self';"))
        #expect(csp.contains("frame-ancestors 'none'") && csp.contains("base-uri 'none'"))
        #expect(response.headers["x-frame-options"] == "DENY")
        #expect(response.headers["x-content-type-options"] == "nosniff")
        #expect(response.headers["referrer-policy"] == "no-referrer")
        #expect(response.headers["cache-control"] == "no-store")
        #expect(html.components(separatedBy: "<script").count == 2, "one script element")
        #expect(!script.contains("innerHTML") && !script.contains("insertAdjacentHTML"))
        #expect(html.contains(#"id="app""#) && html.contains(#"id="token-form""#))

        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/node") else { return }
        let path = try TestSupport.temporaryJSON([:], name: "page.js")
        try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        let check = try await TestSupport.run("/usr/bin/node", ["--check", path])
        #expect(check.status == 0, "\(check.stderr)")
    }

    @Test(arguments: ["", "two words", "tab\there", "naïve"])
    func aBadAPITokenIsAUsageError(_ token: String) async throws {
        let result = try await CLITests.ucpsim(["listen", "--api-token", token])
        #expect(result.status == 64)
        #expect(
            result.stderr.contains("--api-token must be non-empty printable ASCII without spaces"),
            "\(result.stderr)"
        )
    }

    /// Without `--api-token`, `listen` makes one and prints it once, on stderr, in the page's URL; stdout names the
    /// page without it. That token opens the API.
    @Test func aGeneratedTokenIsPrintedOnStderrOnlyWithThePagesURL() async throws {
        let listen = try OutputProcess.start(CLITests.binary, ["listen", "--port", "0"])
        defer { listen.kill() }
        let line = try await listen.waitForLine(in: .stderr, containing: "#token=")
        let stdout = try await listen.waitForLine(in: .stdout, containing: "inspector: ")
        let base = try #require(stdout.split(separator: " ").dropFirst().first.map { String($0.dropLast()) })
        let token = try #require(line.components(separatedBy: "#token=").last)
        #expect(line.contains("\(base)/#token=\(token)"))
        #expect(token.hasPrefix("ucpsim_") && token.count > 40)
        #expect(!listen.stdout.contains(token))
        let client = HTTPClient(workers: 1)
        let allowed = try await Self.get(client, "\(base)/v1/received", token: token)
        let refused = try await Self.get(client, "\(base)/v1/received", token: nil)
        await client.shutdown()
        #expect(allowed.status == 200 && refused.status == 401)
        #expect(try Self.object(allowed)["received"] as? [Any] != nil)
    }

    /// Headless Chromium on a real `ucpsim listen` fed by a real `ucpsim serve`: the verified webhook and a forged
    /// one (rejected: digest_mismatch) appear live without a reload, the verified one's panel shows its key, headers
    /// and body, and an item title with `<script>` stays text (`Tests/tools/receiver_browser.py`). With
    /// `UCPSIM_SCREENSHOTS=DIR` the screenshot is kept there as `listen-inspector.png` (the README's).
    @Test func aRealBrowserWatchesVerifiedAndRejectedWebhooksArrive() async throws {
        let directory = TestSupport.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let screenshot =
            (ProcessInfo.processInfo.environment["UCPSIM_SCREENSHOTS"] ?? directory) + "/listen-inspector.png"
        let listen = try OutputProcess.start(CLITests.binary, ["listen", "--port", "0", "--api-token", Self.token])
        defer { listen.kill() }
        let first = try await listen.waitForLine(in: .stdout, containing: "receiver listening on ")
        let base = try #require(first.split(separator: " ").dropFirst(3).first.map(String.init))
        let run = try await CheckoutJourneyTests.withShop(["--webhook-url", "\(base)/webhooks"]) { shop in
            try await TestSupport.run(
                TestSupport.python,
                [
                    TestSupport.path("Tests/tools/receiver_browser.py"), "--listen", base, "--token", Self.token,
                    "--shop", shop, "--screenshot", screenshot,
                ]
            )
        }
        let line = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let result = try #require(
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            "receiver_browser.py printed no JSON line: \(run.stdout) \(run.stderr)"
        )
        #expect(run.status == 0, "\(result["failures"] ?? run.stderr)")
        #expect(result["ok"] as? Bool == true)
        #expect(result["verified"] as? String == "r_1" && result["rejected"] as? String == "r_2")
        #expect((result["kid"] as? String)?.hasPrefix("shop-") == true)
        let size = try FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int
        #expect((size ?? 0) > 10_000)
    }
}
