import Foundation
import Hummingbird
import Testing
@testable import UCPSimKit

/// Runs the built `ucpsim` binary and checks stdout, stderr and the exit status.
@Suite struct CLITests {
    /// Runs `ucpsim`; commands with an outbox get a fresh `--state` directory unless the arguments name one.
    static func ucpsim(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        var arguments = arguments
        let withOutbox: Set<String> = ["send", "run", "replay"]
        if let command = arguments.first, withOutbox.contains(command), !arguments.contains("--state") {
            arguments += [
                "--state",
                FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-state-\(UUID().uuidString)").path,
            ]
        }
        return try await TestSupport.run(binary, arguments)
    }

    static var binary: String {
        for configuration in ["debug", "release"] {
            let path = TestSupport.path(".build/\(configuration)/ucpsim")
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return TestSupport.path(".build/debug/ucpsim")
    }

    /// HTTPS receivers: a self-signed certificate is refused (one line, exit 69) unless `--insecure`, and then the
    /// signed webhook goes through TLS intact.
    @Test func aSelfSignedTLSReceiverNeedsInsecure() async throws {
        let receiver = ChildProcess()
        receiver.executableURL = URL(fileURLWithPath: TestSupport.python)
        receiver.arguments = [TestSupport.path("Tests/tools/tls_receiver.py")]
        let output = Pipe()
        receiver.standardOutput = output
        receiver.standardError = FileHandle.nullDevice
        try TestSupport.start(receiver)
        // SIGKILL: a signal mask inherited from the test runner can leave SIGTERM blocked in the child.
        defer { if receiver.isRunning { kill(receiver.processIdentifier, SIGKILL) } }
        let first = try await TestSupport.firstLine(of: output)
        let port = try #require(Int(String(decoding: first, as: UTF8.self).split(separator: "\n").first ?? ""))
        let url = "https://127.0.0.1:\(port)/webhooks/ucp/orders"
        let fixture = TestSupport.path("fixtures/order-created.json")

        let refused = try await Self.ucpsim(["send", fixture, "--webhook-url", url, "--retry-schedule", "none"])
        #expect(refused.status == 69, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("unreachable") && refused.stderr.contains("certificate"), "\(refused.stderr)")

        let accepted = try await Self.ucpsim(["send", fixture, "--webhook-url", url, "--insecure"])
        #expect(accepted.status == 0, "\(accepted.stdout)\(accepted.stderr)")
        #expect(accepted.stderr.contains("WARNING: --insecure"))

        kill(receiver.processIdentifier, SIGKILL)
        let rest = try await TestSupport.offPool {
            receiver.waitUntilExit()
            return TestSupport.readAll(output.fileHandleForReading)
        }
        let lines = String(decoding: first + rest, as: UTF8.self)
            .split(separator: "\n").dropFirst()
        // The refused handshake never became a request: exactly one webhook arrived, signed.
        #expect(lines.count == 1)
        let request = try #require(
            lines.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        )
        let headers = try #require(request["headers"] as? [String: String])
        #expect(request["path"] as? String == "/webhooks/ucp/orders")
        #expect(headers["signature-input"]?.hasPrefix("sig1=(\"@method\" \"@authority\" \"@path\"") == true)
        #expect(headers["content-digest"]?.hasPrefix("sha-256=:") == true && headers["webhook-id"] != nil)
    }

    @Test func demoShowsAVerifiedDelivery() async throws {
        let result = try await CLITests.ucpsim(["demo"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("receiver: verified"))
        #expect(result.stdout.contains("ok: the reference receiver verified the signed webhook"))
    }

    struct BadInput: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        let status: Int32
        let message: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let fixture = "fixtures/order-created.json"

    @Test(arguments: [
        BadInput(
            arguments: ["send", "Package.swift", "--webhook-url", "http://127.0.0.1:9/h"],
            status: 65,
            message: "is not JSON"
        ),
        BadInput(
            arguments: ["send", "Tests/tools/example-error.json", "--webhook-url", "http://127.0.0.1:9/h"],
            status: 65,
            message: "is not an order: missing"
        ),
        BadInput(
            arguments: ["send", "missing.json", "--webhook-url", "http://127.0.0.1:9/h"],
            status: 66,
            message: "cannot read missing.json"
        ),
        BadInput(
            arguments: ["send", fixture, "--webhook-url", "gopher://x/"],
            status: 64,
            message: "unsupported scheme"
        ),
        BadInput(arguments: ["send", fixture, "--webhook-url", "not a url"], status: 64, message: "malformed URL"),
        BadInput(
            arguments: ["send", fixture, "--webhook-url", "http://127.0.0.1:9/h", "--keys", "/nonexistent"],
            status: 66,
            message: "does not exist"
        ),
        BadInput(
            arguments: ["send", fixture, "--webhook-url", "http://127.0.0.1:9/h", "--retry-schedule", "none"],
            status: 69,
            message: "unreachable"
        ),
        BadInput(
            arguments: [
                "send", fixture, "--webhook-url", "http://127.0.0.1:9/h", "--retry-schedule", "1h", "--wait", "1s",
            ],
            status: 75,
            message: "stays in the outbox"
        ),
        BadInput(
            arguments: ["send", fixture, "--webhook-url", "http://127.0.0.1:9/h", "--retry-schedule", "soon"],
            status: 64,
            message: "retry-schedule"
        ),
        BadInput(arguments: ["keys", "generate", "--alg", "rsa", "--out", "/tmp"], status: 64, message: "rsa"),
        BadInput(
            arguments: ["send", fixture, "--webhook-url", "http://127.0.0.1:9/h", "--keep-delivered=-1"],
            status: 64,
            message: "--keep-delivered must be 0 or more"
        ),
        BadInput(arguments: ["deliveries", "list", "--state", "Tests/tools"], status: 66, message: "no outbox in"),
    ])
    func badInputGetsOneLineAndADocumentedExitCode(_ input: BadInput) async throws {
        let result = try await CLITests.ucpsim(input.arguments)
        #expect(result.status == input.status, "stderr: \(result.stderr)")
        #expect(result.stderr.contains(input.message), "stderr: \(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"))
    }

    @Test func malformedAndWrongTypeKeysAreRefused() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n".utf8).write(
            to: dir.appendingPathComponent("bad.pem")
        )
        let malformed = try await CLITests.ucpsim([
            "send", Self.fixture, "--webhook-url", "http://127.0.0.1:9/h", "--keys", dir.path,
        ]
        )
        #expect(malformed.status == 78)
        #expect(malformed.stderr.contains("bad.pem"))

        // An X25519 key is valid PEM but cannot sign.
        let x25519 = dir.deletingLastPathComponent().appendingPathComponent("ucpsim-x-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: x25519, withIntermediateDirectories: true)
        try Data(
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEIEAxk+5n3xYGzZzTdW1JYqYb8ZlZ0mW2PbZ8mYyHq0x4\n-----END PRIVATE KEY-----\n"
                .utf8
        )
        .write(to: x25519.appendingPathComponent("x.pem"))
        let wrongType = try await CLITests.ucpsim([
            "send", Self.fixture, "--webhook-url", "http://127.0.0.1:9/h", "--keys", x25519.path,
        ]
        )
        #expect(wrongType.status == 78)
        #expect(wrongType.stderr.contains("unsupported key type"))
    }

    @Test func generatedKeysArePrivateFilesAndRotateByNewest() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-gen-\(UUID().uuidString)").path
        let first = try await CLITests.ucpsim(["keys", "generate", "--alg", "es256", "--out", dir, "--kid", "old"]
        )
        #expect(first.status == 0, "\(first.stderr)")
        let jwk = try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: String]
        #expect(jwk?["kid"] == "old" && jwk?["crv"] == "P-256" && jwk?["d"] == nil)
        let mode = try FileManager.default.attributesOfItem(atPath: "\(dir)/old.pem")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let second = try await CLITests.ucpsim(["keys", "generate", "--alg", "ed25519", "--out", dir, "--kid", "new"]
        )
        #expect(second.status == 0)
        let again = try await CLITests.ucpsim(["keys", "generate", "--out", dir, "--kid", "new"])
        #expect(again.status == 73)
        // Make "old" clearly older, whatever the clock's resolution.
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -3600)],
            ofItemAtPath: "\(dir)/old.pem"
        )
        let ring = try KeyRing.load(directory: dir)
        #expect(ring.keys.map(\.kid) == ["old", "new"])
        #expect(ring.active.kid == "new")
        #expect(try KeyRing.load(directory: dir, signWith: "old").active.kid == "old")
    }

    @Test func sendToTheReferenceReceiverExitsZeroAndVerbosePrintsTheSignedHeaders() async throws {
        let (receiver, server, client) = try await TestSupport.startReceiver()
        let result = try await CLITests.ucpsim([
            "send", Self.fixture, "--webhook-url", "\(server.baseURL)/hook", "--verbose",
        ]
        )
        await server.stop()
        await client.shutdown()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("attempt 1  HTTP 200"))
        #expect(result.stdout.contains("-> delivered"))
        #expect(result.stdout.contains("> Signature-Input: sig1=("))
        #expect(result.stderr.contains("signing with the shop's new ES256 key"))
        #expect(receiver.received.count == 1)
    }
}

@Suite struct RunCommandTests {
    @Test func bundledScenariosPassAgainstTheReferenceReceiverWithAJUnitReport() async throws {
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-\(UUID().uuidString).xml")
            .path
        let files = try FileManager.default.contentsOfDirectory(atPath: TestSupport.path("scenarios")).filter {
            $0.hasSuffix(".yaml")
        }.sorted()
        let result = try await CLITests.ucpsim(
            ["run", "--report", report] + files.map { "scenarios/\($0)" }
        )
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("0 failed"))
        // The built-in receiver verifies without stalling the shop: nothing needed a retry.
        #expect(result.stdout.contains("retried 0, failed attempts 0, dead-lettered 0"), "\(result.stdout)")
        let xml = try String(contentsOfFile: report, encoding: .utf8)
        #expect(xml.contains("<testsuite name=\"happy-path\""))
        #expect(xml.contains("failures=\"0\""))
    }

    @Test func aFailedExpectationExitsOneWithAReadableFailure() async throws {
        let file = try TestSupport.scenarioFile(
            "orders:\n  - id: o1\n    items: [{ sku: mug, price: 100 }]\nsteps:\n  - place: o1\n    expect: 401\n"
        )
        let result = try await CLITests.ucpsim(["run", file.path, "--json"])
        #expect(result.status == 1)
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let rows = json?["results"] as? [[String: Any]]
        #expect(rows?.first?["expected"] as? String == "401" && rows?.first?["status"] as? Int == 200)
    }

    @Test func badScenarioExitsSixtyFiveAndUsageSixtyFour() async throws {
        let bad = try await CLITests.ucpsim(["run", "Package.swift"])
        #expect(bad.status == 65)
        #expect(bad.stderr.contains("Package.swift"))
        let both = try await CLITests.ucpsim([
            "run", "scenarios/happy-path.yaml", "--webhook-url", "http://a/", "--platform-profile", "http://b/",
        ]
        )
        #expect(both.status == 64)
    }

    /// A platform profile advertising the reference receiver: the shop discovers the webhook URL as a real one does.
    @Test func platformProfileDiscoversTheWebhookURL() async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let profile = """
            {"ucp":{"version":"2026-04-08","capabilities":{"dev.ucp.shopping.order":[{"version":"2026-04-08","config":{"webhook_url":"\(receiverServer.baseURL)/platform/hooks"}}]}}}
            """
        let router = Router()
        router.get("/.well-known/ucp") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: .init(string: profile))
            )
        }
        let platform = try await RunningServer.start(
            router: router,
            host: "127.0.0.1",
            port: 0,
            logger: TestSupport.quietLogger
        )
        let result = try await CLITests.ucpsim([
            "run", "scenarios/happy-path.yaml", "--platform-profile", "\(platform.baseURL)/.well-known/ucp",
        ]
        )
        await platform.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(receiver.received.count == 5)
        #expect(receiver.received.allSatisfy { $0.url.hasSuffix("/platform/hooks") && $0.status == 200 })
    }
}
