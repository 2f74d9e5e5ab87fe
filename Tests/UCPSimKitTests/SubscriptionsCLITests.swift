import Foundation
import Testing
@testable import UCPSimKit

/// `ucpsim subscriptions` and `ucpsim serve`'s `/v1/webhooks`, as real processes of the built binary on one state
/// directory: each sees the other's changes, and what was committed survives a SIGKILL.
@Suite struct SubscriptionsCLITests {
    static func ucpsim(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await TestSupport.run(CLITests.binary, arguments)
    }

    static func field(_ name: String, in output: String) -> String? {
        output.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }).map {
            $0.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
        }
    }

    @Test func addListShowUpdateRemoveOnTheStateDirectory() async throws {
        let state = SubscriptionRegistryTests.temporaryDirectory()
        let none = try await Self.ucpsim(["subscriptions", "list", "--state", state])
        #expect(none.status == 66 && none.stderr.hasPrefix("ucpsim: error: no state database"), "\(none.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state))

        let added = try await Self.ucpsim([
            "subscriptions", "add", "--state", state, "--url", "https://platform.example/hooks",
            "--event-type", "order.created", "--event-type", "payment.status_changed", "--dialect", "standard-webhooks",
            "--description", "payments team",
        ])
        #expect(added.status == 0, "\(added.stderr)")
        let id = try #require(Self.field("id", in: added.stdout))
        let secret = try #require(Self.field("secret_key", in: added.stdout))
        #expect(id.hasPrefix("sub_") && secret.hasPrefix("whsec_"))
        #expect(Self.field("event_types", in: added.stdout) == "order.created, payment.status_changed")
        #expect(added.stderr.contains("shown this once"))
        let path = ShopDatabase.path(in: state)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)

        let listed = try await Self.ucpsim(["subscriptions", "list", "--state", state])
        #expect(listed.status == 0)
        let lines = listed.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("ID") == true && lines.last == "1 subscription(s)")
        #expect(lines.contains { $0.hasPrefix(id) && $0.contains("standard-webhooks") && $0.contains("payments team") })
        let shown = try await Self.ucpsim(["subscriptions", "show", id, "--state", state])
        #expect(shown.status == 0 && Self.field("url", in: shown.stdout) == "https://platform.example/hooks")
        let json = try await Self.ucpsim(["subscriptions", "list", "--state", state, "--json"])
        for output in [listed.stdout, shown.stdout, json.stdout] {
            #expect(!output.contains(secret) && !output.contains("secret_key"), "\(output)")
        }

        let updated = try await Self.ucpsim([
            "subscriptions", "update", id, "--state", state, "--disable", "--event-type", "*", "--rotate-secret",
        ])
        #expect(updated.status == 0, "\(updated.stderr)")
        let rotated = try #require(Self.field("secret_key", in: updated.stdout))
        #expect(rotated != secret && rotated.hasPrefix("whsec_"))
        #expect(Self.field("enabled", in: updated.stdout) == "no")
        #expect(Self.field("event_types", in: updated.stdout) == EventType.names.joined(separator: ", "))
        let plain = try await Self.ucpsim(["subscriptions", "update", id, "--state", state, "--enable"])
        #expect(plain.status == 0 && Self.field("secret_key", in: plain.stdout) == nil)

        let removed = try await Self.ucpsim(["subscriptions", "remove", id, "--state", state])
        #expect(removed.status == 0 && removed.stdout == "removed \(id)\n")
        for command in [["show", id], ["update", id, "--enable"], ["remove", id]] {
            let gone = try await Self.ucpsim(["subscriptions"] + command + ["--state", state])
            #expect(gone.status == 66, "\(command)")
            #expect(gone.stderr.hasPrefix("ucpsim: error: no subscription \(id)"), "\(gone.stderr)")
            #expect(gone.stdout.isEmpty)
        }
    }

    @Test(arguments: [
        (["--url", "http://platform.example/h", "--event-type", "*"], "--url must be https"),
        (["--url", "https://p.example/h"], "--event-type must name at least one event type"),
        (["--url", "https://p.example/h", "--event-type", "order.lost"], "--event-type (#1) must be one of"),
        (
            ["--url", "https://p.example/h", "--event-type", "*", "--secret", "short"],
            "--secret is unusable for the ucp dialect: it gives 5 key bytes"
        ),
        (["--url", "https://p.example/h", "--event-type", "*", "--dialect", "svix"], "--dialect"),
    ])
    func addRefusesBadOptionsWithExit64(arguments: [String], message: String) async throws {
        let state = SubscriptionRegistryTests.temporaryDirectory()
        let refused = try await Self.ucpsim(["subscriptions", "add", "--state", state] + arguments)
        #expect(refused.status == 64)
        #expect(refused.stderr.contains(message), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: ShopDatabase.path(in: state)))
    }

    @Test func aSecretWrongForTheStoredDialectIsRefusedOnUpdate() async throws {
        let state = SubscriptionRegistryTests.temporaryDirectory()
        let added = try await Self.ucpsim([
            "subscriptions", "add", "--state", state, "--url", "https://p.example/h", "--event-type", "*",
            "--dialect", "standard-webhooks",
        ])
        let id = try #require(Self.field("id", in: added.stdout))
        // 30 UTF-8 bytes, but not base64: standard-webhooks signs with the decoded bytes.
        let refused = try await Self.ucpsim([
            "subscriptions", "update", id, "--state", state, "--secret", "this-is-not-base64-at-all-!!!!",
        ])
        #expect(refused.status == 64)
        #expect(
            refused.stderr.hasPrefix("ucpsim: error: --secret is unusable for the standard-webhooks dialect"),
            "\(refused.stderr)"
        )
        let nothing = try await Self.ucpsim(["subscriptions", "update", id, "--state", state])
        #expect(nothing.status == 64 && nothing.stderr.contains("nothing to change"))
    }

    /// One client for the API calls of a test.
    final class API: Sendable {
        let client = HTTPClient(workers: 1)
        let base: String
        let token: String

        init(base: String, token: String) {
            self.base = base
            self.token = token
        }

        func call(_ method: String, _ path: String, _ body: String = "", token: String? = nil) async throws
            -> (status: Int, json: [String: Any])
        {
            let response = try await client.send(
                OutgoingRequest(
                    method: method,
                    url: base + path,
                    headers: HTTPFieldList([
                        ("Content-Type", "application/json"), ("Authorization", "Bearer \(token ?? self.token)"),
                    ]),
                    body: Array(body.utf8)
                )
            )
            let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
            return (response.status, json)
        }
    }

    @Test func serveAndTheCLIShareTheDatabaseAndItSurvivesASIGKILL() async throws {
        let state = SubscriptionRegistryTests.temporaryDirectory()
        let token = "tok-\(UUID().uuidString)"
        let serve = try ServeProcess.start(["--state", state, "--api-token", token])
        let api = API(base: try await serve.baseURL(), token: token)

        // CLI → API.
        let added = try await Self.ucpsim([
            "subscriptions", "add", "--state", state, "--url", "http://127.0.0.1:9/cli", "--event-type", "*",
        ])
        #expect(added.status == 0, "\(added.stderr)")
        let cliID = try #require(Self.field("id", in: added.stdout))
        let seen = try await api.call("GET", "/v1/webhooks/\(cliID)")
        #expect(seen.status == 200 && seen.json["url"] as? String == "http://127.0.0.1:9/cli")

        // API → CLI.
        let created = try await api.call(
            "POST",
            "/v1/webhooks",
            #"{"url":"https://api.example/h","event_types":["order.updated"],"dialect":"ucp-hmac"}"#
        )
        #expect(created.status == 201)
        let apiID = try #require(created.json["id"] as? String)
        let listed = try await Self.ucpsim(["subscriptions", "list", "--state", state])
        #expect(
            listed.stdout.contains(apiID) && listed.stdout.contains(cliID)
                && listed.stdout.hasSuffix("2 subscription(s)\n")
        )
        #expect(try await api.call("PATCH", "/v1/webhooks/\(apiID)", #"{"enabled":false}"#).status == 200)
        let shown = try await Self.ucpsim(["subscriptions", "show", apiID, "--state", state])
        #expect(Self.field("enabled", in: shown.stdout) == "no")
        #expect(try await Self.ucpsim(["subscriptions", "remove", cliID, "--state", state]).status == 0)
        #expect(try await api.call("GET", "/v1/webhooks/\(cliID)").status == 404)

        // Killed without a chance to do anything: the committed subscription is still there after a restart.
        let killed = await serve.interrupt(SIGKILL)
        #expect(killed.signalled)
        let again = try ServeProcess.start(["--state", state, "--api-token", token])
        let restarted = API(base: try await again.baseURL(), token: token)
        let after = try await restarted.call("GET", "/v1/webhooks/\(apiID)")
        #expect(after.status == 200 && after.json["enabled"] as? Bool == false)
        #expect(after.json["dialect"] as? String == "ucp-hmac")
        let all = try await restarted.call("GET", "/v1/webhooks")
        #expect((all.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [apiID])
        _ = await again.interrupt(SIGTERM)
        await api.client.shutdown()
        await restarted.client.shutdown()
    }

    @Test func serveWithoutATokenMakesOneAndPrintsItOnceOnStderr() async throws {
        let state = SubscriptionRegistryTests.temporaryDirectory()
        let serve = try ServeProcess.start(["--state", state])
        let base = try await serve.baseURL()
        var token: String?
        while token == nil {
            token = serve.stderr.split(separator: "\n").first(where: { $0.hasPrefix("api token: ") })
                .flatMap { $0.dropFirst("api token: ".count).split(separator: " ").first.map(String.init) }
            if token == nil { try await Task.sleep(nanoseconds: 2_000_000) }
        }
        let generated = try #require(token)
        #expect(generated.hasPrefix("ucpsim_") && generated.count > 40)
        let api = API(base: base, token: generated)
        #expect(try await api.call("GET", "/v1/webhooks").status == 200)
        #expect(try await api.call("GET", "/v1/webhooks", token: "ucpsim_guess").status == 401)
        let exit = await serve.interrupt(SIGTERM)
        #expect(!exit.stdout.contains(generated))
        // On one stderr line only (which gives the inspector's URL with it too).
        #expect(
            exit.stderr.split(separator: "\n").filter { $0.contains(generated) }.count == 1,
            "printed once: \(exit.stderr)"
        )
        await api.client.shutdown()
    }
}
