import Foundation
import Testing

@testable import UCPSimKit

/// `ucpsim deliveries list|show` as an inspector in the terminal: the journal keeps each attempt's request headers as
/// sent, `show` prints them with the signature base and body after a restart, `list` takes the API's filters, and a
/// directory held by a running `serve` names the API route that works meanwhile.
@Suite struct DeliveriesInspectTests {
    static func ucpsim(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await TestSupport.run(CLITests.binary, arguments)
    }

    /// The value of the line `prefix…` in `text` (the first one), without the prefix.
    static func value(after prefix: String, in text: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// A signed `ucp` webhook sent by a real run; after it ends, `deliveries show` (reading the journal it left)
    /// prints the request as sent: the same header fields the receiver got, a signature base whose
    /// `@signature-params` is the sent `Signature-Input` and that the shop's public key verifies the `Signature`
    /// over, and the body's bytes. The journaled request passes an independent RFC 9421 verifier.
    @Test func showPrintsTheRequestAsSentFromTheJournalOfARun() async throws {
        let state = TestSupport.temporaryDirectory()
        let (receiver, server, client) = try await TestSupport.startReceiver()
        let sent = try await Self.ucpsim([
            "send", CLITests.fixture, "--webhook-url", "\(server.baseURL)/hook", "--state", state,
        ])
        await server.stop()
        await client.shutdown()
        #expect(sent.status == 0, "\(sent.stdout)\(sent.stderr)")
        let received = try #require(receiver.received.first)

        let journal = try String(contentsOfFile: "\(state)/outbox.jsonl", encoding: .utf8)
        #expect(journal.contains(#","hdr":[["Content-Type","application/json"],["UCP-Agent","#), "\(journal)")

        // Restored by a reader of the journal: the fields in order, names as written, as the receiver got them.
        let restored = try #require(try Outbox.inspect(directory: state).states.first)
        let (_, headers) = try #require(restored.lastSentRequest)
        #expect(headers.fields.map(\.name).prefix(3) == ["Content-Type", "UCP-Agent", "Webhook-Id"])
        for field in headers.fields {
            #expect(received.headers[field.name] == field.value, "\(field.name)")
        }

        let shown = try await Self.ucpsim(["deliveries", "show", restored.id.rawValue, "--state", state])
        #expect(shown.status == 0, "\(shown.stderr)")
        let text = shown.stdout
        #expect(text.contains("request (attempt #1):"), "\(text)")
        #expect(text.contains("  POST \(server.baseURL)/hook\n"))
        #expect(text.contains("  Webhook-Id: \(restored.event.webhookID)\n"))
        #expect(text.contains("  Content-Digest: \(try #require(received.headers["content-digest"]))\n"))
        #expect(text.contains("      response:\n"), "the receiver's answer, under its attempt")
        let signatureInput = try #require(Self.value(after: "  Signature-Input: ", in: text))
        let signature = try #require(Self.value(after: "  Signature: ", in: text))
        #expect(signatureInput == received.headers["signature-input"])

        // The base as printed: its lines between `signature base:` and `body (`.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex(of: "signature base:"))
        let end = try #require(lines.firstIndex { $0.hasPrefix("body (") })
        let base = lines[(start + 1)..<end].map { String($0.dropFirst(2)) }
        #expect(base.last == #""@signature-params": "# + signatureInput.dropFirst("sig1=".count))
        let key = try ShopIdentity.keyRing(directory: state).ring.active.publicKey()
        let raw = try #require(Data(base64Encoded: String(signature.dropFirst("sig1=:".count).dropLast())))
        #expect(key.verify(signature: [UInt8](raw), message: Array(base.joined(separator: "\n").utf8)))

        // The body as sent, byte for byte (the fixture's text, its own line breaks kept).
        let body = try String(contentsOfFile: TestSupport.path(CLITests.fixture), encoding: .utf8)
        #expect(lines[(end + 1)...].map { String($0.dropFirst(2)) }.joined(separator: "\n").hasPrefix(body))

        // An independent RFC 9421 verifier accepts the request rebuilt from the journal alone.
        let request: [String: Any] = [
            "method": "POST", "url": restored.target,
            "headers": headers.fields.map { [$0.name, $0.value] },
            "body_base64": Data(try #require(try Outbox.inspect(directory: state).body(of: restored.id)))
                .base64EncodedString(),
        ]
        let jwks = try JSONSerialization.jsonObject(
            with: JSONEncoder().encode(["keys": try ShopIdentity.keyRing(directory: state).ring.publicJWKs()])
        )
        let verified = try await TestSupport.run(
            TestSupport.python,
            [
                InteropTests.verifier, try TestSupport.temporaryJSON(request, name: "request.json"),
                try TestSupport.temporaryJSON(jwks, name: "jwks.json"), "--max-age", "none",
            ]
        )
        #expect(
            verified.status == 0 && verified.stdout.hasPrefix("verified kid="),
            "\(verified.stdout)\(verified.stderr)"
        )
    }

    /// Three events in three dialects, types, orders and subscriptions; one delivered, one dead, one pending.
    static func mixedJournal(in directory: String, headers: Bool = true) throws -> [DeliveryState] {
        let at = Date(timeIntervalSince1970: 1_775_913_000)
        let states = [
            DeliveryState(
                id: DeliveryID("dlv_a"),
                event: TestSupport.event("ord_a", body: #"{"id":"ord_a"}"#),
                eventType: .orderCreated,
                subscription: SubscriptionID("sub_one"),
                dialect: .ucpHMAC,
                target: "http://127.0.0.1:9/a",
                firstAttempt: at
            ),
            DeliveryState(
                id: DeliveryID("dlv_b"),
                event: TestSupport.event("ord_b", body: #"{"id":"ord_b"}"#),
                eventType: .orderUpdated,
                subscription: SubscriptionID("sub_two"),
                dialect: .standardWebhooks,
                target: "http://127.0.0.1:9/b",
                firstAttempt: at
            ),
            DeliveryState(
                id: DeliveryID("dlv_c"),
                event: TestSupport.event("ord_a", body: #"{"id":"ord_a","n":2}"#),
                eventType: .orderUpdated,
                subscription: SubscriptionID("sub_one"),
                dialect: .ucpHMAC,
                target: "http://127.0.0.1:9/a",
                firstAttempt: at
            ),
        ]
        let (outbox, _) = try Outbox.open(directory: directory)
        defer { outbox.close() }
        try outbox.appendEvents(states)
        func attempt(_ status: Int?, _ detail: String, stamp: String) -> AttemptRecord {
            var record = AttemptRecord(number: 1, at: at, status: status, milliseconds: 2, detail: detail)
            if headers {
                record.sentHeaders = HTTPFieldList([
                    ("Content-Type", "application/json"), ("UCP-Signature", "t=\(stamp),v1=abc"),
                ])
            }
            return record
        }
        try outbox.append([
            (DeliveryID("dlv_a"), attempt(200, #"{"ok":true}"#, stamp: "1"), .delivered),
            (DeliveryID("dlv_b"), attempt(400, "bad", stamp: "2"), .dead(reason: "HTTP 400")),
            (DeliveryID("dlv_c"), attempt(nil, "connection refused", stamp: "3"), .pending(next: at)),
        ])
        return states
    }

    /// The deliveries `list` printed (their ids, in order).
    static func listed(_ output: String) -> [String] {
        output.split(separator: "\n").filter { $0.hasPrefix("dlv_") }.map { String($0.prefix(5)) }
    }

    @Test(arguments: [
        (["--status", "delivered"], ["dlv_a"]),
        (["--status", "dead"], ["dlv_b"]),
        (["--only", "pending"], ["dlv_c"]),
        (["--subscription", "sub_one"], ["dlv_a", "dlv_c"]),
        (["--order", "ord_a"], ["dlv_a", "dlv_c"]),
        (["--event-type", "order.updated"], ["dlv_b", "dlv_c"]),
        (["--subscription", "sub_one", "--event-type", "order.updated"], ["dlv_c"]),
        (["--order", "ord_a", "--status", "delivered", "--subscription", "sub_one"], ["dlv_a"]),
        (["--order", "ord_b", "--subscription", "sub_one"], []),
        ([], ["dlv_a", "dlv_b", "dlv_c"]),
    ])
    func listTakesTheAPIsFilters(_ arguments: [String], _ expected: [String]) async throws {
        let state = TestSupport.temporaryDirectory()
        _ = try Self.mixedJournal(in: state)
        let result = try await Self.ucpsim(["deliveries", "list", "--state", state] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.listed(result.stdout) == expected, "\(result.stdout)")
        let json = try await Self.ucpsim(["deliveries", "list", "--state", state, "--json"] + arguments)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(rows.compactMap { $0["delivery_id"] as? String } == expected)
    }

    @Test(arguments: [
        (["--status", "gone"], "--status: must be one of pending, delivered, dead"),
        (["--only", "gone"], "--only: must be one of pending, delivered, dead"),
        (["--event-type", "order.shipped"], "--event-type: must be one of"),
        (["--subscription", ""], "--subscription: must not be empty"),
        (["--order", ""], "--order: must not be empty"),
        (["--status", "dead", "--only", "pending"], "--only is the old name of --status"),
    ])
    func badFilterValuesAreUsageErrorsNamingTheOption(_ arguments: [String], _ message: String) async throws {
        let state = TestSupport.temporaryDirectory()
        _ = try Self.mixedJournal(in: state)
        let result = try await Self.ucpsim(["deliveries", "list", "--state", state] + arguments)
        #expect(result.status == 64)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    /// A journal written before requests were recorded (no `hdr`) still reads and shows: the attempts, and a note
    /// instead of the request.
    @Test func aJournalWithoutHeadersStillShows() async throws {
        let state = TestSupport.temporaryDirectory()
        _ = try Self.mixedJournal(in: state, headers: false)
        let journal = try String(contentsOfFile: "\(state)/outbox.jsonl", encoding: .utf8)
        #expect(!journal.contains("\"hdr\""))
        let shown = try await Self.ucpsim(["deliveries", "show", "dlv_b", "--state", state])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("HTTP 400"), "\(shown.stdout)")
        #expect(shown.stdout.contains("      response:\n        bad\n"), "\(shown.stdout)")
        #expect(shown.stdout.contains("dead-lettered: HTTP 400"))
        #expect(shown.stdout.contains("request: not recorded"), "\(shown.stdout)")
        let pending = try await Self.ucpsim(["deliveries", "show", "dlv_c", "--state", state])
        #expect(pending.stdout.contains("no response"), "\(pending.stdout)")
        #expect(pending.stdout.contains("      error: connection refused"), "\(pending.stdout)")
    }

    /// `ucp-hmac`: the signature base is `<t>.<body>`, from the header as journaled.
    @Test func showPrintsAnHMACDialectsSignatureBase() async throws {
        let state = TestSupport.temporaryDirectory()
        _ = try Self.mixedJournal(in: state)
        let shown = try await Self.ucpsim(["deliveries", "show", "dlv_a", "--state", state])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("  UCP-Signature: t=1,v1=abc\n"), "\(shown.stdout)")
        #expect(shown.stdout.contains("signature base:\n  1.{\"id\":\"ord_a\"}\n"), "\(shown.stdout)")
        #expect(shown.stdout.contains("body (14 bytes, as sent):\n  {\"id\":\"ord_a\"}\n"), "\(shown.stdout)")
    }

    /// Repair copies whole lines byte for byte: the headers survive it (and are read back).
    @Test func repairKeepsTheHeaders() async throws {
        let state = TestSupport.temporaryDirectory()
        _ = try Self.mixedJournal(in: state)
        let path = "\(state)/outbox.jsonl"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("not an entry\n".utf8))
        try handle.close()
        let repaired = try await Self.ucpsim(["deliveries", "repair", "--state", state])
        #expect(repaired.status == 0, "\(repaired.stderr)")
        #expect(repaired.stdout.contains("set aside 1 damaged line"), "\(repaired.stdout)")
        let states = try Outbox.inspect(directory: state).states
        #expect(
            states.compactMap { $0.lastSentRequest?.headers["ucp-signature"] } == [
                "t=1,v1=abc", "t=2,v1=abc", "t=3,v1=abc",
            ]
        )
        let shown = try await Self.ucpsim(["deliveries", "show", "dlv_b", "--state", state])
        #expect(shown.stdout.contains("  UCP-Signature: t=2,v1=abc\n"), "\(shown.stdout)")
    }

    /// Bodies, response excerpts and header values are untrusted: `show` keeps their line breaks and writes every
    /// other control character as `\u{…}`, so nothing reaches the terminal as an escape sequence.
    @Test func showEscapesControlCharactersFromOutside() async throws {
        let state = TestSupport.temporaryDirectory()
        let at = Date(timeIntervalSince1970: 1_775_913_000)
        let hostile = DeliveryState(
            id: DeliveryID("dlv_x"),
            event: TestSupport.event("ord_x", body: "{\"title\":\"\u{1B}[2J\u{07}\",\r\n\"b\":1}\n"),
            dialect: .ucpHMAC,
            target: "http://127.0.0.1:9/x",
            firstAttempt: at
        )
        let (outbox, _) = try Outbox.open(directory: state)
        try outbox.appendEvents([hostile])
        var attempt = AttemptRecord(
            number: 1,
            at: at,
            status: 500,
            milliseconds: 1,
            detail: "oops\u{1B}]0;pwned\u{07}\nline 2"
        )
        attempt.sentHeaders = HTTPFieldList([
            ("UCP-Signature", "t=5,v1=x"), ("X-Odd", "a\u{1B}[31mred"), ("X-Bidi", "abc\u{202E}fed"),
        ])
        try outbox.append([(hostile.id, attempt, .dead(reason: "HTTP 500 \u{1B}[0m"))])
        outbox.close()
        let shown = try await Self.ucpsim(["deliveries", "show", "dlv_x", "--state", state])
        #expect(shown.status == 0, "\(shown.stderr)")
        let bytes = Array(shown.stdout.utf8)
        #expect(!bytes.contains(0x1B) && !bytes.contains(0x07) && !bytes.contains(0x0D), "\(shown.stdout)")
        #expect(shown.stdout.contains("        oops\\u{1b}]0;pwned\\u{7}\n        line 2\n"), "\(shown.stdout)")
        #expect(shown.stdout.contains("  X-Odd: a\\u{1b}[31mred\n"))
        #expect(shown.stdout.contains("  X-Bidi: abc\\u{202e}fed\n"), "\(shown.stdout)")
        #expect(!shown.stdout.unicodeScalars.contains("\u{202E}"))
        #expect(shown.stdout.contains("  {\"title\":\"\\u{1b}[2J\\u{7}\",\n  \"b\":1}\n"), "\(shown.stdout)")
        #expect(shown.stdout.contains("dead-lettered: HTTP 500 \\u{1b}[0m"))
    }

    /// While `ucpsim serve` holds the state directory, `resend` and `redeliver` are refused as every writer is (exit
    /// 73), and the refusal names the route on the running serve that does it.
    @Test func aDirectoryHeldByServeNamesItsAPIRoute() async throws {
        let state = TestSupport.temporaryDirectory()
        _ = try Self.mixedJournal(in: state)
        let serve = try ServeProcess.start(["--state", state, "--api-token", "tok-\(UUID().uuidString)"])
        let base = try await serve.baseURL()
        let resent = try await Self.ucpsim([
            "deliveries", "resend", "dlv_a", "--state", state, "--webhook-url", "http://127.0.0.1:9/other",
        ])
        let redelivered = try await Self.ucpsim(["deliveries", "redeliver", "dlv_b", "--state", state])
        let everyDead = try await Self.ucpsim(["deliveries", "redeliver", "--all", "--state", state])
        _ = await serve.interrupt(SIGTERM)

        #expect(resent.status == 73, "\(resent.stderr)")
        #expect(resent.stderr.contains("is held by a running `ucpsim serve`"), "\(resent.stderr)")
        #expect(
            resent.stderr.contains(
                "POST \(base)/v1/deliveries/dlv_a/resend with {\"webhook_url\": \"http://127.0.0.1:9/other\"}"
            ),
            "\(resent.stderr)"
        )
        #expect(resent.stderr.split(separator: "\n").filter { $0.hasPrefix("ucpsim: error:") }.count == 1)
        #expect(redelivered.status == 73)
        #expect(redelivered.stderr.contains("POST \(base)/v1/deliveries/dlv_b/redeliver "), "\(redelivered.stderr)")
        #expect(everyDead.status == 73)
        #expect(everyDead.stderr.contains("POST \(base)/v1/deliveries/{id}/redeliver "), "\(everyDead.stderr)")
    }
}

/// The journal's side of the recorded requests: written as JSON any parser reads back, kept by compaction.
@Suite struct JournalHeadersTests {
    /// `quote` writes what JSON reads back, for the text a request header or a response can hold.
    @Test(arguments: [
        "plain", #"sig1=("@method" "@authority");created=1;keyid="k""#, "back\\slash", "line\nbreak\r\ttab",
        "\u{1B}[31m\u{07}\u{7F}", "ünïcödé ✓ 🙂", "",
    ])
    func quotedTextReadsBackAsJSON(_ text: String) throws {
        let line = "[\(Outbox.quote(text))]"
        let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String]
        #expect(parsed == [text])
    }

    /// Compaction copies the kept events' lines byte for byte: their recorded requests survive it.
    @Test func compactionKeepsTheHeaders() throws {
        let directory = TestSupport.temporaryDirectory()
        let at = Date(timeIntervalSince1970: 1_775_913_000)
        let states = (0..<12).map {
            DeliveryState(event: TestSupport.event("ord_\($0)"), target: "http://127.0.0.1:9/h", firstAttempt: at)
        }
        do {
            let (outbox, _) = try Outbox.open(directory: directory)
            defer { outbox.close() }
            try outbox.appendEvents(states)
            try outbox.append(
                states.enumerated().map { index, state in
                    var attempt = AttemptRecord(number: 1, at: at, status: 200, milliseconds: 1, detail: "ok")
                    attempt.sentHeaders = HTTPFieldList([("Webhook-Id", state.event.webhookID), ("X-N", "\(index)")])
                    return (state.id, attempt, .delivered)
                }
            )
        }
        let (outbox, restored) = try Outbox.open(directory: directory, keepDelivered: 4)
        outbox.close()
        #expect(outbox.notes.first?.hasPrefix("compacted the outbox") == true, "\(outbox.notes)")
        #expect(restored.map(\.id) == states.suffix(4).map(\.id))
        #expect(restored.compactMap { $0.lastSentRequest?.headers["x-n"] } == ["8", "9", "10", "11"])
        #expect(
            restored.compactMap { $0.lastSentRequest?.headers["webhook-id"] } == states.suffix(4).map(\.event.webhookID)
        )
    }

    /// A `hdr` that is not pairs of strings gives no headers (the attempt still counts); one that does not close
    /// makes the line damaged, as any line that is not JSON.
    @Test func oddHeadersGiveNoneAndAnUnclosedArrayIsDamage() throws {
        let directory = TestSupport.temporaryDirectory()
        let state = DeliveryState(event: TestSupport.event(), target: "http://127.0.0.1:9/h", firstAttempt: Date())
        let (outbox, _) = try Outbox.open(directory: directory)
        try outbox.appendEvents([state])
        outbox.close()
        let id = state.id.rawValue
        let lines = [
            #"{"k":"attempt","id":"\#(id)","n":1,"at":1.0,"status":503,"ms":1.0,"detail":"x","hdr":[["A"],7],"#
                + #""phase":"pending","next":2.0}"#,
            #"{"k":"attempt","id":"\#(id)","n":2,"at":2.0,"status":503,"ms":1.0,"detail":"]\"[","hdr":[["A","]"]"#
                + #","phase":"pending","next":3.0}"#,
            #"{"k":"attempt","id":"\#(id)","n":3,"at":3.0,"status":200,"ms":1.0,"detail":"ok","hdr":[["B","[\"]"]],"#
                + #""phase":"delivered"}"#,
        ]
        let handle = try #require(FileHandle(forWritingAtPath: "\(directory)/outbox.jsonl"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((lines.joined(separator: "\n") + "\n").utf8))
        try handle.close()
        let snapshot = try Outbox.inspect(directory: directory)
        #expect(snapshot.damagedLines == [3])
        let restored = try #require(snapshot.states.first)
        #expect(restored.attempts.map(\.number) == [1, 3])
        #expect(restored.attempts.map { $0.sentHeaders?.fields.map(\.value) } == [nil, [#"["]"#]])
        #expect(restored.phase == .delivered)
    }

    /// Only each delivery's newest recorded request stays in memory once read back.
    @Test func aRestoredDeliveryKeepsOnlyItsNewestRequest() throws {
        let directory = TestSupport.temporaryDirectory()
        let at = Date(timeIntervalSince1970: 1_775_913_000)
        let state = DeliveryState(event: TestSupport.event(), target: "http://127.0.0.1:9/h", firstAttempt: at)
        let (outbox, _) = try Outbox.open(directory: directory)
        try outbox.appendEvents([state])
        func attempt(_ number: Int, _ stamp: String?) -> AttemptRecord {
            var record = AttemptRecord(number: number, at: at, status: nil, milliseconds: 1, detail: "refused")
            record.sentHeaders = stamp.map { HTTPFieldList([("T", $0)]) }
            return record
        }
        try outbox.append([
            (state.id, attempt(1, "1"), .pending(next: at)), (state.id, attempt(2, "2"), .pending(next: at)),
            (state.id, attempt(3, nil), .dead(reason: "signing failed")),
        ])
        outbox.close()
        let restored = try #require(try Outbox.inspect(directory: directory).states.first)
        #expect(restored.attempts.map { $0.sentHeaders?["t"] } == [nil, "2", nil])
        #expect(restored.lastSentRequest?.attempt.number == 2)
    }
}
