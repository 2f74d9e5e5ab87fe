import Foundation
import Testing
@testable import UCPSimKit

/// The outbox journal on its own: compaction, the one-writer lock, and read-only inspection.
@Suite struct OutboxTests {
    /// Twenty events: 0–11 delivered, 12–14 dead, 15–19 pending after a failed attempt.
    static func journal(in directory: String, target: String = "http://127.0.0.1:9/hooks") throws -> [WebhookEvent] {
        let events = (0..<20).map {
            TestSupport.event(
                "ord_\($0 % 7)",
                body: #"{"event":\#($0),"pad":"\#(String(repeating: "x", count: $0 * 10))"}"#
            )
        }
        let (outbox, _) = try Outbox.open(directory: directory)
        defer { outbox.close() }
        try outbox.appendEvents(
            events.map { DeliveryState(event: $0, target: target, firstAttempt: Date()) }
        )
        let at = Date(timeIntervalSince1970: 1_775_913_000)
        try outbox.append(
            events.indices.map { index in
                let status = index < 12 ? 200 : (index < 15 ? 400 : 503)
                let phase: DeliveryState.Phase =
                    index < 12 ? .delivered : (index < 15 ? .dead(reason: "HTTP 400") : .pending(next: at))
                return (
                    DeliveryID(events[index].webhookID),
                    AttemptRecord(number: 1, at: at, status: status, milliseconds: 1.5, detail: "attempt \(index)"),
                    phase
                )
            }
        )
        return events
    }

    /// Opening drops the oldest delivered events beyond the limit, copying every other line byte for byte: pending
    /// and dead events keep their attempts and bodies, and the pending ones are then delivered with the same bytes.
    @Test func compactionKeepsPendingDeadAndTheNewestDelivered() async throws {
        let directory = TestSupport.temporaryDirectory()
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let events = try Self.journal(in: directory, target: receiver.url)
        let path = "\(directory)/outbox.jsonl"
        let before = try String(contentsOfFile: path, encoding: .utf8)
        // What a crash during an earlier compaction would have left: a partial copy, never the journal itself.
        try Data("{\"k\":\"event\",\"id\":\"half".utf8).write(to: URL(fileURLWithPath: path + ".compacting"))

        let (outbox, states) = try Outbox.open(directory: directory, keepDelivered: 4)
        let kept = Array(events[8...])
        #expect(states.map(\.event.webhookID) == kept.map(\.webhookID), "delivered 0–7 dropped, order kept")
        #expect(
            states.map(\.phase.name) == Array(repeating: "delivered", count: 4) + ["dead", "dead", "dead"]
                + Array(repeating: "pending", count: 5)
        )
        #expect(states.map { $0.attempts.map(\.detail) } == (8..<20).map { ["attempt \($0)"] })
        for event in kept { #expect(outbox.body(of: event.webhookID) == event.body) }
        #expect(outbox.body(of: events[0].webhookID) == nil)
        #expect(outbox.notes.count == 1 && outbox.notes[0].contains("dropped the 8 oldest delivered events"))
        #expect(!FileManager.default.fileExists(atPath: path + ".compacting"))

        // The kept lines are the old ones, unchanged and in order.
        let after = try String(contentsOfFile: path, encoding: .utf8)
        let dropped = Set(events[..<8].map(\.webhookID))
        let expected = before.split(separator: "\n").filter { line in !dropped.contains { line.contains($0) } }
        #expect(after.split(separator: "\n") == expected)
        #expect(after.utf8.count < before.utf8.count)

        // Appending goes on at the new end; a reopen within a quarter of the limit leaves the file alone.
        let late = events[15]
        try outbox.append([
            (
                DeliveryID(late.webhookID),
                AttemptRecord(number: 2, at: Date(), status: 503, milliseconds: 1, detail: "again"),
                .pending(next: Date())
            )
        ])
        outbox.close()
        let appended = try String(contentsOfFile: path, encoding: .utf8)
        let (reopened, restates) = try Outbox.open(directory: directory, keepDelivered: 4)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == appended)
        #expect(reopened.notes.isEmpty)
        #expect(restates.first { $0.event.webhookID == late.webhookID }?.attempts.count == 2)
        reopened.close()

        // A shop on the compacted outbox resumes the five pending events: same ids, same bytes.
        let shop = try await TestSupport.shop(delays: [0.01], state: directory)
        for event in events[15...] {
            let outcome = await shop.engine.outcome(of: event.webhookID)
            #expect(outcome.accepted, "\(outcome)")
        }
        await shop.stop()
        await receiver.stop()
        let arrivals = receiver.received
        #expect(Set(arrivals.map(\.webhookID)) == Set(events[15...].map(\.webhookID)))
        for arrival in arrivals {
            #expect(arrival.body == events.first { $0.webhookID == arrival.webhookID }?.body)
        }
    }

    /// One process writes a state directory: a second writer gets one clear line (exit 73); reading for `deliveries
    /// list|show` works meanwhile and changes nothing, not even a torn tail the writer will repair.
    @Test func aSecondWriterIsRefusedAndInspectingChangesNothing() async throws {
        let directory = TestSupport.temporaryDirectory()
        let events = try Self.journal(in: directory)
        let (first, _) = try Outbox.open(directory: directory)

        #expect {
            _ = try Outbox.open(directory: directory)
        } throws: { error in
            guard let error = error as? UCPSimError else { return false }
            return error.exitCode == .cannotCreate
                && error.message.contains("in use by another ucpsim (pid \(getpid()))")
        }
        let refused = try await CLITests.ucpsim(["deliveries", "resume", "--state", directory, "--wait", "1s"])
        #expect(refused.status == 73, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("is in use by another ucpsim"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").filter { $0.hasPrefix("ucpsim: error:") }.count == 1)

        let path = "\(directory)/outbox.jsonl"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"k":"attempt","id":"torn"#.utf8))
        try handle.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let snapshot = try Outbox.inspect(directory: directory)
        #expect(snapshot.states.map(\.event.webhookID) == events.map(\.webhookID))
        #expect(snapshot.body(of: events[19].webhookID) == events[19].body)
        let listed = try await CLITests.ucpsim(["deliveries", "list", "--state", directory, "--only", "dead"])
        #expect(listed.status == 0 && listed.stdout.contains("3 event(s)"), "\(listed.stdout)\(listed.stderr)")
        let shown = try await CLITests.ucpsim(["deliveries", "show", events[12].webhookID, "--state", directory])
        #expect(shown.stdout.contains("body \(events[12].body.count) bytes"), "\(shown.stdout)\(shown.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)

        first.close()
        let (second, states) = try Outbox.open(directory: directory)
        #expect(states.count == events.count)
        #expect(!(try String(contentsOfFile: path, encoding: .utf8)).contains("torn"))
        second.close()
    }
}
