import Foundation
import Testing
@testable import UCPSimKit

@Suite struct FixtureTests {
    static func fixtureFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: TestSupport.path("fixtures")).filter {
            $0.hasSuffix(".json")
        }.sorted()
    }

    @Test func committedFixturesLoadAndEveryBodyIsSchemaValid() async throws {
        var bodies: [[UInt8]] = []
        let files = try Self.fixtureFiles()
        #expect(files.contains("order-created.json") && files.count >= 4)
        for file in files {
            let fixture = try EventFixture.load(path: TestSupport.path("fixtures/\(file)"))
            #expect(!fixture.events.isEmpty)
            bodies += fixture.events.map(\.body)
        }
        try await InteropTests().validateMany(kind: "order", documents: bodies)
    }

    /// `run --record` then `replay --keep-ids`: the receiver sees the same ids, timestamps and body bytes.
    @Test func recordThenReplayReproducesBodiesByteForByte() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-rec-\(UUID().uuidString)")
            .path
        let (receiver, server, client) = try await TestSupport.startReceiver()
        let url = "\(server.baseURL)/hooks"
        // The reference receiver remembers which shop sent each order: both runs serve the shop on one port.
        let probe = try await ScriptedReceiver.start { _, _ in .init() }
        let shopPort = String(probe.server.port)
        await probe.stop()
        // And one key: the receiver refetches a profile for an unknown key at most once a minute per origin.
        let keys = "\(directory)-keys"
        #expect(try await CLITests.ucpsim(["keys", "generate", "--out", keys, "--kid", "shop"]).status == 0)
        let recorded = try await CLITests.ucpsim([
            "run", "scenarios/partial-shipment.yaml", "--webhook-url", url, "--record", directory, "--port", shopPort,
            "--keys", keys,
        ])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let fixturePath = "\(directory)/partial-shipment.events.json"
        let replayed = try await CLITests.ucpsim([
            "replay", fixturePath, "--webhook-url", url, "--keep-ids", "--port", shopPort, "--keys", keys,
        ])
        #expect(replayed.status == 0, "\(replayed.stdout)\(replayed.stderr)")
        let fresh = try await CLITests.ucpsim([
            "replay", fixturePath, "--webhook-url", url, "--port", shopPort, "--keys", keys,
        ])
        #expect(fresh.status == 0)
        await server.stop()
        await client.shutdown()

        let all = receiver.received
        #expect(all.count == 15 && all.allSatisfy { $0.status == 200 })
        let (first, second, third) = (Array(all[0..<5]), Array(all[5..<10]), Array(all[10..<15]))
        #expect(first.map(\.body) == second.map(\.body), "bodies byte for byte")
        #expect(first.map(\.webhookID) == second.map(\.webhookID))
        #expect(first.map { $0.headers["webhook-timestamp"] } == second.map { $0.headers["webhook-timestamp"] })
        #expect(second.filter(\.duplicate).count == 5, "a redelivery is acknowledged and marked duplicate")
        #expect(first.map(\.body) == third.map(\.body))
        #expect(
            Set(third.map(\.webhookID)).isDisjoint(with: first.map(\.webhookID)),
            "without --keep-ids ids are fresh"
        )
    }

    @Test func badFixturesGetOneClearLine() async throws {
        func load(_ text: String) -> String {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent(
                "ucpsim-fx-\(UUID().uuidString).json"
            )
            try? Data(text.utf8).write(to: file)
            do {
                _ = try EventFixture.load(path: file.path)
                return "loaded"
            } catch {
                return "\(error.exitCode.rawValue) \(error.message)"
            }
        }
        #expect(load("[]").hasPrefix("65 ") && load("[]").contains("is not a JSON object"))
        #expect(load(#"{"events": []}"#).contains("non-empty list"))
        #expect(load(#"{"events": [{"order_id": "x"}]}"#).contains("event 1: needs `body_text`"))
        #expect(load(#"{"events": [{"body_text": "{}"}]}"#).contains("event 1 is not an order: missing"))
        #expect(load(#"{"events": [{"webhook_id": "nope", "body": {"a": 1}}]}"#).contains("is not an order"))
        let replay = try await CLITests.ucpsim(["replay", "missing.json", "--webhook-url", "http://127.0.0.1:9/"]
        )
        #expect(replay.status == 66)
    }
}
