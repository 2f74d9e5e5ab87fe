import Foundation
import Testing
@testable import UCPSimKit

/// Item 3: a damaged journal. `list` and `show` read around the damage and say where it is; writers refuse and name
/// the repair; `deliveries repair` sets damaged lines aside (with their numbers), keeps a backup and every whole
/// event, including one that a failed write ran into.
@Suite struct JournalRepairTests {
    @Test func listAndShowReadAroundADamagedLineAndRepairSetsItAside() async throws {
        let directory = TestSupport.temporaryDirectory()
        let events = try OutboxTests.journal(in: directory)
        let path = "\(directory)/outbox.jsonl"
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(
            separator: "\n",
            omittingEmptySubsequences: false
        )
        let original = lines
        // Line 5 becomes garbage (what a disk error or a stray editor leaves).
        lines.insert("{\"k\":\"event\",\"id\":\"x\u{0}\u{1}garbage", at: 4)
        try lines.joined(separator: "\n").write(toFile: path, atomically: false, encoding: .utf8)
        let damaged = try Data(contentsOf: URL(fileURLWithPath: path))

        let listed = try await CLITests.ucpsim(["deliveries", "list", "--state", directory])
        #expect(listed.status == 0, "\(listed.stdout)\(listed.stderr)")
        #expect(listed.stdout.contains("\(events.count) event(s)"))
        #expect(listed.stderr.hasPrefix("ucpsim: note: "), "\(listed.stderr)")
        #expect(listed.stderr.contains("damaged at line 5"), "\(listed.stderr)")
        #expect(listed.stderr.contains("ucpsim deliveries repair --state \(directory)"))
        let shown = try await CLITests.ucpsim(["deliveries", "show", events[3].webhookID, "--state", directory])
        #expect(shown.status == 0 && shown.stdout.contains("body \(events[3].body.count) bytes"), "\(shown.stdout)")
        #expect(shown.stderr.contains("damaged at line 5"))

        let resumed = try await CLITests.ucpsim(["deliveries", "resume", "--state", directory, "--wait", "0s"])
        #expect(resumed.status == 65, "\(resumed.stdout)\(resumed.stderr)")
        #expect(resumed.stderr.contains("damaged at line 5") && resumed.stderr.contains("deliveries repair"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == damaged, "reading and refusing change nothing")

        // Repair takes the writers' lock.
        // Close-on-exec, so no child another test spawns meanwhile inherits the lock and keeps it after `close`.
        let busy = FileHandle(
            fileDescriptor: open("\(directory)/outbox.lock", O_RDWR | O_CLOEXEC),
            closeOnDealloc: false
        )
        #expect(busy.fileDescriptor >= 0)
        #expect(flock(busy.fileDescriptor, LOCK_EX | LOCK_NB) == 0)
        let refused = try await CLITests.ucpsim(["deliveries", "repair", "--state", directory])
        #expect(refused.status == 73 && refused.stderr.contains("in use by another ucpsim"), "\(refused.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == damaged)
        try busy.close()

        let repaired = try await CLITests.ucpsim(["deliveries", "repair", "--state", directory])
        #expect(repaired.status == 0, "\(repaired.stdout)\(repaired.stderr)")
        let said = repaired.stdout.split(separator: "\n")
        #expect(said.count == 2, "\(repaired.stdout)")
        #expect(said.first?.contains("set aside 1 damaged line (line 5)") == true, "\(repaired.stdout)")
        #expect(said.first?.contains("kept \(events.count) events") == true)
        // The journal is the original, line for line; the damaged line is in the side file; the backup is the
        // damaged journal as it was.
        #expect(
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") == original.filter { !$0.isEmpty }
        )
        let aside = try String(contentsOfFile: "\(directory)/outbox.damaged.jsonl", encoding: .utf8)
        let record = try #require(try JSONSerialization.jsonObject(with: Data(aside.utf8)) as? [String: Any])
        #expect(record["line"] as? Int == 5)
        #expect((record["text"] as? String)?.contains("garbage") == true)
        let backups = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".bak") }
        #expect(backups.count == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(backups[0])")) == damaged)

        let clean = try await CLITests.ucpsim(["deliveries", "list", "--state", directory])
        #expect(clean.status == 0 && clean.stderr.isEmpty, "\(clean.stderr)")
        let again = try await CLITests.ucpsim(["deliveries", "repair", "--state", directory])
        #expect(again.status == 0 && again.stdout.contains("no damaged lines; nothing changed"), "\(again.stdout)")
        let (outbox, states) = try Outbox.open(directory: directory)
        outbox.close()
        #expect(states.map(\.event.webhookID) == events.map(\.webhookID))
    }

    /// What the old writer left after a full disk: an event line cut part-way, the next event appended right after
    /// it on the same line. Repair sets the torn part aside and keeps the whole event that was inside it.
    @Test func repairKeepsAWholeEventThatAFailedWriteRanInto() async throws {
        let directory = TestSupport.temporaryDirectory()
        let first = TestSupport.event("ord_1")
        let merged = TestSupport.event("ord_2")
        let last = TestSupport.event("ord_3")
        let (outbox, _) = try Outbox.open(directory: directory)
        try outbox.appendEvents(DiskFaultTests.states([first, merged, last]))
        outbox.close()
        let path = "\(directory)/outbox.jsonl"
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[1] = String(lines[0].prefix(70)) + lines[1]
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)

        let listed = try await CLITests.ucpsim(["deliveries", "list", "--state", directory])
        #expect(listed.stdout.contains("2 event(s)") && listed.stderr.contains("damaged at line 2"), "\(listed)")
        let repaired = try await CLITests.ucpsim(["deliveries", "repair", "--state", directory])
        #expect(repaired.status == 0, "\(repaired.stderr)")
        #expect(
            repaired.stdout.contains("kept 3 events (1 whole entry recovered from inside them)"),
            "\(repaired.stdout)"
        )
        let snapshot = try Outbox.inspect(directory: directory)
        #expect(snapshot.damagedLines.isEmpty)
        #expect(snapshot.states.map(\.event.webhookID) == [first, merged, last].map(\.webhookID))
        for event in [first, merged, last] { #expect(snapshot.body(of: event.webhookID) == event.body) }
    }
}
