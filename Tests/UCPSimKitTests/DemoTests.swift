import Foundation
import Testing
@testable import UCPSimKit

/// `ucpsim demo` carries its order inside the binary.
@Suite struct DemoTests {
    @Test func theEmbeddedOrderIsTheFixtureByteForByte() throws {
        #expect(
            DemoOrder.bytes == (try TestSupport.read("fixtures/order-created.json")),
            "fixtures/order-created.json changed: run python3 Tests/tools/embed_demo_order.py"
        )
        _ = try OrderDocument(bytes: DemoOrder.bytes, source: "the embedded order")
    }

    @Test func demoRunsFromADirectoryWithoutFixtures() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ucpsim-demo-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let result = try await TestSupport.run(CLITests.binary, ["demo"], directory: directory)

        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("receiver: verified  webhook-id="), "\(result.stdout)")
        #expect(result.stdout.contains("order=ord_7Kq2mX9pLw4R"))
        #expect(result.stdout.contains("ok: the reference receiver verified the signed webhook"))
    }

    @Test func fixtureStillSendsAnotherFile() async throws {
        let fixture = try TestSupport.temporaryJSON(
            try JSONSerialization.jsonObject(with: Data(TestSupport.read("fixtures/order-created.json")))
                as? [String: Any]
                ?? [:],
            name: "order.json"
        )
        let edited = try String(contentsOfFile: fixture, encoding: .utf8)
            .replacingOccurrences(of: "ord_7Kq2mX9pLw4R", with: "ord_other")
        try edited.write(toFile: fixture, atomically: true, encoding: .utf8)

        let sent = try await TestSupport.run(CLITests.binary, ["demo", "--fixture", fixture])
        let missing = try await TestSupport.run(CLITests.binary, ["demo", "--fixture", "/nonexistent/order.json"])

        #expect(sent.status == 0, "\(sent.stdout)\(sent.stderr)")
        #expect(sent.stdout.contains("order=ord_other"))
        #expect(missing.status == 66)
        #expect(missing.stderr.hasPrefix("ucpsim: error: cannot read"), "\(missing.stderr)")
    }
}
