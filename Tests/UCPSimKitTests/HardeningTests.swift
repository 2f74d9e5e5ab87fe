import Foundation
import Synchronization
import Testing
@testable import UCPSimKit

/// Secrets and exposure: keys never readable by others, kids that can be signed with, a control API never opened to
/// the network without a word.
@Suite struct HardeningTests {
    @Test func aNewKeyFileIsNeverReadableByOthersAtAnyMoment() async throws {
        let directory = TestSupport.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let done = Atomic<Bool>(false)
        let seen = Mutex<(files: Int, exposed: [String])>((0, []))
        // A watcher looks at every file in the directory as fast as it can while keys are written.
        let watcher = Thread {
            while !done.load(ordering: .acquiring) {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                    var info = stat()
                    guard stat("\(directory)/\(name)", &info) == 0 else { continue }
                    seen.withLock { seen in
                        seen.files += 1
                        if info.st_mode & 0o077 != 0 {
                            seen.exposed.append("\(name) \(String(info.st_mode & 0o777, radix: 8))")
                        }
                    }
                }
            }
        }
        watcher.start()
        for index in 0..<200 {
            _ = try KeyRing.generateKey(.es256, kid: "k\(index)", directory: directory)
        }
        done.store(true, ordering: .releasing)
        let result = seen.withLock { $0 }
        #expect(result.files > 0, "the watcher saw no file, so it proved nothing")
        #expect(result.exposed.isEmpty, "readable by others: \(result.exposed.prefix(5))")
        let modes = try FileManager.default.contentsOfDirectory(atPath: directory).map {
            try FileManager.default.attributesOfItem(atPath: "\(directory)/\($0)")[.posixPermissions] as? NSNumber
        }
        #expect(modes.count == 200 && modes.allSatisfy { $0?.intValue == 0o600 })
    }

    @Test func aKidThatCannotGoIntoASignatureIsRefusedAtGeneration() async throws {
        let directory = TestSupport.temporaryDirectory()
        let result = try await CLITests.ucpsim(["keys", "generate", "--out", directory, "--kid", "clé-2026"])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("ASCII"))
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/clé-2026.pem"))
    }

    @Test func serveRefusesAnOpenControlAPIUnlessToldAndThenWarns() async throws {
        let refused = try await CLITests.ucpsim(["serve", "--host", "0.0.0.0", "--port", "0"])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--simulation-secret"), "\(refused.stderr)")
        // A name is judged as a name, not by its text: 127.example.test is not a loopback address.
        let named = try await CLITests.ucpsim(["serve", "--host", "127.example.test", "--port", "0"])
        #expect(named.status == 64 && named.stderr.contains("--simulation-secret"), "\(named.stderr)")

        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: CLITests.binary)
        process.arguments = [
            "serve", "--host", "0.0.0.0", "--port", "0", "--allow-unauthenticated-control", "--state",
            TestSupport.temporaryDirectory(),
        ]
        let errors = Pipe()
        let output = Pipe()
        process.standardError = errors
        process.standardOutput = output
        try TestSupport.start(process)
        let first = try await TestSupport.firstLine(of: output)
        // SIGKILL: a signal mask inherited from the test runner can leave SIGINT and SIGTERM blocked in the child.
        kill(process.processIdentifier, SIGKILL)
        let stderr = try await TestSupport.offPool {
            process.waitUntilExit()
            return String(decoding: TestSupport.readAll(errors.fileHandleForReading), as: UTF8.self)
        }
        #expect(String(decoding: first, as: UTF8.self).contains("shop listening on"))
        #expect(stderr.contains("WARNING: --allow-unauthenticated-control"), "\(stderr)")
    }

    /// Ids that would forge output lines, drive a terminal or break URLs are refused wherever they enter.
    @Test(arguments: ["ord\n-> delivered", "ord\u{1B}[2J", "ord\u{0}x", String(repeating: "o", count: 200_000), "a/b"])
    func orderIDsOutsideTheRuleAreRefusedEverywhere(_ id: String) async throws {
        let encoded = String(decoding: try JSONEncoder().encode(id), as: UTF8.self)
        // The control API.
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            control: ControlOptions(target: nil, secret: nil),
            logger: TestSupport.quietLogger
        )
        let response = try await shop.client.send(
            OutgoingRequest(
                method: "POST",
                url: "\(shop.server.baseURL)/testing/orders",
                headers: HTTPFieldList([("Content-Type", "application/json")]),
                body: Array(#"{"id":\#(encoded),"items":[{"sku":"mug","price":1500}]}"#.utf8)
            )
        )
        await shop.stop()
        #expect(response.status == 400)
        #expect(response.bodyExcerpt().contains("id must be"), "\(response.bodyExcerpt())")
        #expect(!response.bodyExcerpt().contains("\n"))

        // A scenario file (YAML reads the JSON string form too).
        let scenario = try TestSupport.scenarioFile(
            "orders:\n  - id: \(encoded)\n    items: [{sku: mug, price: 1500}]\nsteps:\n  - place: all\n"
        )
        let run = try await CLITests.ucpsim(["run", scenario.path, "--webhook-url", "http://127.0.0.1:9/h"])
        #expect(run.status == 65, "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")

        // A fixture.
        let fixture = try JSONSerialization.jsonObject(with: Data(TestSupport.read(CLITests.fixture)))
        var order = try #require(fixture as? [String: Any])
        order["id"] = id
        let path = try TestSupport.temporaryJSON(order, name: "order.json")
        let send = try await CLITests.ucpsim(["send", path, "--webhook-url", "http://127.0.0.1:9/h"])
        #expect(send.status == 65, "\(send.stderr)")
        #expect(send.stderr.split(separator: "\n").count == 1, "\(send.stderr)")
    }

    @Test func aRecordedScenarioNameNeverLeavesTheRecordDirectory() async throws {
        let base = TestSupport.temporaryDirectory()
        let record = "\(base)/deep/record"
        let scenario = try TestSupport.scenarioFile(
            "name: \"../../escaped\"\norders:\n  - id: o1\n    items: [{sku: mug, price: 1500}]\nsteps:\n  - place: o1\n"
        )
        let result = try await CLITests.ucpsim(["run", scenario.path, "--record", record])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(base)/escaped.events.json"))
        let written = try FileManager.default.contentsOfDirectory(atPath: record)
        #expect(written == ["_._.._escaped.events.json"], "\(written)")
    }

    @Test func aKeyFileWhoseNameCannotBeAKidIsRefusedWhenLoaded() async throws {
        let directory = TestSupport.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(TestSupport.p256PEM.utf8).write(to: URL(fileURLWithPath: "\(directory)/clé.pem"))
        let result = try await CLITests.ucpsim([
            "send", CLITests.fixture, "--webhook-url", "http://127.0.0.1:9/h", "--keys", directory,
        ])
        #expect(result.status == 78, "\(result.stderr)")
        #expect(result.stderr.contains("its name is the kid"))
    }

    @Test func aSignedWebhookCannotForgeALineInTheReceiversLog() async throws {
        let (receiver, server, client) = try await TestSupport.startReceiver()
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let body = Array(#"{"id":"ord_1\nverified  webhook-id=forged order=ord_2 kid=x -> 200\u001b[2J"}"#.utf8)
        let event = WebhookEvent(timestamp: 1_775_913_000, orderID: "ord_1", body: body)
        let request = try shop.sender.signedRequest(
            for: event,
            to: try RequestTarget("\(server.baseURL)/webhooks/ucp/orders"),
            created: Int64(Date().timeIntervalSince1970)
        )
        _ = try await shop.client.send(request)
        await shop.stop()
        await server.stop()
        await client.shutdown()
        let line = try #require(receiver.received.first?.logLine)
        #expect(!line.contains("\n") && !line.contains("\u{1B}"), "\(line)")
        #expect(line.contains("\\u{a}"), "\(line)")
    }

    @Test func theReceiversMemoryOfIdsAndOwnersIsBounded() {
        var map = BoundedMap<String, Int>(capacity: 3)
        for index in 0..<1_000 { map.insertIfAbsent(index, for: "k\(index)") }
        #expect(map.count == 3)
        #expect(map["k0"] == nil && map["k996"] == nil)
        #expect(map["k997"] == 997 && map["k999"] == 999)
        let again = map.insertIfAbsent(0, for: "k999")
        #expect(!again)
    }
}
