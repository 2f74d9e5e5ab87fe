import Foundation
import Synchronization
import Testing
@testable import UCPSimKit

/// Real processes: SIGKILL mid-run, restart on the same state directory, nothing lost.
@Suite struct CrashRecoveryTests {
    /// Starts `ucpsim` without waiting for it.
    static func launch(_ arguments: [String]) throws -> ChildProcess {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: CLITests.binary)
        process.arguments = arguments
        process.currentDirectoryURL = TestSupport.repoRoot
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try TestSupport.start(process)
        return process
    }

    @Test func killedMidRunAndRestartedResumesEveryDeliveryWithIdenticalIdsAndBytes() async throws {
        let healthy = Mutex(false)
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: healthy.withLock { $0 } ? 200 : 503) }
        let state = TestSupport.temporaryDirectory()
        let fixture = "fixtures/happy-path.events.json"
        let recorded = try EventFixture.load(path: TestSupport.path(fixture))

        let first = try Self.launch([
            "replay", fixture, "--keep-ids", "--webhook-url", receiver.url, "--state", state,
            "--retry-schedule", Array(repeating: "0.2", count: 10).joined(separator: ","), "--wait", "60s",
        ])
        // Let it fail a few times (the first order's snapshots wait behind its failing head), then kill it hard.
        let deadline = Date().addingTimeInterval(20)
        while receiver.received.count < 3, Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)
        let beforeKill = receiver.received
        #expect(beforeKill.count >= 3)

        healthy.withLock { $0 = true }
        let resumed = try await CLITests.ucpsim([
            "deliveries", "resume", "--state", state, "--retry-schedule", "0.2,0.2,0.2", "--wait", "30s",
        ])
        let listed = try await CLITests.ucpsim(["deliveries", "list", "--state", state, "--json"])
        await receiver.stop()

        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        let delivered = receiver.received.filter { arrival in arrival.at > beforeKill.last!.at }
        let expectedIDs = Set(recorded.events.compactMap(\.webhookID))
        #expect(
            Set(delivered.map(\.webhookID)) == expectedIDs,
            "every event of the fixture is delivered after the restart"
        )
        for arrival in receiver.received {
            let original = try #require(recorded.events.first { $0.webhookID == arrival.webhookID })
            #expect(arrival.body == original.body, "a repeat carries the same bytes")
            #expect(arrival.timestamp == String(original.timestamp ?? 0))
        }
        let rows = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count == 5 && rows.allSatisfy { $0["state"] as? String == "delivered" })
    }

    @Test func deadLetterThenRedeliverSendsTheSameEventAgain() async throws {
        let fixed = Mutex(false)
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: fixed.withLock { $0 } ? 200 : 400) }
        let state = TestSupport.temporaryDirectory()
        let sent = try await CLITests.ucpsim([
            "send", "fixtures/order-created.json", "--webhook-url", receiver.url, "--state", state,
        ])
        #expect(sent.status == 1)
        #expect(sent.stderr.contains("dead-lettered: HTTP 400 (not retried)"))
        let listed = try await CLITests.ucpsim(["deliveries", "list", "--state", state, "--only", "dead"])
        #expect(listed.stdout.contains("dead  attempts=1  last=HTTP 400"))
        let id = try #require(receiver.received.first?.webhookID)
        let shown = try await CLITests.ucpsim(["deliveries", "show", id, "--state", state])
        #expect(shown.stdout.contains("#1") && shown.stdout.contains("HTTP 400"))

        fixed.withLock { $0 = true }
        let redelivered = try await CLITests.ucpsim(["deliveries", "redeliver", "--all", "--state", state])
        await receiver.stop()
        #expect(redelivered.status == 0, "\(redelivered.stdout)\(redelivered.stderr)")
        #expect(receiver.received.count == 2)
        #expect(receiver.received[1].webhookID == id && receiver.received[1].body == receiver.received[0].body)
        let after = try await CLITests.ucpsim(["deliveries", "list", "--state", state])
        #expect(after.stdout.contains("delivered  attempts=2"))
    }

    @Test func aScenarioAgainstAFailingReceiverShowsRetriesAndEndsDelivered() async throws {
        let receiver = try await ScriptedReceiver.start { index, _ in .init(status: index < 2 ? 503 : 200) }
        let file = try TestSupport.scenarioFile(
            """
            delivery: { retry_schedule: "1s,5s,5m", jitter: 0 }
            orders:
              - id: o1
                items: [{ sku: mug, price: 100 }]
            steps:
              - place: o1
                expect: { status: 2xx, attempts: 3 }
              - ship: o1
                expect: { status: 200, attempts: 1 }
            """
        )
        let result = try await CLITests.ucpsim(["run", file.path, "--webhook-url", receiver.url, "--time-scale", "100"])
        await receiver.stop()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("place  200  attempts=3"))
        #expect(result.stdout.contains("retried 2"))
    }

    @Test func aScenarioCompressesItsOwnScheduleWithTimeScale() async throws {
        let receiver = try await ScriptedReceiver.start { index, _ in .init(status: index < 1 ? 503 : 200) }
        // An hour's wait before the retry, at 36,000x: a tenth of a second. No --time-scale on the command line.
        let file = try TestSupport.scenarioFile(
            """
            delivery: { retry_schedule: "1h", jitter: 0, time_scale: 36000 }
            orders:
              - id: o1
                items: [{ sku: mug, price: 100 }]
            steps:
              - place: o1
                expect: { status: 2xx, attempts: 2 }
            """
        )
        let state = TestSupport.temporaryDirectory()
        let result = try await CLITests.ucpsim([
            "run", file.path, "--webhook-url", receiver.url, "--wait", "20s", "--state", state,
        ])
        await receiver.stop()
        // Without the scenario's time scale the hour-long retry would outlast --wait (exit 75).
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("place  200  attempts=2"))
        let arrivals = receiver.received
        #expect(arrivals.count == 2)
        if arrivals.count == 2 { #expect(arrivals[1].at.timeIntervalSince(arrivals[0].at) < 20) }
        // On the delivery clock the retry still came an hour after the first attempt, and no later than the run's
        // 20 s of real time (--wait) at 36,000x allow: a loaded machine may fire the timer seconds late.
        let times = try Outbox.inspect(directory: state).states.flatMap(\.attempts).map(\.at.timeIntervalSince1970)
        #expect(times.count == 2)
        if times.count == 2 { #expect(times[1] - times[0] >= 3600 && times[1] - times[0] < 20 * 36_000, "\(times)") }
    }
}
