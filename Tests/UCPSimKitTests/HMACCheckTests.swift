import Foundation
import Testing
@testable import UCPSimKit

/// `ucpsim check --dialect ucp-hmac|standard-webhooks`: the shared-secret dialects' catalogs, graded over loopback
/// against an accept-everything receiver and an independent strict one (Tests/tools/hmac_receiver.py: the official
/// `standardwebhooks` library, Python's `hmac`).
@Suite struct HMACCheckTests {
    /// The cases a receiver must refuse, by id: an accept-everything receiver fails exactly these.
    static let forged: [DialectName: Set<String>] = [
        .ucpHMAC: [
            "body-tampered", "wrong-secret", "stale-timestamp", "future-timestamp", "timestamp-changed",
            "missing-signature", "signature-not-hex", "signature-without-timestamp", "unsupported-version",
            "reserialized",
        ],
        .standardWebhooks: [
            "body-tampered", "wrong-secret", "stale-timestamp", "future-timestamp", "timestamp-changed", "other-id",
            "missing-signature", "missing-id", "missing-timestamp", "signature-not-base64",
            "signature-without-version", "unsupported-version", "reserialized",
        ],
    ]

    static let dialects: [DialectName] = [.ucpHMAC, .standardWebhooks]

    /// A secret in the generated form, new per test.
    static func secret() -> String { WebhookSecret.generate().text }

    /// The `cases` of a `--json` run, by id.
    static func rows(_ stdout: String) throws -> [String: [String: Any]] {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        let rows = try #require(json["cases"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: rows.compactMap { row in (row["id"] as? String).map { ($0, row) } })
    }

    @Test(arguments: dialects)
    func everyCatalogHasAtLeastTwelveCasesAndTheForgedOnesAreRefusals(_ dialect: DialectName) throws {
        let cases = CheckCatalog.cases(for: dialect)
        #expect(cases.count >= 12)
        #expect(Set(cases.map(\.id)).count == cases.count)
        let refusals = Set(cases.filter { $0.expected == CheckCatalog.refused }.map(\.id))
        #expect(refusals == Self.forged[dialect])
        #expect(cases.allSatisfy { $0.expected == .accept || $0.expected == CheckCatalog.refused })
        #expect(CheckCatalog.refused.description == "400/401/403")
        #expect(CheckCatalog.cases(for: .ucp).map(\.id) == CheckCatalog.cases.map(\.id))
    }

    @Test(arguments: dialects)
    func anAcceptEverythingReceiverFailsExactlyTheForgedCases(_ dialect: DialectName) async throws {
        let naive = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let secret = Self.secret()
        let result = try await CLITests.ucpsim([
            "check", "--dialect", dialect.rawValue, "--secret", secret, "--webhook-url", naive.url, "--json",
        ])
        let received = naive.received
        await naive.stop()
        #expect(result.status == 1, "\(result.stderr)")
        let rows = try Self.rows(result.stdout)
        #expect(rows.count == CheckCatalog.cases(for: dialect).count)
        let failed = Set(rows.filter { $0.value["passed"] as? Bool == false }.map(\.key))
        #expect(failed == Self.forged[dialect])
        // One request per case, two for `duplicate`.
        #expect(received.count == rows.count + 1)
        #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))
    }

    /// Starts the strict receiver and returns it with its URL.
    static func strictReceiver(_ dialect: DialectName, secret: String) async throws -> (ChildProcess, String) {
        let receiver = ChildProcess()
        receiver.executableURL = URL(fileURLWithPath: TestSupport.python)
        receiver.arguments = [
            TestSupport.path("Tests/tools/hmac_receiver.py"), "serve", "--dialect", dialect.rawValue, "--secret",
            secret,
        ]
        let output = Pipe()
        receiver.standardOutput = output
        receiver.standardError = FileHandle.nullDevice
        try TestSupport.start(receiver)
        let first = try await TestSupport.firstLine(of: output)
        let port = try #require(Int(String(decoding: first, as: UTF8.self).split(separator: "\n").first ?? ""))
        return (receiver, "http://127.0.0.1:\(port)/webhooks")
    }

    @Test(arguments: dialects)
    func aStrictReceiverPassesEveryCaseAndProcessesEachEventOnce(_ dialect: DialectName) async throws {
        let secret = Self.secret()
        let (receiver, url) = try await Self.strictReceiver(dialect, secret: secret)
        // SIGKILL: a signal mask inherited from the test runner can leave SIGTERM blocked in the child.
        defer { if receiver.isRunning { kill(receiver.processIdentifier, SIGKILL) } }
        let result = try await CLITests.ucpsim([
            "check", "--dialect", dialect.rawValue, "--secret", secret, "--webhook-url", url,
        ])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let count = CheckCatalog.cases(for: dialect).count
        #expect(result.stdout.contains("grading \(url) in the \(dialect.rawValue) dialect (\(count) cases)"))
        #expect(result.stdout.contains("\(count) cases, \(count) passed, 0 failed"), "\(result.stdout)")
        #expect(result.stdout.contains("PASS  duplicate"))
        #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))

        // What the receiver processed: each accepted event with a known type once, the duplicate included.
        let client = HTTPClient(workers: 1)
        let processed = try await client.send(OutgoingRequest(method: "GET", url: url))
        await client.shutdown()
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(processed.body)) as? [String: Int])
        #expect(counts.count == 4, "valid, rotation, duplicate, late-retry: \(counts)")
        #expect(counts.values.allSatisfy { $0 == 1 })
    }

    /// ucpsim's own two sides agree: `check` in the dialect passes every case against `ucpsim listen --secret`.
    @Test(arguments: dialects)
    func checkPassesEveryCaseAgainstListen(_ dialect: DialectName) async throws {
        let secret = Self.secret()
        let listener = try await ListenHMACTests.Listener.start(arguments: ["--secret", secret])
        let result = try await CLITests.ucpsim([
            "check", "--dialect", dialect.rawValue, "--secret", secret, "--webhook-url", listener.baseURL,
        ])
        let lines = try await listener.stop()
        let count = CheckCatalog.cases(for: dialect).count
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("\(count) cases, \(count) passed, 0 failed"), "\(result.stdout)")
        #expect(!lines.joined().contains(secret))
    }

    /// The same strict receiver refuses everything when it holds another secret: `valid` fails with its 401.
    @Test func aReceiverWithAnotherSecretFailsTheValidCases() async throws {
        let (receiver, url) = try await Self.strictReceiver(.standardWebhooks, secret: Self.secret())
        defer { if receiver.isRunning { kill(receiver.processIdentifier, SIGKILL) } }
        let result = try await CLITests.ucpsim([
            "check", "--dialect", "standard-webhooks", "--secret", Self.secret(), "--webhook-url", url, "--only",
            "valid,wrong-secret",
        ])
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAIL  valid"), "\(result.stdout)")
        #expect(result.stdout.contains("got 401"))
        #expect(result.stdout.contains("PASS  wrong-secret"))
    }

    @Test func onlySkipReportAndJSONWorkPerDialect() async throws {
        let naive = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let report = TestSupport.temporaryDirectory() + ".xml"
        let selected = try await CLITests.ucpsim([
            "check", "--dialect", "ucp-hmac", "--secret", Self.secret(), "--webhook-url", naive.url, "--only",
            "valid,wrong-secret,rotation", "--skip", "rotation", "--report", report,
        ])
        #expect(selected.status == 1)
        #expect(selected.stdout.contains("2 cases, 1 passed, 1 failed"), "\(selected.stdout)")
        #expect(selected.stdout.contains("FAIL  wrong-secret  400/401/403"))
        let xml = try String(contentsOfFile: report, encoding: .utf8)
        #expect(xml.contains("tests=\"2\" failures=\"1\""))
        #expect(xml.contains("ucpsim check (ucp-hmac)"))

        let json = try await CLITests.ucpsim([
            "check", "--dialect", "standard-webhooks", "--secret", Self.secret(), "--webhook-url", naive.url, "--only",
            "other-id", "--json",
        ])
        await naive.stop()
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(document["dialect"] as? String == "standard-webhooks")
        let rows = try Self.rows(json.stdout)
        #expect(rows.keys.sorted() == ["other-id"])
        #expect(rows["other-id"]?["statuses"] as? [Int] == [200])
        #expect(rows["other-id"]?["expected"] as? String == "400/401/403")

        // A ucp-only id is not in the other catalogs.
        let unknown = try await CLITests.ucpsim([
            "check", "--dialect", "standard-webhooks", "--secret", Self.secret(), "--webhook-url", naive.url,
            "--only", "der-signature",
        ])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("unknown case id(s) der-signature; the ids: valid, body-tampered"))
    }

    struct BadInput: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        let message: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let shortSecret = "whsec_" + Data(repeating: 7, count: 16).base64EncodedString()

    @Test(arguments: [
        BadInput(
            arguments: ["--dialect", "ucp-hmac", "--webhook-url", "http://127.0.0.1:9/h"],
            message: "--dialect ucp-hmac needs --secret"
        ),
        BadInput(
            arguments: ["--dialect", "standard-webhooks", "--webhook-url", "http://127.0.0.1:9/h"],
            message: "--dialect standard-webhooks needs --secret"
        ),
        BadInput(arguments: ["--dialect", "svix", "--secret", "x"], message: "svix"),
        BadInput(
            arguments: ["--dialect", "standard-webhooks", "--secret", shortSecret, "--webhook-url", "http://h/"],
            message: "gives 16 key bytes"
        ),
        BadInput(
            arguments: [
                "--dialect", "standard-webhooks", "--secret", "not base64 at all!", "--webhook-url", "http://h/",
            ],
            message: "not whsec_ followed by base64"
        ),
        BadInput(arguments: ["--secret", "whsec_abc"], message: "--secret applies to --dialect ucp-hmac"),
        BadInput(
            arguments: ["--dialect", "ucp-hmac", "--secret", shortSecret + shortSecret],
            message: "needs --webhook-url or --platform-profile"
        ),
        BadInput(
            arguments: ["--dialect", "ucp-hmac", "--secret", shortSecret + shortSecret, "--export", "/tmp/never"],
            message: "--secret is for grading a receiver, and is never written"
        ),
    ])
    func badOptionsAreOneLineAndExit64(_ input: BadInput) async throws {
        let result = try await CLITests.ucpsim(["check"] + input.arguments)
        #expect(result.status == 64, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains(input.message), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && result.stdout.isEmpty)
        // The secret is never echoed back, not even when it is refused.
        if let index = input.arguments.firstIndex(of: "--secret"), input.arguments[index + 1].count > 8 {
            #expect(!result.stderr.contains(input.arguments[index + 1]))
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never"))
    }

    /// The exported vectors verify, or fail, as labelled: checked by the strict receiver's verifier (the official
    /// `standardwebhooks` library with its clock set to the vector's `now`; Python's `hmac`), with the throw-away
    /// secret written in each file. The same seed writes the same files; the secret follows from the seed.
    @Test(arguments: dialects)
    func exportedVectorsVerifyAsLabelledAndFollowFromTheSeed(_ dialect: DialectName) async throws {
        func export(_ seed: String) async throws -> (String, [String: Data]) {
            let directory = TestSupport.temporaryDirectory()
            let result = try await CLITests.ucpsim([
                "check", "--dialect", dialect.rawValue, "--export", directory, "--seed", seed,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("signed with a throw-away secret written into each file"))
            var files: [String: Data] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
                files[name] = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)"))
            }
            return (directory, files)
        }
        let (directory, files) = try await export("7")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(files.count == CheckCatalog.cases(for: dialect).count)
        #expect(try await export("7").1 == files)
        #expect(try await export("8").1["valid.json"] != files["valid.json"])
        let secret = CheckExport.vectorSecret(dialect, seed: 7).text
        #expect(secret != CheckExport.vectorSecret(dialect, seed: 8).text)
        var signatureLabels: [String: Bool] = [:]
        var requestLabels: [String: Bool] = [:]
        for name in files.keys {
            let file = try #require(files[name])
            let vector = try #require(try JSONSerialization.jsonObject(with: file) as? [String: Any])
            #expect(vector["secret"] as? String == secret && vector["dialect"] as? String == dialect.rawValue)
            #expect(vector["jwks"] == nil && vector["tolerance_seconds"] as? Int == 300)
            #expect(vector["now"] as? Int64 == CheckExport.now)
            signatureLabels["\(directory)/\(name)"] = try #require(vector["signature_verifies"] as? Bool)
            requestLabels["\(directory)/\(name)"] = try #require(vector["request_verifies"] as? Bool)
        }
        /// The verifier's verdict per file: true when it verified.
        func verdicts(_ options: [String]) async throws -> [String: Bool] {
            let result = try await TestSupport.run(
                TestSupport.python,
                [TestSupport.path("Tests/tools/hmac_receiver.py"), "verify", "--dialect", dialect.rawValue, "--secret"]
                    + [secret] + options + files.keys.sorted().map { "\(directory)/\($0)" }
            )
            #expect(result.status <= 1, "\(result.stderr)")
            var verdicts: [String: Bool] = [:]
            for line in result.stdout.split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                verdicts[String(line[..<colon])] = line[colon...].hasPrefix(": verified")
            }
            return verdicts
        }
        #expect(try await verdicts(["--signature-only"]) == signatureLabels)
        #expect(try await verdicts(["--now", String(CheckExport.now)]) == requestLabels)
    }

    /// Each forged request carries its fault, on the wire form the dialect sends.
    @Test func theForgedRequestsCarryTheirFaults() throws {
        let secret = WebhookSecret("whsec_" + Data(repeating: 1, count: 32).base64EncodedString())
        let other = WebhookSecret("whsec_" + Data(repeating: 2, count: 32).base64EncodedString())
        let target = try RequestTarget("https://platform.example.com/hooks")
        let order = try HMACCheckSession.order(id: "ord_1", at: 1_775_913_000, baseURL: "https://shop.example.com")
        let now: Int64 = 1_775_913_000
        func request(_ dialect: any WebhookDialect, _ id: String) throws -> OutgoingRequest {
            let forge = HMACForge(dialect: dialect, secret: secret, otherSecret: other)
            let message = try forge.event(id, id: "evt_1", order: order, occurredAt: now)
            return try forge.request(id, message: message, to: target, now: now)
        }
        let sw = StandardWebhooksDialect()
        let valid = try request(sw, "valid")
        let signature = try #require(valid.headers["webhook-signature"])
        #expect(signature.hasPrefix("v1,") && valid.headers["webhook-id"] == "evt_1")
        let rotation = try #require(try request(sw, "rotation").headers["webhook-signature"])
        let entries = rotation.split(separator: " ")
        #expect(entries.count == 3 && entries[1].hasPrefix("v1a,") && String(entries[2]) == signature)
        #expect(try request(sw, "unsupported-version").headers["webhook-signature"] == "v2," + signature.dropFirst(3))
        let otherID = try request(sw, "other-id")
        #expect(otherID.headers["webhook-id"] == "evt_1" && otherID.headers["webhook-signature"] != signature)
        #expect(try request(sw, "timestamp-changed").headers["webhook-timestamp"] == String(now - 1))
        let reserialized = try request(sw, "reserialized").body
        #expect(reserialized != valid.body)
        let reparsed = try #require(try JSONSerialization.jsonObject(with: Data(reserialized)) as? [String: Any])
        let original = try #require(try JSONSerialization.jsonObject(with: Data(valid.body)) as? [String: Any])
        #expect(NSDictionary(dictionary: reparsed).isEqual(to: original))
        let unknown = try JSONSerialization.jsonObject(with: Data(try request(sw, "unknown-event-type").body))
        #expect((unknown as? [String: Any])?["type"] as? String == HMACForge.unknownEventType)
        let tampered = try JSONSerialization.jsonObject(with: Data(try request(sw, "body-tampered").body))
        #expect((tampered as? [String: Any])?["type"] as? String == "order.updated")

        let hmac = UCPHMACDialect()
        let header = try #require(try request(hmac, "valid").headers["ucp-signature"])
        #expect(header.hasPrefix("t=\(now),v1="))
        let mac = String(header.dropFirst("t=\(now),v1=".count))
        #expect(try request(hmac, "signature-without-timestamp").headers["ucp-signature"] == "v1=" + mac)
        #expect(
            try request(hmac, "signature-not-hex").headers["ucp-signature"]
                == "t=\(now),v1=" + Data(HMACForge.bytes(hex: mac)).base64EncodedString()
        )
        #expect(try request(hmac, "unsupported-version").headers["ucp-signature"] == "t=\(now),v2=" + mac)
        #expect(try request(hmac, "timestamp-changed").headers["ucp-signature"] == "t=\(now - 1),v1=" + mac)
        let hmacRotation = try #require(try request(hmac, "rotation").headers["ucp-signature"])
        #expect(hmacRotation.hasPrefix("t=\(now),v1=") && hmacRotation.hasSuffix(",v1=" + mac))
        let late = try JSONSerialization.jsonObject(with: Data(try request(hmac, "late-retry").body))
        #expect((late as? [String: Any])?["timestamp"] as? String == "2026-04-11T07:10:00Z")
        #expect(try request(hmac, "stale-timestamp").headers["ucp-signature"]?.hasPrefix("t=\(now - 600),") == true)
    }
}
