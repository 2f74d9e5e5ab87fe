import Foundation
import Testing
@testable import UCPSimKit

/// `ucpsim listen --secret`, the real binary: dialects picked by the headers, one line per webhook naming the
/// dialect, the event and the reason, and never a secret.
@Suite struct ListenHMACTests {
    /// A `ucpsim listen` process whose whole stdout is kept, read after it is stopped.
    final class Listener: Sendable {
        let baseURL: String
        private let process: ChildProcess
        private let output: Pipe
        private let firstLine: String

        static func start(arguments: [String]) async throws -> Listener {
            let process = ChildProcess()
            process.executableURL = URL(fileURLWithPath: CLITests.binary)
            process.arguments = ["listen", "--port", "0"] + arguments
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try TestSupport.start(process)
            let first = String(decoding: try await TestSupport.firstLine(of: output), as: UTF8.self)
            guard let start = first.range(of: "http://"), let end = first.range(of: " (POST") else {
                kill(process.processIdentifier, SIGKILL)
                throw UCPSimError(.unavailable, "listen did not start: \(first)")
            }
            return Listener(
                baseURL: String(first[start.lowerBound..<end.lowerBound]),
                process: process,
                output: output,
                firstLine: first
            )
        }

        private init(baseURL: String, process: ChildProcess, output: Pipe, firstLine: String) {
            self.baseURL = baseURL
            self.process = process
            self.output = output
            self.firstLine = firstLine
        }

        /// Stops it and returns every line it printed. Each line is written before the answer is sent, so every
        /// answered webhook's line is in the pipe.
        func stop() async throws -> [String] {
            kill(process.processIdentifier, SIGKILL)
            let (process, output) = (process, output)
            let rest = try await TestSupport.offPool {
                let data = TestSupport.readAll(output.fileHandleForReading)
                process.waitUntilExit()
                return data
            }
            return (firstLine + String(decoding: rest, as: UTF8.self)).split(separator: "\n").map(String.init)
        }
    }

    @Test func listenChecksBothHMACDialectsAndPrintsDialectEventAndReason() async throws {
        let now = Int64(Date().timeIntervalSince1970)
        let hmac = HMACReceiverTests.Unsigned(.ucpHMAC, id: "evt_cli_1")
        let standard = HMACReceiverTests.Unsigned(.standardWebhooks, id: "msg_cli_2")
        let stale = HMACReceiverTests.Unsigned(.standardWebhooks, id: "msg_cli_3", timestamp: now - 900)
        let signed = try await HMACReceiverTests.sign([hmac, standard, stale])
        let tampered = Array(
            String(decoding: hmac.body, as: UTF8.self).replacingOccurrences(of: "ord_", with: "ORD_").utf8
        )

        let listener = try await Listener.start(arguments: [
            "--secret", HMACReceiverTests.retired, "--secret", HMACReceiverTests.secret,
        ])
        let client = HTTPClient(workers: 1)
        let answers = try await HMACReceiverTests.post(
            [
                (signed[0], hmac.body), (signed[1], standard.body), (signed[1], standard.body),
                (signed[0], tampered), (signed[2], stale.body),
                (HTTPFieldList([("Content-Type", "application/json")]), hmac.body),
            ],
            to: "\(listener.baseURL)/webhooks",
            client: client
        )
        await client.shutdown()
        let lines = try await listener.stop()

        #expect(answers.map(\.status) == [200, 200, 200, 401, 401, 401])
        let expected = [
            "verified  dialect=ucp-hmac event=evt_cli_1 type=order.created secret=#2 -> 200",
            "verified  dialect=standard-webhooks event=msg_cli_2 type=order.created secret=#2 -> 200",
            "verified (duplicate)  dialect=standard-webhooks event=msg_cli_2 type=order.created secret=#2 -> 200",
            "rejected  signature_mismatch: no signature matches (wrong secret, or the body changed in transit) "
                + "(1 signature checked against 2 secrets)  dialect=ucp-hmac event=evt_cli_1 type=order.created -> 401",
            "rejected  timestamp_too_old: webhook-timestamp \(now - 900) is ",
            "rejected  signature_missing: no signature header: Signature-Input (ucp), UCP-Signature (ucp-hmac) or "
                + "webhook-signature (standard-webhooks)  webhook-id=- -> 401",
        ]
        // The first two lines: where it listens, and where its inspector is.
        #expect(lines.count == expected.count + 2, "\(lines)")
        #expect(lines.dropFirst().first?.hasPrefix("inspector: \(listener.baseURL)/ ") == true, "\(lines)")
        for (line, prefix) in zip(lines.dropFirst(2), expected) {
            #expect(line.hasPrefix(prefix), "\(line)")
        }
        #expect(
            lines.last(where: { $0.contains("timestamp_too_old") })?.hasSuffix(
                "dialect=standard-webhooks event=msg_cli_3 type=order.created -> 401"
            ) == true
        )
        let secretLeaks = lines.filter {
            $0.contains(HMACReceiverTests.secret) || $0.contains(HMACReceiverTests.retired)
                || $0.contains(String(HMACReceiverTests.secret.dropFirst(6)))
        }
        #expect(secretLeaks.isEmpty)
    }

    @Test func listenWithoutSecretRefusesHMACWebhooksSayingNoSecretIsConfigured() async throws {
        let standard = HMACReceiverTests.Unsigned(.standardWebhooks, id: "msg_cli_nosecret")
        let signed = try await HMACReceiverTests.sign([standard])
        let listener = try await Listener.start(arguments: [])
        let client = HTTPClient(workers: 1)
        let answers = try await HMACReceiverTests.post(
            [(signed[0], standard.body)],
            to: "\(listener.baseURL)/",
            client: client
        )
        await client.shutdown()
        let lines = try await listener.stop()

        #expect(answers.map(\.status) == [401])
        #expect(
            lines.last
                == "rejected  secret_not_configured: no secret is configured to check standard-webhooks signatures  "
                + "dialect=standard-webhooks event=msg_cli_nosecret type=order.created -> 401"
        )
    }

    @Test func aSecretThatGivesNoKeyIsAUsageErrorThatDoesNotEchoIt() async throws {
        let result = try await CLITests.ucpsim(["listen", "--secret", "whsec_c2hvcnQ="])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--secret #1: a secret must be 24 to 64 bytes"), "\(result.stderr)")
        #expect(!result.stderr.contains("c2hvcnQ"))
    }
}
