import Foundation
import Synchronization
import Testing
@testable import UCPSimKit

/// The delivery engine over real HTTP against scripted receivers.
@Suite struct DeliveryEngineTests {
    @Test func serverErrorsAreRetriedWithTheSameIdTimestampAndBytes() async throws {
        let receiver = try await ScriptedReceiver.start { index, _ in .init(status: index < 2 ? 503 : 200) }
        let shop = try await TestSupport.shop(delays: [1, 5], scale: 100)
        let event = TestSupport.event()
        try await shop.engine.submit([event], to: try RequestTarget(receiver.url))
        let outcome = await shop.engine.outcome(of: event.webhookID)
        let metrics = try await shop.client.send(OutgoingRequest(method: "GET", url: "\(shop.server.baseURL)/metrics"))
        let summary = shop.engine.metrics.summary()
        await shop.stop()
        await receiver.stop()

        #expect(outcome.accepted)
        #expect(outcome.attempts.map(\.status) == [503, 503, 200])
        let arrivals = receiver.received
        #expect(arrivals.count == 3)
        #expect(Set(arrivals.map(\.webhookID)) == [event.webhookID])
        #expect(Set(arrivals.map(\.timestamp)) == ["1775913000"])
        #expect(arrivals.allSatisfy { $0.body == event.body })
        #expect(arrivals.allSatisfy { $0.signatureInput.contains("created=") })
        // Scaled schedule: 1 s and 5 s at 100x are 10 ms and 50 ms.
        #expect(arrivals[2].at.timeIntervalSince(arrivals[0].at) >= 0.055)
        #expect(summary.retried == 2 && summary.delivered == 1 && summary.failedAttempts == 2)
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(metrics.status == 200)
        #expect(text.contains("ucpsim_webhooks_delivered_total 1"))
        #expect(text.contains("ucpsim_webhook_retries_total 2"))
        #expect(text.contains("ucpsim_webhook_attempt_duration_seconds_count 3"))
    }

    @Test func retryAfterIsHonoured() async throws {
        let receiver = try await ScriptedReceiver.start { index, _ in
            index == 0 ? .init(status: 429, headers: [("Retry-After", "10")]) : .init(status: 200)
        }
        let shop = try await TestSupport.shop(delays: [1], scale: 20)
        let outcome = try await TestSupport.deliverOne(TestSupport.event(), shop: shop, receiver: receiver)
        #expect(outcome.accepted)
        // On the delivery clock: Retry-After 10 s, not the scheduled 1 s.
        let gap = outcome.attempts[1].at.timeIntervalSince(outcome.attempts[0].at)
        #expect(gap >= 10, "\(gap)")
    }

    @Test(arguments: [false, true])
    func clientErrorsAreNotRetriedUnlessConfigured(_ retry4xx: Bool) async throws {
        let receiver = try await ScriptedReceiver.start { index, _ in .init(status: index == 0 ? 422 : 200) }
        let shop = try await TestSupport.shop(delays: [1], scale: 100, retry4xx: retry4xx)
        let outcome = try await TestSupport.deliverOne(TestSupport.event(), shop: shop, receiver: receiver)
        #expect(outcome.accepted == retry4xx)
        #expect(receiver.received.count == (retry4xx ? 2 : 1))
        if !retry4xx { #expect(outcome.phase == .dead(reason: "HTTP 422 (not retried)")) }
    }

    @Test func goneStopsTheEndpointAndDeadLettersWhatIsQueuedForIt() async throws {
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 410) }
        let shop = try await TestSupport.shop(delays: [1], scale: 100, concurrency: 1)
        let first = TestSupport.event("ord_1")
        let second = TestSupport.event("ord_2")
        try await shop.engine.submit([first, second], to: try RequestTarget(receiver.url))
        let outcomes = [
            await shop.engine.outcome(of: first.webhookID), await shop.engine.outcome(of: second.webhookID),
        ]
        // A later event for the stopped endpoint is dead-lettered at once.
        let third = TestSupport.event("ord_3")
        try await shop.engine.submit([third], to: try RequestTarget(receiver.url))
        let late = await shop.engine.outcome(of: third.webhookID)
        await shop.stop()
        await receiver.stop()
        #expect(receiver.received.count == 1)
        #expect(outcomes[0].phase == .dead(reason: "HTTP 410 Gone: endpoint stopped"))
        #expect(
            outcomes[1].phase == .dead(reason: "endpoint stopped after HTTP 410 Gone") && outcomes[1].attempts.isEmpty
        )
        #expect(late.phase == .dead(reason: "endpoint stopped after HTTP 410 Gone"))
    }

    @Test func goneFreesAnOrdersLineAndRedeliveryKeepsTheOrdersOrder() async throws {
        let receiver = try await ScriptedReceiver.start { index, _ in .init(status: index == 0 ? 410 : 200) }
        let directory = TestSupport.temporaryDirectory()
        let shop = try await TestSupport.shop(delays: [0.01], concurrency: 2, state: directory)
        let snapshots = (0..<3).map { _ in TestSupport.event("ord_a") }
        try await shop.engine.submit(snapshots, to: try RequestTarget(receiver.url))
        var phases: [DeliveryState.Phase] = []
        for snapshot in snapshots { phases.append(await shop.engine.outcome(of: snapshot.webhookID).phase) }
        // Only the first snapshot went out; its 410 dead-lettered the two waiting behind it.
        #expect(receiver.received.count == 1)
        #expect(phases.map(\.name) == ["dead", "dead", "dead"])

        // Resend the three dead letters: same ids and bytes, one at a time, in the order's order.
        try await Task.sleep(nanoseconds: 50_000_000)
        // Read without the lock, as `deliveries list` does: the shop holds the directory.
        let states = try Outbox.inspect(directory: directory).states
        #expect(try await shop.engine.redeliver(states) == 3)
        for snapshot in snapshots { #expect(await shop.engine.outcome(of: snapshot.webhookID).accepted) }
        await shop.stop()
        await receiver.stop()
        let resent = Array(receiver.received.dropFirst())
        #expect(resent.map(\.webhookID) == snapshots.map(\.webhookID))
        #expect(resent.map(\.body) == snapshots.map(\.body))
    }

    @Test func timeoutsAreRetried() async throws {
        // Only the first answer is late (past the 3 s timeout); later attempts get room to spare on a loaded
        // machine (a CI run with every suite in parallel saw five 1 s timeouts in a row).
        let receiver = try await ScriptedReceiver.start { index, _ in .init(status: 200, delay: index == 0 ? 10 : 0) }
        let shop = try await TestSupport.shop(delays: [0.1, 0.1, 0.1, 0.1, 0.1, 0.1], timeoutMilliseconds: 3_000)
        let outcome = try await TestSupport.deliverOne(TestSupport.event(), shop: shop, receiver: receiver)
        #expect(outcome.accepted)
        #expect(outcome.attempts.count >= 2)
        #expect(outcome.attempts[0].status == nil && outcome.attempts[0].detail.contains("timed out"))
    }

    @Test func connectionRefusedThenTheReceiverAppears() async throws {
        // Find a free port, then leave it closed.
        let probe = try await ScriptedReceiver.start { _, _ in .init() }
        let port = probe.server.port
        await probe.stop()
        let shop = try await TestSupport.shop(delays: [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2])
        let event = TestSupport.event()
        try await shop.engine.submit([event], to: try RequestTarget("http://127.0.0.1:\(port)/hooks"))
        try await Task.sleep(nanoseconds: 500_000_000)
        let receiver = try await ScriptedReceiver.start(port: port) { _, _ in .init(status: 200) }
        let outcome = await shop.engine.outcome(of: event.webhookID)
        await shop.stop()
        await receiver.stop()
        #expect(outcome.accepted)
        #expect(outcome.attempts.count >= 2)
        #expect(outcome.attempts.first?.status == nil)
        #expect(receiver.received.count == 1 && receiver.received[0].body == event.body)
    }

    @Test func anOrdersSnapshotsArriveInOrderUnderConcurrency() async throws {
        // Every third request fails once, so retries interleave with other orders' deliveries.
        let receiver = try await ScriptedReceiver.start { index, _ in .init(status: index % 3 == 0 ? 503 : 200) }
        let shop = try await TestSupport.shop(delays: [0.01, 0.01, 0.01], concurrency: 8)
        var events: [WebhookEvent] = []
        for snapshot in 0..<4 {
            for order in 0..<15 {
                events.append(TestSupport.event("ord_\(order)", body: #"{"id":"ord_\#(order)","seq":\#(snapshot)}"#))
            }
        }
        try await shop.engine.submit(events, to: try RequestTarget(receiver.url))
        for event in events { _ = await shop.engine.outcome(of: event.webhookID) }
        await shop.stop()
        await receiver.stop()

        var byOrder: [String: [Int]] = [:]
        for arrival in receiver.received {
            let seq =
                (try JSONSerialization.jsonObject(with: Data(arrival.body)) as? [String: Any])?["seq"] as? Int ?? -1
            byOrder[arrival.orderID, default: []].append(seq)
        }
        #expect(byOrder.count == 15)
        for (order, sequence) in byOrder {
            #expect(sequence == sequence.sorted(), "\(order) received snapshots out of order: \(sequence)")
            #expect(Set(sequence) == [0, 1, 2, 3])
        }
    }

    @Test func aReceiverThatClosesTheSocketMidResponseIsRetried() async throws {
        let raw = try RawSocketReceiver(answers: [.close, .ok])
        let shop = try await TestSupport.shop(delays: [0.05])
        let event = TestSupport.event()
        try await shop.engine.submit([event], to: try RequestTarget("http://127.0.0.1:\(raw.port)/hooks"))
        let outcome = await shop.engine.outcome(of: event.webhookID)
        await shop.stop()
        raw.stop()
        #expect(outcome.accepted)
        #expect(outcome.attempts.count == 2)
        #expect(outcome.attempts[0].status == nil)
        #expect(raw.requests.count == 2)
    }

    @Test func journalNumbersKeepMillisecondsAndReadBackAsNumbers() throws {
        let cases: [(Double, String)] = [
            (1_775_913_000.1234, "1775913000.123"), (0.0005, "0.001"), (12.5, "12.500"), (-0.25, "-0.250"),
            (0, "0.000"),
        ]
        for (value, text) in cases {
            #expect(Outbox.decimal(value) == text)
            let parsed = try JSONSerialization.jsonObject(with: Data("[\(text)]".utf8)) as? [NSNumber]
            #expect(abs((parsed?.first?.doubleValue ?? .nan) - value) <= 0.0005)
        }
    }

    @Test func theOutboxSurvivesATornLineAndRestoresEveryEvent() async throws {
        let directory = TestSupport.temporaryDirectory()
        let receiver = try await ScriptedReceiver.start { index, _ in .init(status: index == 0 ? 503 : 200) }
        let shop = try await TestSupport.shop(delays: [3600], state: directory)
        let delivered = TestSupport.event("ord_a")
        try await shop.engine.submit([delivered], to: try RequestTarget(receiver.url))
        // Wait for the first (failed) attempt; the retry is an hour away.
        while receiver.received.isEmpty { try await Task.sleep(nanoseconds: 10_000_000) }
        try await Task.sleep(nanoseconds: 100_000_000)
        await shop.stop()
        await receiver.stop()
        // Simulate a crash in the middle of a write.
        let path = "\(directory)/outbox.jsonl"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"k":"attempt","id":"torn"#.utf8))
        try handle.close()

        let (outbox, states) = try Outbox.open(directory: directory)
        #expect(states.count == 1)
        #expect(states[0].event == delivered.with(body: []), "bodies stay on disk")
        #expect(outbox.body(of: delivered.webhookID) == delivered.body)
        #expect(states[0].attempts.map(\.status) == [503])
        guard case .pending = states[0].phase else {
            Issue.record("expected pending, got \(states[0].phase)")
            return
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasSuffix("\n") && !text.contains("torn"), "the torn tail is cut off")
    }
}

/// A bare TCP receiver for failures HTTP servers will not produce: closing the socket without an answer.
final class RawSocketReceiver: Sendable {
    enum Answer: Sendable { case close, ok }

    let port: Int
    private let socket: Int32
    private final class Log: Sendable {
        let items = Mutex<[String]>([])
    }

    private let log = Log()

    var requests: [String] { log.items.withLock { $0 } }

    init(answers: [Answer]) throws {
        let (fd, port) = try TestSupport.listenOnLoopback(backlog: 8)
        socket = fd
        self.port = port
        let log = self.log
        Thread {
            for answer in answers {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                var request = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 65536)
                // Read the head, then the body by Content-Length.
                while true {
                    let count = read(client, &buffer, buffer.count)
                    if count <= 0 { break }
                    request += buffer.prefix(count)
                    let text = String(decoding: request, as: UTF8.self)
                    if let end = text.range(of: "\r\n\r\n") {
                        let head = text[..<end.lowerBound].lowercased()
                        let length =
                            head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                            .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
                        if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length {
                            break
                        }
                    }
                }
                log.items.withLock { $0.append(String(decoding: request, as: UTF8.self)) }
                if answer == .ok {
                    let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".utf8)
                    _ = write(client, response, response.count)
                }
                close(client)
            }
        }.start()
    }

    func stop() { shutdown(socket, Int32(SHUT_RDWR)); close(socket) }
}
