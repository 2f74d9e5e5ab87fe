import Foundation
import Testing
@testable import UCPSimKit

/// ucpsim never reports work it did not do, never stops before trying, keeps its clocks honest and its shop stable:
/// the built binary, real receivers on loopback, real state directories.
@Suite struct TrustworthyTests {
    static func state() -> String { TestSupport.temporaryDirectory() }

    static func webhookIDs(_ receiver: ScriptedReceiver) -> [String] { receiver.received.map(\.webhookID) }

    @Test func replayWithRecordedIDsTwiceSendsEveryEventAgainUnderItsID() async throws {
        let receiver = try await ScriptedReceiver.start { _, _ in .init() }
        defer { Task { await receiver.stop() } }
        let state = Self.state()
        let arguments = [
            "replay", "fixtures/happy-path.events.json", "--keep-ids", "--webhook-url", receiver.url, "--state", state,
        ]
        let first = try await CLITests.ucpsim(arguments)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        let second = try await CLITests.ucpsim(arguments)
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        #expect(second.stdout.contains("5 events: delivered 5"), "\(second.stdout)")
        let ids = Self.webhookIDs(receiver)
        #expect(ids.count == 10)
        #expect(Array(ids.prefix(5)) == Array(ids.suffix(5)))
        // The same bytes both times.
        #expect(receiver.received.prefix(5).map(\.body) == receiver.received.suffix(5).map(\.body))
        // New attempts on the same outbox entries, not new entries.
        let outbox = try Outbox.inspect(directory: state)
        #expect(outbox.states.count == 5)
        #expect(outbox.states.allSatisfy { $0.attempts.count == 2 && $0.phase == .delivered })

        // The same id with other bytes is refused before anything is sent.
        let fixture = try JSONSerialization.jsonObject(with: Data(TestSupport.read("fixtures/happy-path.events.json")))
        var changed = try #require(fixture as? [String: Any])
        var events = try #require(changed["events"] as? [[String: Any]])
        let body = try #require(events[0]["body_text"] as? String)
        events[0]["body_text"] = body.replacingOccurrences(of: "Order #1001", with: "Order #9999")
        changed["events"] = events
        let path = try TestSupport.temporaryJSON(changed, name: "changed.events.json")
        let refused = try await CLITests.ucpsim([
            "replay", path, "--keep-ids", "--webhook-url", receiver.url, "--state", state,
        ])
        #expect(refused.status == 65, "\(refused.stderr)")
        #expect(refused.stderr.contains(try #require(events[0]["webhook_id"] as? String)))
        #expect(receiver.received.count == 10)
    }

    @Test func aRunStoppedByWaitKeepsItsReportAndResumesWhereItStopped() async throws {
        // The first delivery fails once; everything after succeeds.
        let receiver = try await ScriptedReceiver.start { index, _ in .init(status: index == 0 ? 503 : 200) }
        defer { Task { await receiver.stop() } }
        let state = Self.state()
        let report = state + "-report.xml"
        let stopped = try await CLITests.ucpsim([
            "run", "scenarios/happy-path.yaml", "--webhook-url", receiver.url, "--state", state,
            // The retry is due 30 s later: no race with the stop on a slow machine.
            "--retry-schedule", "30s", "--jitter", "0", "--wait", "0s", "--report", report, "--json",
        ])
        #expect(stopped.status == 75, "\(stopped.stdout)\(stopped.stderr)")
        #expect(stopped.stderr.contains("`ucpsim run --resume --state \(state)`"), "\(stopped.stderr)")
        #expect(stopped.stderr.contains("4 steps not sent"), "\(stopped.stderr)")
        // The reports are written on exit 75 too, and say the run did not finish.
        let xml = try String(contentsOfFile: report, encoding: .utf8)
        #expect(xml.contains("<testsuites") && xml.contains("the run did not finish"))
        let partial = try #require(try JSONSerialization.jsonObject(with: Data(stopped.stdout.utf8)) as? [String: Any])
        #expect(partial["passed"] as? Bool == false && partial["complete"] as? Bool == false)
        #expect(FileManager.default.fileExists(atPath: RunProgress.path(in: state)))
        #expect(receiver.received.count == 1)

        // No target given: the resume sends where the interrupted run did. The delivery clock runs 60 times faster,
        // so the retry due 30 s later goes at once.
        let resumed = try await CLITests.ucpsim([
            "run", "--resume", "--state", state, "--json", "--time-scale", "60", "--record", state + "-fixtures",
        ])
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        let results = try #require(
            try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any]
        )
        #expect(results["deliveries"] as? Int == 5)
        #expect(results["passed"] as? Bool == true)
        #expect(results["failures"] as? Int == 0)
        // The pending place went again under its id, then the four later steps: five events, six requests.
        let ids = Self.webhookIDs(receiver)
        #expect(ids.count == 6)
        #expect(ids[0] == ids[1])
        #expect(Set(ids).count == 5)
        #expect(!FileManager.default.fileExists(atPath: RunProgress.path(in: state)))
        // The resumed run's fixture holds every event with its bytes, the resumed one included.
        let fixture = try EventFixture.load(path: state + "-fixtures/happy-path.events.json")
        #expect(fixture.events.count == 5)
        #expect(fixture.events.allSatisfy { !$0.body.isEmpty && ($0.timestamp ?? 0) > 0 })
        #expect(fixture.events.first?.webhookID == ids[0])

        // Another target than the interrupted run's is refused (its pending deliveries are addressed there).
        let failing = try await ScriptedReceiver.start { _, _ in .init(status: 503) }
        defer { Task { await failing.stop() } }
        let other = try await CLITests.ucpsim([
            "run", "scenarios/happy-path.yaml", "--webhook-url", failing.url, "--state", state,
            "--retry-schedule", "30s", "--wait", "0s",
        ])
        #expect(other.status == 75)
        let elsewhere = try await CLITests.ucpsim([
            "run", "--resume", "--state", state, "--webhook-url", receiver.url,
        ])
        #expect(elsewhere.status == 64, "\(elsewhere.stderr)")
        #expect(elsewhere.stderr.contains("the interrupted run sent to \(failing.url)"))
    }

    @Test func aRunThatNeverStartedWritesAFailingReport() async throws {
        let report = Self.state() + "-report.xml"
        let file = try TestSupport.scenarioFile("steps: [ {place: nobody} ]\n")
        let result = try await CLITests.ucpsim(["run", file.path, "--report", report, "--json"])
        #expect(result.status == 65, "\(result.stderr)")
        let xml = try String(contentsOfFile: report, encoding: .utf8)
        #expect(xml.contains("failures=\"1\"") && xml.contains("the run did not finish"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["passed"] as? Bool == false)
    }

    @Test func sigintStopsARunWithOneLineAndItsPositionKept() async throws {
        // Every answer takes long enough to interrupt the run mid-way.
        let receiver = try await ScriptedReceiver.start { _, _ in .init(delay: 0.5) }
        defer { Task { await receiver.stop() } }
        let state = Self.state()
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: CLITests.binary)
        process.currentDirectoryURL = TestSupport.repoRoot
        process.arguments = ["run", "scenarios/happy-path.yaml", "--webhook-url", receiver.url, "--state", state]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try TestSupport.start(process)
        for _ in 0..<400 where receiver.received.isEmpty { try await Task.sleep(nanoseconds: 25_000_000) }
        #expect(!receiver.received.isEmpty)
        kill(process.processIdentifier, SIGINT)
        let stderr = try await TestSupport.offPool {
            let text = String(decoding: TestSupport.readAll(errors.fileHandleForReading), as: UTF8.self)
            process.waitUntilExit()
            return text
        }
        #expect(process.terminationStatus == 130, "\(stderr)")
        #expect(stderr.contains("ucpsim: interrupted:") && stderr.contains("run --resume"), "\(stderr)")
        let progress = try #require(try RunProgress.load(directory: state))
        #expect(progress.scenarios.count == 1)
        #expect(progress.scenarios[0].nextStep < 9)
    }

    @Test func aCommandAlwaysMakesItsFirstAttemptEvenWithWaitZero() async throws {
        let receiver = try await ScriptedReceiver.start { _, _ in .init() }
        defer { Task { await receiver.stop() } }
        let result = try await CLITests.ucpsim([
            "send", CLITests.fixture, "--webhook-url", receiver.url, "--wait", "0s",
        ])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(receiver.received.count == 1)
    }

    @Test func stepsAfterA410SayTheEndpointStopped() async throws {
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 410) }
        defer { Task { await receiver.stop() } }
        let result = try await CLITests.ucpsim([
            "run", "scenarios/happy-path.yaml", "--webhook-url", receiver.url,
        ])
        #expect(result.status == 1)
        #expect(result.stdout.contains("not sent: endpoint stopped after HTTP 410 Gone"), "\(result.stdout)")
        #expect(!result.stdout.contains("no response: \n"))
        #expect(receiver.received.count == 1)
    }

    @Test func resendSendsAnyEventAgainAndNamesUnknownIDs() async throws {
        let first = try await ScriptedReceiver.start { _, _ in .init() }
        let other = try await ScriptedReceiver.start { _, _ in .init() }
        defer {
            Task {
                await first.stop()
                await other.stop()
            }
        }
        let state = Self.state()
        let sent = try await CLITests.ucpsim(["send", CLITests.fixture, "--webhook-url", first.url, "--state", state])
        #expect(sent.status == 0, "\(sent.stderr)")
        let id = try #require(first.received.first?.webhookID)

        let resent = try await CLITests.ucpsim([
            "deliveries", "resend", id, "--webhook-url", other.url, "--state", state,
        ])
        #expect(resent.status == 0, "\(resent.stdout)\(resent.stderr)")
        #expect(other.received.map(\.webhookID) == [id])
        #expect(other.received.first?.body == first.received.first?.body)
        #expect(other.received.first?.timestamp == first.received.first?.timestamp)

        let unknown = try await CLITests.ucpsim(["deliveries", "resend", "no-such-id", "--state", state])
        #expect(unknown.status == 66)
        #expect(unknown.stderr.contains("no-such-id"))

        // redeliver tells an unknown id from one that is not a dead letter.
        let notDead = try await CLITests.ucpsim(["deliveries", "redeliver", id, "--state", state])
        #expect(notDead.status == 64 && notDead.stderr.contains("not dead letters: \(id) (delivered)"))
        let missing = try await CLITests.ucpsim(["deliveries", "redeliver", "no-such-id", "--state", state])
        #expect(missing.status == 66 && missing.stderr.contains("no such event"))
    }

    @Test func scenarioTimestampsNeverLieInTheFuture() async throws {
        let receiver = try await ScriptedReceiver.start { _, _ in .init() }
        defer { Task { await receiver.stop() } }
        let result = try await CLITests.ucpsim(["run", "scenarios/happy-path.yaml", "--webhook-url", receiver.url])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(receiver.received.count == 5)
        for received in receiver.received {
            let timestamp = try #require(Double(received.timestamp))
            #expect(timestamp <= received.at.timeIntervalSince1970)
            let order = try #require(try JSONSerialization.jsonObject(with: Data(received.body)) as? [String: Any])
            let events = (order["fulfillment"] as? [String: Any])?["events"] as? [[String: Any]] ?? []
            for event in events {
                let text = try #require(event["occurred_at"] as? String)
                let occurred = try Date(text, strategy: .iso8601)
                #expect(occurred.timeIntervalSince1970 <= received.at.timeIntervalSince1970 + 1)
            }
        }
        // The last event happens (about) now: 3 days 8 hours after the first.
        let stamps = try receiver.received.map { try #require(Double($0.timestamp)) }
        #expect(stamps.last.map { $0 - stamps[0] } == Double(3 * 86_400 + 8 * 3_600))

        let future = try await CLITests.ucpsim([
            "run", "scenarios/happy-path.yaml", "--webhook-url", receiver.url,
            "--start", String(Int(Date().timeIntervalSince1970)),
        ])
        #expect(future.status == 64 && future.stderr.contains("in the future"), "\(future.stderr)")
    }

    @Test func repeatedCommandsOnOneStateDirectoryAreTheSameShop() async throws {
        let (receiver, server, client) = try await TestSupport.startReceiver()
        defer {
            Task {
                await server.stop()
                await client.shutdown()
            }
        }
        let state = Self.state()
        let url = "\(server.baseURL)/webhooks/ucp/orders"
        let first = try await CLITests.ucpsim(["send", CLITests.fixture, "--webhook-url", url, "--state", state])
        let second = try await CLITests.ucpsim(["send", CLITests.fixture, "--webhook-url", url, "--state", state])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        #expect(second.stdout.contains("HTTP 200"))
        #expect(receiver.received.map(\.status) == [200, 200])
        let key = try FileManager.default.attributesOfItem(atPath: ShopIdentity.keyPath(in: state))
        #expect((key[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test(arguments: [
        CLITests.BadInput(
            arguments: ["send", CLITests.fixture, "--webhook-url", "http://127.0.0.1:9/a b"],
            status: 64,
            message: "libcurl refuses it"
        ),
        CLITests.BadInput(
            arguments: ["send", CLITests.fixture, "--webhook-url", "http://127.0.0.1:99999/h"],
            status: 64,
            message: "port 99999 is outside"
        ),
        CLITests.BadInput(arguments: ["listen", "--port", "99999"], status: 64, message: "--port"),
        CLITests.BadInput(
            arguments: ["run", "scenarios/happy-path.yaml", "--port", "65536"],
            status: 64,
            message: "--port"
        ),
        CLITests.BadInput(
            arguments: ["send", CLITests.fixture, "--webhook-url", "http://127.0.0.1:9/h", "--timeout=-5"],
            status: 64,
            message: "--timeout must be 0 (no limit) or more"
        ),
        CLITests.BadInput(
            arguments: ["send", CLITests.fixture, "--webhook-url", "http://127.0.0.1:9/h", "--connect-timeout=-1"],
            status: 64,
            message: "--connect-timeout must be 0"
        ),
        CLITests.BadInput(
            arguments: ["run", "scenarios/happy-path.yaml", "--webhook-url", "http://127.0.0.1:9/a b"],
            status: 64,
            message: "libcurl refuses it"
        ),
        CLITests.BadInput(
            arguments: ["run", "--resume", "--state", "/nonexistent-ucpsim"],
            status: 66,
            message: "no interrupted run"
        ),
    ])
    func strictInputsAreRefusedBeforeAnythingIsSent(_ input: CLITests.BadInput) async throws {
        let result = try await CLITests.ucpsim(input.arguments)
        #expect(result.status == input.status, "stderr: \(result.stderr)")
        #expect(result.stderr.contains(input.message), "stderr: \(result.stderr)")
    }

    @Test func resumeOnAMissingStateDirectoryCreatesNothing() async throws {
        let typo = Self.state()
        let result = try await CLITests.ucpsim(["deliveries", "resume", "--state", typo])
        #expect(result.status == 66, "\(result.stderr)")
        #expect(result.stderr.contains("no outbox in"))
        #expect(!FileManager.default.fileExists(atPath: typo))
    }

    @Test func topLevelHelpListsEveryExitCode() async throws {
        let result = try await CLITests.ucpsim(["--help"])
        for code in ["64", "65", "66", "69", "70", "73", "75", "78", "130"] {
            #expect(result.stdout.contains(code), "\(code)")
        }
    }
}
