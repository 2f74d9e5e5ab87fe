import Foundation
import Synchronization
import Testing
@testable import UCPSimKit

/// `agent.interaction_event`: the scenario step `interaction:` and `POST /testing/interactions`, read by one strict
/// type and turned into one kind of event.
@Suite struct AgentInteractionTests {
    static let order = """
        orders:
          - id: o1
            items:
              - { sku: mug, price: 1500, quantity: 2 }
        steps:
        """

    @Test func aScenarioStepCarriesTheInteraction() throws {
        let yaml =
            Self.order + """

                  - interaction:
                      agent: agent_shopper
                      kind: search
                      details: { query: blue mug }
                  - place: o1
                  - interaction: { agent: "agent_shopper", kind: "message", order: o1, details: { text: "Where is it?" } }
                  - interaction: { agent: agent_2, kind: add to cart }
                """
        let scenario = try Scenario.parse(yaml, file: "i.yaml")
        #expect(scenario.steps.count == 4)
        #expect(scenario.steps[0].line == 6 && scenario.steps[0].orders.isEmpty)
        #expect(
            scenario.steps[0].action
                == .interaction(
                    AgentInteraction(agent: "agent_shopper", kind: "search", details: ["query": "blue mug"])
                )
        )
        #expect(
            scenario.steps[2].action
                == .interaction(
                    AgentInteraction(
                        agent: "agent_shopper",
                        kind: "message",
                        details: ["text": "Where is it?"],
                        order: "o1"
                    )
                )
        )
        #expect(scenario.steps[2].orders == ["o1"])
        #expect(scenario.steps[3].action == .interaction(AgentInteraction(agent: "agent_2", kind: "add to cart")))
        #expect(Scenario.transitionName(scenario.steps[0]) == "interaction")
    }

    struct BadStep: Sendable, CustomTestStringConvertible {
        let steps: String
        let message: String
        var testDescription: String { message }
    }

    static let tooMany = (1...33).map { "k\($0): v" }.joined(separator: ", ")

    @Test(arguments: [
        BadStep(
            steps: "  - interaction: { agent: a1, kind: search, colour: red }",
            message: "bad.yaml:6: step 1: interaction.colour is not a known field (known: agent, kind, details, order)"
        ),
        BadStep(
            steps: "  - interaction:\n      agent: a1\n      kind: \"\"",
            message: "bad.yaml:8: step 1: interaction.kind must not be empty"
        ),
        BadStep(
            steps: "  - interaction: { kind: search }",
            message: "bad.yaml:6: step 1: interaction.agent is required and must be an agent id (1 to 128 characters"
        ),
        BadStep(
            steps: "  - interaction:\n      agent: a/b\n      kind: search",
            message:
                #"bad.yaml:7: step 1: interaction.agent must be 1 to 128 characters of A-Z a-z 0-9 . _ - : ~, got "a/b""#
        ),
        BadStep(
            steps: "  - interaction:\n      agent: a1\n      kind: \"\\e[31mred\"",
            message: "bad.yaml:8: step 1: interaction.kind must be printable, got U+001B"
        ),
        BadStep(
            steps: "  - interaction: { agent: a1, kind: k, details: { \(tooMany) } }",
            message: "bad.yaml:6: step 1: interaction.details must be a map of at most 32 strings, got 33 entries"
        ),
        BadStep(
            steps: "  - interaction:\n      agent: a1\n      kind: k\n      details: { a: { b: c } }",
            message: "bad.yaml:9: step 1: interaction.details must be a map of at most 32 strings"
        ),
        BadStep(
            steps:
                "  - interaction:\n      agent: a1\n      kind: k\n      details: { text: \(String(repeating: "x", count: 300)) }",
            message: "step 1: interaction.details.text must be at most 256 characters, got 300"
        ),
        BadStep(
            steps: "  - interaction:\n      agent: a1\n      kind: k\n      order: o9",
            message: "bad.yaml:9: step 1: interaction.order: unknown order o9 (declared: o1)"
        ),
        BadStep(
            steps: "  - interaction: { agent: a1, kind: k }\n    expect: 2xx",
            message: "bad.yaml:7: step 1: unknown key `expect` (allowed: interaction)"
        ),
        BadStep(
            steps: "  - interaction: search",
            message: "bad.yaml:6: step 1: interaction must be an object with the fields agent, kind, details, order"
        ),
        BadStep(
            steps: "  - place: o1\n  - interaction: { agent: a1, kind: k }\n    ship: o1",
            message: "bad.yaml:7: step 2: a step needs exactly one action: place, advance, interaction or a transition"
        ),
    ])
    func badInteractionStepsNameFileLineAndStep(_ bad: BadStep) {
        do {
            _ = try Scenario.parse(Self.order + "\n" + bad.steps, file: "bad.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.exitCode == .dataError)
            #expect(error.message.contains(bad.message), "\(error.message)")
        }
    }

    @Test func theRunnerRecordsAnInteractionStepWithoutDeliveringIt() async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let scenario = try Scenario.parse(
            Self.order
                + "\n  - interaction: { agent: agent_1, kind: search }\n  - place: o1\n  - advance: 1h"
                + "\n  - interaction: { agent: agent_1, kind: message, order: o1 }",
            file: "s.yaml"
        )
        let results = try await ScenarioRunner(
            shop: shop,
            target: try RequestTarget("\(receiverServer.baseURL)/hook")
        ).run(scenario, start: Date(timeIntervalSince1970: 1_775_913_000))
        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()

        #expect(results.map(\.transition) == ["interaction", "place", "interaction"])
        #expect(results[0].progressLine == "ok   s  step 1  -  interaction  ---  attempts=0  0.0 ms")
        #expect(results[0].orderID.isEmpty && results[0].passed)
        let interaction = try #require(results.last)
        #expect(interaction.passed && interaction.attempts == 0 && interaction.status == nil)
        #expect(interaction.step == 4 && interaction.line == 9 && interaction.orderID == "o1")
        #expect(interaction.event.timestamp == 1_775_913_000 + 3600, "the event happens at the scenario clock")
        #expect(interaction.event.body.isEmpty, "nothing is delivered for it (and --record leaves it out)")
        #expect(interaction.detail.hasPrefix("agent.interaction_event \(interaction.webhookID) recorded"))
        #expect(receiver.received.count == 1, "only the placement reached the receiver")
        let report = try JSONSerialization.jsonObject(with: Data(RunReport.json(results))) as? [String: Any]
        #expect(report?["passed"] as? Bool == true)
    }

    /// The built binary: interaction steps show in the progress, and a bad one is one line, exit 65, nothing sent.
    @Test func runShowsInteractionStepsAndRefusesABadOne() async throws {
        let good = try TestSupport.scenarioFile(
            Self.order + "\n  - interaction: { agent: agent_1, kind: search }\n  - place: o1\n"
                + "  - interaction: { agent: agent_1, kind: message, order: o1 }\n"
        )
        let result = try await CLITests.ucpsim(["run", good.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("ok") || $0.hasPrefix("FAIL") }
        #expect(lines.count == 3, "\(result.stdout)")
        #expect(lines.first?.contains("step 1  -  interaction  ---  attempts=0") == true, "\(result.stdout)")
        #expect(lines.last?.contains("step 3  o1  interaction  ---  attempts=0") == true, "\(result.stdout)")
        #expect(result.stdout.contains("delivered 1,"), "only the placement is a webhook")

        let bad = try TestSupport.scenarioFile(
            Self.order + "\n  - place: o1\n  - interaction:\n      agent: agent_1\n      kind: \"\"\n"
        )
        let refused = try await CLITests.ucpsim(["run", bad.path])
        #expect(refused.status == 65)
        #expect(refused.stderr == "ucpsim: error: \(bad.path):9: step 2: interaction.kind must not be empty\n")
        #expect(!refused.stdout.contains("place"), "nothing was sent")
    }

    // MARK: - POST /testing/interactions

    static let token = "interaction-token"

    func startShop() async throws -> Shop {
        try await Shop.start(
            keys: try KeyRing.ephemeral(),
            delivery: DeliverySetup(stateDirectory: SubscriptionRegistryTests.temporaryDirectory()),
            control: ControlOptions(target: nil, secret: "s3cret"),
            apiToken: BearerToken(Self.token),
            logger: TestSupport.quietLogger
        )
    }

    func post(_ shop: Shop, _ body: String, to path: String = "/testing/interactions") async throws -> ReceivedResponse
    {
        try await send(shop, "POST", path, body)
    }

    func send(_ shop: Shop, _ method: String, _ path: String, _ body: String) async throws -> ReceivedResponse {
        try await shop.client.send(
            OutgoingRequest(
                method: method,
                url: "\(shop.server.baseURL)\(path)",
                headers: HTTPFieldList([("Content-Type", "application/json"), ("Simulation-Secret", "s3cret")]),
                body: Array(body.utf8)
            )
        )
    }

    func object(_ response: ReceivedResponse) throws -> [String: String] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String])
    }

    @Test func anInteractionIsPublishedToTheSubscriptionsThatWantIt() async throws {
        let shop = try await startShop()
        let secret = WebhookSecret.generate().text
        let (receiver, url) = try await HMACCheckTests.strictReceiver(.standardWebhooks, secret: secret)
        defer { kill(receiver.processIdentifier, SIGKILL) }
        let api = SubscriptionsCLITests.API(base: shop.server.baseURL, token: Self.token)
        let subscribed = try await api.call(
            "POST",
            "/v1/webhooks",
            #"{"url":"\#(url)","event_types":["agent.interaction_event"],"dialect":"standard-webhooks","#
                + #""secret_key":"\#(secret)"}"#
        )
        #expect(subscribed.status == 201)
        let placed = try await post(
            shop,
            #"{"id":"ord_i","items":[{"sku":"mug","price":1500}]}"#,
            to: "/testing/orders"
        )
        let alone = try await post(shop, #"{"agent":"agent_1","kind":"search","details":{"query":"mug"}}"#)
        let about = try await post(shop, #"{"agent":"agent_1","kind":"message","order":"ord_i"}"#)
        #expect(await shop.engine.drain(timeout: 60))
        await shop.stop()
        await api.client.shutdown()

        #expect(placed.status == 201)
        #expect(alone.status == 202 && about.status == 202)
        #expect(alone.headers["content-type"] == "application/json")
        let answers = try [alone, about].map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any])
        }
        #expect(answers.map { $0["type"] as? String } == ["agent.interaction_event", "agent.interaction_event"])
        #expect(answers.map { $0["deliveries"] as? Int } == [1, 1])
        // The subscription got both (and not the order's own events), verified by the official library.
        let received = try await SubscriptionFanOutTests.processed(url)
        #expect(received.map(\.id) == answers.compactMap { $0["id"] as? String })
        #expect(received.map(\.type) == ["agent.interaction_event", "agent.interaction_event"])
        let data = received.map { $0.body["data"] as? [String: Any] ?? [:] }
        #expect(data[0]["agent_id"] as? String == "agent_1" && data[0]["kind"] as? String == "search")
        #expect(data[0]["details"] as? [String: String] == ["query": "mug"])
        #expect(data[0]["order_id"] == nil || data[0]["order_id"] is NSNull)
        #expect(data[1]["order_id"] as? String == "ord_i" && data[1]["kind"] as? String == "message")
    }

    struct BadBody: Sendable, CustomTestStringConvertible {
        let body: String
        let content: String
        let path: String?
        var testDescription: String { content }
    }

    @Test(arguments: [
        BadBody(body: "", content: "the body is empty; an interaction needs `agent` and `kind`", path: nil),
        BadBody(body: "{", content: "the body is not JSON", path: nil),
        BadBody(
            body: "[1]",
            content: "the body must be an object with the fields agent, kind, details, order",
            path: nil
        ),
        BadBody(
            body: #"{"agent":"a1","kind":"k","colour":"red"}"#,
            content: "colour is not a known field (known: agent, kind, details, order)",
            path: "$.colour"
        ),
        BadBody(
            body: #"{"kind":"k"}"#,
            content: "agent is required and must be an agent id (1 to 128 characters of A-Z a-z 0-9 . _ - : ~)",
            path: "$.agent"
        ),
        BadBody(body: #"{"agent":7,"kind":"k"}"#, content: "agent must be a string", path: "$.agent"),
        BadBody(
            body: #"{"agent":"a1\nb","kind":"k"}"#,
            content: #"agent must be 1 to 128 characters of A-Z a-z 0-9 . _ - : ~, got "a1\u{a}b""#,
            path: "$.agent"
        ),
        BadBody(body: #"{"agent":"a1","kind":""}"#, content: "kind must not be empty", path: "$.kind"),
        BadBody(
            body: #"{"agent":"a1","kind":"bad\u202Ekind"}"#,
            content: "kind must be printable, got U+202E",
            path: "$.kind"
        ),
        BadBody(
            body: #"{"agent":"a1","kind":"k","details":{"n":3}}"#,
            content: "details must be a map of at most 32 strings",
            path: "$.details"
        ),
        BadBody(
            body: #"{"agent":"a1","kind":"k","details":{"":"v"}}"#,
            content: "details keys must not be empty",
            path: "$.details"
        ),
        BadBody(
            body: #"{"agent":"a1","kind":"k","order":"../x"}"#,
            content: #"order must be 1 to 128 characters of A-Z a-z 0-9 . _ - : ~, got "../x""#,
            path: "$.order"
        ),
    ])
    func badBodiesAreRefusedWithTheOneErrorShape(_ bad: BadBody) async throws {
        let shop = try await startShop()
        let response = try await post(shop, bad.body)
        await shop.stop()
        #expect(response.status == 400)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String])
        #expect(body["code"] == "invalid_request")
        #expect(body["content"] == bad.content)
        #expect(body["path"] == bad.path)
        #expect(Set(body.keys).isSubset(of: ["code", "content", "path"]))
    }

    @Test func thirtyThreeDetailsAreTooMany() async throws {
        let shop = try await startShop()
        let details = (1...33).map { "\"k\($0)\":\"v\"" }.joined(separator: ",")
        let tooMany = try await post(shop, #"{"agent":"a1","kind":"k","details":{"# + details + "}}")
        let thirtyTwo = (1...32).map { "\"k\($0)\":\"v\"" }.joined(separator: ",")
        let enough = try await post(shop, #"{"agent":"a1","kind":"k","details":{"# + thirtyTwo + "}}")
        await shop.stop()
        #expect(tooMany.status == 400)
        #expect(try object(tooMany)["content"] == "details must be a map of at most 32 strings, got 33 entries")
        #expect(enough.status == 202)
    }

    @Test func theRouteKeepsTheControlAPIsRules() async throws {
        let shop = try await startShop()
        let get = try await send(shop, "GET", "/testing/interactions", "")
        let forbidden = try await shop.client.send(
            OutgoingRequest(
                method: "POST",
                url: "\(shop.server.baseURL)/testing/interactions",
                headers: HTTPFieldList([("Content-Type", "application/json")]),
                body: Array(#"{"agent":"a1","kind":"k"}"#.utf8)
            )
        )
        await shop.stop()
        #expect(get.status == 405 && get.headers["allow"] == "POST")
        #expect(forbidden.status == 403)
        #expect(try object(forbidden)["code"] == "forbidden")
    }
}
