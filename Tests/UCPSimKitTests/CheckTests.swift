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
        client.shutdown()
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

    /// The exported vectors verify, or fail, as labelled — by the independent PyPI verifier and by ours.
    @Test func exportedVectorsVerifyAsLabelledByAnIndependentImplementation() async throws {
        let directory = TestSupport.temporaryDirectory()
        let exported = try await CLITests.ucpsim(["check", "--export", directory])
        #expect(exported.status == 0, "\(exported.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }
        #expect(files.count == CheckCatalog.cases.count)
        for file in files.sorted() {
            let vector = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(file)")))
                    as? [String: Any]
            )
            let label = try #require(vector["signature_verifies"] as? Bool)
            let requestFile = try TestSupport.temporaryJSON(vector["request"]!, name: "request.json")
            let jwksFile = try TestSupport.temporaryJSON(vector["jwks"]!, name: "jwks.json")
            let independent = try await TestSupport.run(
                TestSupport.python,
                [InteropTests.verifier, requestFile, jwksFile, "--max-age", "none"]
            )
            #expect(
                (independent.status == 0) == label,
                "\(file): labelled \(label), independent verifier: \(independent.stdout)"
            )
            #expect(independent.status != 2, "\(file): \(independent.stderr)")

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
            let ours = (try? MessageVerifier().verify(message, body: body, keys: jwks)) != nil
            #expect(ours == label, "\(file): labelled \(label), ucpsim's verifier disagrees")
        }
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
