import Foundation
import Synchronization
import Testing
@testable import UCPSimKit

/// The outbox under a full disk: writes that fail part-way (an injected writer, and a real 2 MB tmpfs filled during
/// a run), bodies checked against their recorded length and SHA-256, and journals from other versions.
@Suite struct DiskFaultTests {
    /// A writer that writes for real until its budget runs out, then writes part of the next write and fails with
    /// `ENOSPC` (a full disk); `fsyncFails` makes every fsync fail with `EIO`.
    final class FailingDisk: Sendable {
        private let state = Mutex<(budget: Int?, fsyncFails: Bool)>((nil, false))

        /// Bytes still accepted; nil: no limit.
        func allow(_ budget: Int?, fsyncFails: Bool = false) { state.withLock { $0 = (budget, fsyncFails) } }

        var io: Outbox.IO {
            Outbox.IO(
                write: { descriptor, bytes, offset in
                    let count = self.state.withLock { state -> Int in
                        guard let budget = state.budget else { return bytes.count }
                        let allowed = min(budget, bytes.count)
                        state.budget = budget - allowed
                        return allowed
                    }
                    if count == 0 && !bytes.isEmpty { return -Int(ENOSPC) }
                    let written = pwrite(descriptor, bytes.baseAddress, count, off_t(offset))
                    return written < 0 ? -Int(errno) : written
                },
                sync: { descriptor in
                    if self.state.withLock({ $0.fsyncFails }) { return -EIO }
                    return fsync(descriptor) == 0 ? 0 : -errno
                }
            )
        }
    }

    static func states(_ events: [WebhookEvent], target: String = "http://127.0.0.1:9/hooks") -> [DeliveryState] {
        events.map { DeliveryState(event: $0, target: target, firstAttempt: Date()) }
    }

    static func contents(_ directory: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: "\(directory)/outbox.jsonl"))
    }

    /// Item 1: a write that fails part-way leaves the journal exactly as it was (no partial line, no moved offsets)
    /// and throws; a batch that fails in its second megabyte leaves none of the batch; a failed fsync too. After
    /// space returns, every acknowledged event is there and reads back with its own bytes, before and after a reopen.
    @Test func aWriteThatFailsPartWayIsNeverHalfVisible() throws {
        let directory = TestSupport.temporaryDirectory()
        let disk = FailingDisk()
        let (outbox, _) = try Outbox.open(directory: directory, io: disk.io)
        let first = TestSupport.event("ord_a")
        try outbox.appendEvents(Self.states([first]))
        let whole = try Self.contents(directory)

        for budget in [0, 1, 40, 100, 180] {
            disk.allow(budget)
            #expect(throws: UCPSimError.self) { try outbox.appendEvents(Self.states([TestSupport.event("ord_x")])) }
            #expect(try Self.contents(directory) == whole, "a write cut after \(budget) bytes left nothing behind")
            // An attempt line is about 170 bytes: cut it too.
            disk.allow(budget / 3)
            #expect(throws: UCPSimError.self) {
                try outbox.append([
                    (
                        DeliveryID(first.webhookID),
                        AttemptRecord(number: 1, at: Date(), status: 503, milliseconds: 1, detail: "x"),
                        .pending(next: Date())
                    )
                ])
            }
            #expect(try Self.contents(directory) == whole)
        }
        // A batch over a megabyte fails in its second chunk: its first chunk goes too.
        let big = (0..<900).map { TestSupport.event("ord_big_\($0)", body: String(repeating: "b", count: 2000)) }
        disk.allow(1_500_000)
        #expect(throws: UCPSimError.self) { try outbox.appendEvents(Self.states(big)) }
        #expect(try Self.contents(directory) == whole)
        // A failed fsync: the batch is not durable, so it is not kept.
        disk.allow(nil, fsyncFails: true)
        #expect(throws: UCPSimError.self) { try outbox.appendEvents(Self.states([TestSupport.event("ord_y")])) }
        #expect(try Self.contents(directory) == whole)

        disk.allow(nil)
        let later = [TestSupport.event("ord_b"), TestSupport.event("ord_c")]
        try outbox.appendEvents(Self.states(later))
        for event in [first] + later { #expect(outbox.body(of: event.webhookID) == event.body) }
        outbox.close()
        let (reopened, restored) = try Outbox.open(directory: directory)
        defer { reopened.close() }
        #expect(restored.map(\.event.webhookID) == ([first] + later).map(\.webhookID))
        for event in [first] + later { #expect(reopened.body(of: event.webhookID) == event.body) }
    }

    /// Item 1: a body read back is checked against the length and SHA-256 written with its event. One changed in
    /// the journal (same length, still base64) is never signed or sent: the event is dead-lettered with the reason,
    /// and `show` says so.
    @Test func aBodyThatDoesNotMatchItsDigestIsNeverSent() async throws {
        let directory = TestSupport.temporaryDirectory()
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let event = TestSupport.event("ord_d", body: #"{"id":"ord_d","total":1500}"#)
        let (outbox, _) = try Outbox.open(directory: directory)
        try outbox.appendEvents(Self.states([event], target: receiver.url))
        outbox.close()
        // Change one base64 character of the body: the same length, valid base64, other bytes.
        let path = "\(directory)/outbox.jsonl"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        let encoded = Data(event.body).base64EncodedString()
        let changed = "A" + encoded.dropFirst()
        #expect(changed != encoded)
        text = text.replacingOccurrences(of: encoded, with: changed)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(text.contains("\"sha256\":\"\(DigestAlgorithm.sha256.hash(event.body).hexString)\""))

        let shown = try await CLITests.ucpsim(["deliveries", "show", event.webhookID, "--state", directory])
        #expect(shown.stdout.contains("does not match the length and SHA-256"), "\(shown.stdout)\(shown.stderr)")
        let shop = try await TestSupport.shop(delays: [0.01, 0.01], state: directory)
        let outcome = await shop.engine.outcome(of: event.webhookID)
        await shop.stop()
        await receiver.stop()
        #expect(receiver.received.isEmpty, "nothing is sent with a body that is not the one written")
        guard case .dead(let reason) = outcome.phase else {
            Issue.record("expected a dead letter, got \(outcome.phase)")
            return
        }
        #expect(reason.contains("does not match the length and SHA-256"), "\(reason)")
        #expect(outcome.attempts.isEmpty)
    }

    /// Item 1 and 3: a journal written before digests were recorded still opens and sends; an event line with a
    /// member after `"body"` (a later version's) is read, and its body sent byte for byte.
    @Test func oldJournalsAndFieldsAfterTheBodyStillSend() async throws {
        let directory = TestSupport.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let old = TestSupport.event("ord_old")
        let newer = TestSupport.event("ord_new")
        func line(_ event: WebhookEvent, extra: String) -> String {
            #"{"k":"event","id":"\#(event.webhookID)","ts":\#(event.timestamp),"order":"\#(event.orderID)","#
                + #""target":"\#(receiver.url)","body":"\#(Data(event.body).base64EncodedString())"\#(extra)}"#
        }
        let journal =
            line(old, extra: "") + "\n"
            + line(newer, extra: #","v":2,"trace":{"note":"added later"}"#) + "\n"
        try journal.write(toFile: "\(directory)/outbox.jsonl", atomically: false, encoding: .utf8)

        let listed = try await CLITests.ucpsim(["deliveries", "list", "--state", directory])
        #expect(listed.status == 0 && listed.stdout.contains("2 event(s)"), "\(listed.stdout)\(listed.stderr)")
        let shop = try await TestSupport.shop(delays: [0.01], state: directory)
        for event in [old, newer] {
            let outcome = await shop.engine.outcome(of: event.webhookID)
            #expect(outcome.accepted, "\(outcome)")
        }
        await shop.stop()
        await receiver.stop()
        let arrivals = receiver.received
        #expect(Set(arrivals.map(\.webhookID)) == [old.webhookID, newer.webhookID])
        for arrival in arrivals {
            #expect(arrival.body == (arrival.webhookID == old.webhookID ? old.body : newer.body))
        }
    }
}

extension [UInt8] {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
