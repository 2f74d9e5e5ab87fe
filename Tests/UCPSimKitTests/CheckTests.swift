import Foundation
import Testing
@testable import UCPSimKit

@Suite struct CheckTests {
    @Test func theReferenceReceiverPassesTheWholeCatalog() async throws {
        let (_, server, client) = try await TestSupport.startReceiver()
        let session = try await CheckSession.start(logger: TestSupport.quietLogger)
        let results = try await session.run(CheckCatalog.cases, target: try RequestTarget("\(server.baseURL)/hooks"))
        await session.stop()
        await server.stop()
        await client.shutdown()
        #expect(results.count == CheckCatalog.cases.count)
        for result in results where !result.passed {
            Issue.record("\(result.checkCase.id): expected \(result.checkCase.expected), \(result.note)")
        }
        #expect(results.first { $0.checkCase.id == "another-shop" }?.statuses == [403])
        #expect(results.first { $0.checkCase.id == "profile-unreachable" }?.code == "profile_unreachable")
    }

    @Test func anAcceptEverythingReceiverFailsExactlyTheForgedCases() async throws {
        let naive = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let result = try await CLITests.ucpsim(["check", "--webhook-url", naive.url, "--json"])
        await naive.stop()
        #expect(result.status == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let rows = try #require(json["cases"] as? [[String: Any]])
        let failed = Set(rows.filter { $0["passed"] as? Bool == false }.compactMap { $0["id"] as? String })
        let mustReject = Set(
            CheckCatalog.cases.filter { if case .reject = $0.expected { return true } else { return false } }.map(\.id)
        )
        #expect(failed == mustReject)
    }

    /// Runs `ids` against a scripted receiver and returns the results by case id.
    static func grade(
        _ ids: [String],
        answer: @escaping @Sendable (ScriptedReceiver.Received) -> ScriptedReceiver.Answer
    )
        async throws -> [String: CheckResult]
    {
        let receiver = try await ScriptedReceiver.start { _, received in answer(received) }
        let session = try await CheckSession.start(logger: TestSupport.quietLogger)
        let cases = CheckCatalog.cases.filter { ids.contains($0.id) }
        let results = try await session.run(cases, target: try RequestTarget(receiver.url))
        await session.stop()
        await receiver.stop()
        return Dictionary(uniqueKeysWithValues: results.map { ($0.checkCase.id, $0) })
    }

    static func error(_ status: Int, _ code: String) -> ScriptedReceiver.Answer {
        .init(status: status, body: "{\"code\":\"\(code)\"}")
    }

    /// Status and code are both graded where the spec names a code; the note says what came back.
    @Test func gradingLooksAtTheStatusAndTheCode() async throws {
        let ids = [
            "body-tampered", "missing-signature", "der-signature", "ed25519-key", "missing-webhook-id",
            "created-in-future", "another-shop",
        ]
        let invalid = try await Self.grade(ids) { _ in Self.error(401, "signature_invalid") }
        #expect(invalid["der-signature"]?.passed == true)
        #expect(invalid["missing-signature"]?.passed == false)
        #expect(invalid["missing-signature"]?.note == "got 401 signature_invalid")
        #expect(invalid["body-tampered"]?.passed == false)
        // No code in the spec: the status alone is graded, and the note says so.
        #expect(invalid["created-in-future"]?.passed == true)
        #expect(invalid["created-in-future"]?.note.contains("the spec names no error code") == true)
        #expect(invalid["another-shop"]?.passed == true)
        #expect(invalid["ed25519-key"]?.passed == false)

        let wrongCode = try await Self.grade(ids) { _ in Self.error(400, "invalid_request") }
        #expect(wrongCode["body-tampered"]?.passed == false)
        #expect(wrongCode["body-tampered"]?.note == "got 400 invalid_request")
        #expect(wrongCode["missing-webhook-id"]?.passed == true)
        #expect(wrongCode["ed25519-key"]?.passed == false)

        // An optional algorithm: 2xx or exactly 400 algorithm_unsupported; the note reports the real answer.
        let malformed = try await Self.grade(["ed25519-key"]) { _ in Self.error(422, "profile_malformed") }
        #expect(malformed["ed25519-key"]?.passed == false)
        #expect(malformed["ed25519-key"]?.note == "got 422 profile_malformed")
        let unsupported = try await Self.grade(["ed25519-key"]) { _ in Self.error(400, "algorithm_unsupported") }
        #expect(unsupported["ed25519-key"]?.passed == true)
        #expect(
            unsupported["ed25519-key"]?.note
                == "got 400 algorithm_unsupported: the receiver does not support it, which the spec allows"
        )
        let noCode = try await Self.grade(["body-tampered"]) { _ in .init(status: 400) }
        #expect(noCode["body-tampered"]?.passed == false)
        #expect(noCode["body-tampered"]?.note == "got 400 (no code)")
    }

    /// A receiver that holds Webhook-Timestamp to a five-minute window (Standard Webhooks' habit) fails
    /// `late-retry`: in UCP it is the event's time, the same on every retry, so old values are legitimate.
    @Test func aFiveMinuteWindowOnWebhookTimestampFailsLateRetry() async throws {
        let ids = ["valid", "late-retry", "created-in-future", "signature-expired"]
        let windowed = try await Self.grade(ids) { received in
            let age = Int64(Date().timeIntervalSince1970) - (Int64(received.timestamp) ?? 0)
            return age > 300 ? Self.error(400, "invalid_request") : .init(status: 200)
        }
        #expect(windowed["valid"]?.passed == true)
        #expect(windowed["late-retry"]?.passed == false)
        #expect(windowed["late-retry"]?.note.contains("five-minute window") == true)
        // Such a receiver never looks at the signature's own times.
        #expect(windowed["created-in-future"]?.passed == false)
        #expect(windowed["signature-expired"]?.passed == false)
    }

    /// The reference receiver's verifier: `created` up to 60 s ahead and `expires` up to 60 s behind pass; beyond
    /// that `signature_invalid`; `Webhook-Timestamp` is never held to the clock.
    @Test func theVerifierAllowsSixtySecondsOfClockSkew() throws {
        let key = try SigningKey.generate(.es256, kid: "k")
        let sender = WebhookSender(client: HTTPClient(workers: 1), signer: MessageSigner(key: key), profileURL: "x")
        defer { sender.client.shutdown() }
        let target = try RequestTarget("https://platform.example.com/hooks")
        let now: Int64 = 1_775_913_000
        let old = WebhookEvent(timestamp: now - 30 * 86_400, orderID: "o", body: Array("{}".utf8))
        func verdict(created: Int64, expires: Int64? = nil) throws -> String {
            let message = SignableMessage(method: "POST", target: target, headers: sender.unsignedHeaders(for: old))
            var parameters = sender.signer.webhookParameters(for: message, created: created)
            parameters.expires = expires
            let values = try sender.signer.sign(message, parameters: parameters)
            var headers = message.headers
            headers.append("Signature-Input", values.signatureInput)
            headers.append("Signature", values.signature)
            let signed = SignableMessage(method: "POST", target: target, headers: headers)
            do {
                return try MessageVerifier(now: now).verify(signed, body: old.body, keys: [try key.publicJWK()])
            } catch let failure as SignatureFailure {
                return failure.reason.rawValue
            }
        }
        #expect(try verdict(created: now) == "k")
        #expect(try verdict(created: now + 60) == "k")
        #expect(try verdict(created: now + 61) == "signature_invalid")
        #expect(try verdict(created: now - 86_400 * 365) == "k")
        #expect(try verdict(created: now - 600, expires: now - 60) == "k")
        #expect(try verdict(created: now - 600, expires: now - 61) == "signature_invalid")
    }

    @Test func onlySkipAndReportSelectCases() async throws {
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-\(UUID().uuidString).xml")
            .path
        let result = try await CLITests.ucpsim([
            "check", "--only", "valid,der-signature,duplicate", "--skip", "duplicate", "--report", report,
        ])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("2 cases, 2 passed"))
        let xml = try String(contentsOfFile: report, encoding: .utf8)
        #expect(xml.contains("tests=\"2\" failures=\"0\""))
        let unknown = try await CLITests.ucpsim(["check", "--only", "teleport"])
        #expect(unknown.status == 64 && unknown.stderr.contains("unknown case id(s) teleport"))
    }

    /// An empty or mistyped selection (an unset CI variable) is a usage error, never a pass with 0 cases.
    @Test(arguments: [
        (["--only", ""], "--only \"\" names no case id"),
        (["--skip", ""], "--skip \"\" names no case id"),
        (["--only", " , "], "names no case id"),
        (["--only", "bogus,valid,nope"], "unknown case id(s) bogus, nope"),
        (["--skip", "valid,bogus"], "unknown case id(s) bogus"),
        (["--only", "valid", "--skip", "valid"], "nothing to run"),
        (["--only", "valid,duplicate", "--skip", "duplicate,valid"], "(duplicate, valid): nothing to run"),
    ])
    func aSelectionThatRunsNothingIsAUsageError(_ arguments: [String], _ message: String) async throws {
        let result = try await CLITests.ucpsim(["check"] + arguments)
        #expect(result.status == 64, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.hasPrefix("ucpsim: error: ") && result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!result.stdout.contains("0 cases"))
    }

    /// The id and expected columns are sized from the content: the note never runs into the expectation.
    @Test func theTableColumnsNeverCollide() async throws {
        let ids = ["valid", "ed25519-key", "coverage-without-content-digest", "missing-content-digest"]
        let result = try await CLITests.ucpsim(["check", "--only", ids.joined(separator: ",")])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let rows = result.stdout.split(separator: "\n").filter { $0.hasPrefix("PASS") || $0.hasPrefix("FAIL") }
        #expect(rows.count == ids.count)
        var noteColumns: Set<Int> = []
        for row in rows {
            let checkCase = try #require(CheckCatalog.cases.first { row.contains(" \($0.id) ") })
            let expected = try #require(row.range(of: "  " + checkCase.expected.description + "  "))
            let note = try #require(row.range(of: "got ", range: expected.upperBound..<row.endIndex))
            #expect(row[expected.upperBound..<note.lowerBound].allSatisfy { $0 == " " }, "\(row)")
            noteColumns.insert(row.distance(from: row.startIndex, to: note.lowerBound))
        }
        #expect(noteColumns.count == 1, "\(result.stdout)")
    }

    /// The exported vectors verify, or fail, as labelled — by the independent PyPI verifier and by ours: the
    /// signature alone (`signature_verifies`), and the whole UCP check at the vector's `now` (`request_verifies`).
    @Test func exportedVectorsVerifyAsLabelledByAnIndependentImplementation() async throws {
        let directory = TestSupport.temporaryDirectory()
        let exported = try await CLITests.ucpsim(["check", "--export", directory, "--seed", "11"])
        #expect(exported.status == 0, "\(exported.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }
        #expect(files.count == CheckCatalog.cases.count)
        var labels: [String: (Bool, Bool)] = [:]
        for file in files.sorted() {
            let vector = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(file)")))
                    as? [String: Any]
            )
            let signatureLabel = try #require(vector["signature_verifies"] as? Bool)
            let requestLabel = try #require(vector["request_verifies"] as? Bool)
            let now = try #require(vector["now"] as? Int)
            labels[vector["id"] as! String] = (signatureLabel, requestLabel)
            let requestFile = try TestSupport.temporaryJSON(vector["request"]!, name: "request.json")
            let jwksFile = try TestSupport.temporaryJSON(vector["jwks"]!, name: "jwks.json")
            let signatureOnly = try await TestSupport.run(
                TestSupport.python,
                [InteropTests.verifier, requestFile, jwksFile, "--signature-only"]
            )
            #expect(
                (signatureOnly.status == 0) == signatureLabel,
                "\(file): signature_verifies \(signatureLabel), independent verifier: \(signatureOnly.stdout)"
            )
            let whole = try await TestSupport.run(
                TestSupport.python,
                [InteropTests.verifier, requestFile, jwksFile, "--now", String(now), "--max-age", "none"]
            )
            #expect(
                (whole.status == 0) == requestLabel,
                "\(file): request_verifies \(requestLabel), independent verifier: \(whole.stdout)"
            )
            #expect(signatureOnly.status != 2 && whole.status != 2, "\(file): \(signatureOnly.stderr)\(whole.stderr)")

            let request = vector["request"] as! [String: Any]
            let headers = HTTPFieldList((request["headers"] as! [[String]]).map { ($0[0], $0[1]) })
            let jwks = try JSONDecoder().decode(
                [String: [JWK]].self,
                from: JSONSerialization.data(withJSONObject: vector["jwks"]!)
            )["keys"]!
            let message = SignableMessage(
                method: "POST",
                target: try RequestTarget(request["url"] as! String),
                headers: headers
            )
            let body = [UInt8](Data(base64Encoded: request["body_base64"] as! String)!)
            let verifier = MessageVerifier(now: Int64(now))
            #expect(((try? verifier.verifySignatureOnly(message, keys: jwks)) != nil) == signatureLabel, "\(file)")
            #expect(((try? verifier.verify(message, body: body, keys: jwks)) != nil) == requestLabel, "\(file)")
        }
        // What the labels mean: a tampered body or an uncovered header leaves the signature itself valid.
        #expect(labels["body-tampered"]! == (true, false))
        #expect(labels["coverage-without-ucp-agent"]! == (true, false))
        #expect(labels["created-in-future"]! == (true, false))
        #expect(labels["late-retry"]! == (true, true))
        #expect(labels["der-signature"]! == (false, false))
    }

    /// `--seed N` writes byte-identical files (keys, Webhook-Ids, times, ES256 signatures); without it the seed used
    /// is printed, and giving it back writes the same files again.
    @Test func exportIsReproducibleFromItsSeed() async throws {
        func export(_ arguments: [String]) async throws -> (directory: String, stdout: String, files: [String: Data]) {
            let directory = TestSupport.temporaryDirectory()
            let result = try await CLITests.ucpsim(["check", "--export", directory] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            var files: [String: Data] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
                files[name] = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)"))
            }
            return (directory, result.stdout, files)
        }
        let first = try await export(["--seed", "42"])
        let second = try await export(["--seed", "42"])
        #expect(first.files.count == CheckCatalog.cases.count)
        #expect(first.files == second.files)
        let other = try await export(["--seed", "43"])
        #expect(other.files["valid.json"] != first.files["valid.json"])
        let random = try await export([])
        let seed = try #require(random.stdout.firstMatch(of: /\(seed (\d+);/)?.1)
        let again = try await export(["--seed", String(seed)])
        #expect(random.files == again.files)
    }

    /// RFC 6979 A.2.5 (P-256, SHA-256, "sample") and RFC 8032 §7.1 test 1: the derived keys sign as those RFCs say.
    @Test func derivedKeysSignDeterministicallyAsTheRFCsSay() throws {
        func bytes(_ hex: String) -> [UInt8] {
            var result: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                result.append(UInt8(hex[index..<next], radix: 16)!)
                index = next
            }
            return result
        }
        let p256 = try #require(
            try SigningKey.derived(
                .es256,
                kid: "rfc6979",
                secret: bytes("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
            )
        )
        let signature = try p256.sign(Array("sample".utf8))
        #expect(
            signature
                == bytes(
                    "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
                        + "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
                )
        )
        #expect(try p256.publicKey().verify(signature: signature, message: Array("sample".utf8)))
        #expect(try p256.publicJWK().x == "YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y")
        let ed25519 = try #require(
            try SigningKey.derived(
                .ed25519,
                kid: "rfc8032",
                secret: bytes("9D61B19DEFFD5A60BA844AF492EC2CC44449C5697B326919703BAC031CAE7F60")
            )
        )
        #expect(try ed25519.publicJWK().x == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        // Out of range for P-256: zero, and the group order itself.
        #expect(try SigningKey.derived(.es256, kid: "zero", secret: [UInt8](repeating: 0, count: 32)) == nil)
        #expect(try SigningKey.derived(.es256, kid: "n", secret: SigningKey.p256Order) == nil)
    }

    @Test func anUnwritableExportDirectoryIsOneLineAndExit73() async throws {
        let parent = TestSupport.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let file = "\(parent)/regular-file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        for target in ["\(file)/vectors", "\(file)/a/b", file] {
            let result = try await CLITests.ucpsim(["check", "--export", target])
            #expect(result.status == 73, "\(target): \(result.stderr)")
            #expect(result.stderr.hasPrefix("ucpsim: error: cannot write \(target): "), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1 && !result.stderr.contains("NSCocoaErrorDomain"))
            #expect(result.stdout.isEmpty)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == ["regular-file"])
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "x")
    }

    /// Each case's request carries the fault it names, and only that one.
    @Test func everyForgedRequestCarriesItsFault() async throws {
        let session = try await CheckSession.start(logger: TestSupport.quietLogger)
        let target = try RequestTarget("http://127.0.0.1:9/hooks")
        let order = try session.snapshots()
        let event = WebhookEvent(timestamp: 1_775_913_000, orderID: order.id, body: order.placed)
        var requests: [String: OutgoingRequest] = [:]
        for id in CheckCatalog.cases.map(\.id) {
            requests[id] = try session.forge.request(id, event: event, to: target, created: 1_775_913_000)
        }
        let keys = session.shop.publisher.profile.keys
        await session.stop()

        func verify(_ id: String, keys: [JWK] = keys) -> String {
            let request = requests[id]!
            let message = SignableMessage(method: "POST", target: target, headers: request.headers)
            do {
                return try MessageVerifier().verify(message, body: request.body, keys: keys)
            } catch {
                return error.reason.rawValue
            }
        }
        #expect(verify("valid") == "check-es256")
        #expect(verify("body-tampered") == "digest_mismatch" && requests["body-tampered"]!.body != order.placed)
        #expect(verify("digest-other-body") == "digest_mismatch" && requests["digest-other-body"]!.body == order.placed)
        #expect(requests["digest-extra-member"]!.headers["content-digest"]!.contains("sha-512=:"))
        #expect(verify("digest-extra-member") == "digest_mismatch")
        for (id, header) in [
            ("missing-signature", "signature"), ("missing-signature-input", "signature-input"),
            ("missing-content-digest", "content-digest"), ("missing-ucp-agent", "ucp-agent"),
            ("missing-webhook-id", "webhook-id"), ("missing-webhook-timestamp", "webhook-timestamp"),
        ] {
            #expect(requests[id]!.headers[header] == nil, "\(id) still carries \(header)")
            #expect(requests["valid"]!.headers[header] != nil)
        }
        #expect(requests["coverage-without-ucp-agent"]!.headers["signature-input"]!.contains("\"ucp-agent\"") == false)
        #expect(verify("coverage-without-ucp-agent") == "coverage_insufficient")
        #expect(
            requests["coverage-without-content-digest"]!.headers["signature-input"]!.contains("\"content-digest\"")
                == false
        )
        let der = requests["der-signature"]!.headers["signature"]!
        let derBytes = [UInt8](Data(base64Encoded: String(der.dropFirst("sig1=:".count).dropLast()))!)
        #expect(derBytes.first == 0x30 && derBytes.count != 64)
        #expect(verify("der-signature") == "signature_invalid")
        #expect(verify("unpublished-key") == "key_not_found")
        #expect(verify("ed25519-key") == "check-ed25519")
        #expect(
            UCPAgent.profileURL(from: requests["profile-not-well-known"]!.headers["ucp-agent"]!)!.hasSuffix(
                "/ucp-profile.json"
            )
        )
        #expect(
            UCPAgent.profileURL(from: requests["profile-unreachable"]!.headers["ucp-agent"]!)
                == "http://127.0.0.1:1/.well-known/ucp"
        )
        #expect(requests["another-shop"]!.headers["signature-input"]!.contains("keyid=\"other-shop-es256\""))
        let whitespace = requests["whitespace"]!.body
        #expect(whitespace != order.placed && whitespace.contains(UInt8(ascii: "\n")))
        #expect(
            NSDictionary(dictionary: try JSONSerialization.jsonObject(with: Data(whitespace)) as! [String: Any])
                .isEqual(to: try JSONSerialization.jsonObject(with: Data(order.placed)) as! [String: Any])
        )
        #expect(verify("whitespace") == "check-es256")
        let unknown = try RequestForge.withUnknownFields(order.placed)
        #expect(String(decoding: unknown, as: UTF8.self).contains("drone_dropoff"))
    }

    @Test func scenariosCanInjectCatalogFaults() async throws {
        let result = try await CLITests.ucpsim(["run", "scenarios/faults.yaml"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("ship [body-tampered]  400"))
        do {
            _ = try Scenario.parse(
                "orders:\n  - id: o1\n    items: [{ sku: a, price: 1 }]\nsteps:\n  - place: o1\n    mutate: teleport",
                file: "m.yaml"
            )
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("m.yaml:6: step 1: mutate: \"teleport\" is not one of"))
        }
    }
}
