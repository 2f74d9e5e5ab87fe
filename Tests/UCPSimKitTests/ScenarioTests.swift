import Foundation
import Hummingbird
import Testing
@testable import UCPSimKit

@Suite struct ScenarioTests {
    struct BadScenario: Sendable, CustomTestStringConvertible {
        let yaml: String
        let message: String
        var testDescription: String { message }
    }

    static let order = """
        orders:
          - id: o1
            items:
              - { sku: mug, price: 1500, quantity: 2 }
        """

    @Test(arguments: [
        BadScenario(yaml: "orders: [", message: "bad.yaml: not valid YAML"),
        BadScenario(yaml: "- 1\n- 2", message: "bad.yaml:1: the top level must be a mapping"),
        BadScenario(
            yaml: order + "\nsteps:\n  - place: o1\n  - fly: o1",
            message: "bad.yaml:7: step 2: a step needs exactly one action"
        ),
        BadScenario(yaml: order + "\nsteps:\n  - place: o2", message: "bad.yaml:6: step 1: unknown order o2"),
        BadScenario(
            yaml: order + "\nsteps:\n  - place: o1\n  - deliver: o1",
            message: "bad.yaml:7: step 2: order o1: cannot deliver: nothing has shipped yet"
        ),
        BadScenario(
            yaml: order + "\nsteps:\n  - place: o1\n  - ship: o1\n    lines: [{id: li_1, quantity: 3}]",
            message: "step 2: order o1: cannot ship: cannot ship 3 of li_1: only 2 unshipped"
        ),
        BadScenario(
            yaml: order + "\nsteps:\n  - place: o1\n    expect: 2yy",
            message: "bad.yaml:7: step 1: expect: \"2yy\" is not a status"
        ),
        BadScenario(
            yaml: order + "\nsteps:\n  - advance: soon",
            message: "bad.yaml:6: step 1: advance: \"soon\" is not a duration"
        ),
        BadScenario(
            yaml: "orders:\n  - id: o1\n    items:\n      - { sku: mug, price: 12.5 }\nsteps:\n  - place: o1",
            message: "bad.yaml:4: orders[0].items[0].price must be an integer from 0 to 1000000000000 (minor units)"
        ),
        BadScenario(
            yaml: "orders:\n  - id: o1\n    items:\n      - { sku: mug, price: 1, quantity: 0 }\nsteps:\n  - place: o1",
            message: "bad.yaml:4: orders[0].items[0].quantity must be an integer from 1 to 1000000, got 0"
        ),
        BadScenario(
            yaml: "orders:\n  - id: o1\n    items:\n      - { sku: mug, price: 1, colour: red }\nsteps:\n  - place: o1",
            message:
                "bad.yaml:4: orders[0].items[0].colour is not a known field (known: id, sku, title, price, quantity)"
        ),
        BadScenario(
            yaml:
                "orders:\n  - id: o1\n    currency: DOLLARS\n    items: [{ sku: mug, price: 1 }]\nsteps:\n  - place: o1",
            message:
                #"bad.yaml:3: orders[0].currency must be an active ISO 4217 code such as USD or EUR, got "DOLLARS""#
        ),
        BadScenario(
            yaml: "orders:\n  - items: [{ sku: mug, price: 1 }]\nsteps:\n  - place: o1",
            message: "bad.yaml:2: orders[0].id is required and must be a non-empty string"
        ),
        BadScenario(
            yaml: order + "\nsteps:\n  - place: o1\n  - ship: o1\n    lines: [{id: li_1, quantity: 0}]",
            message: "bad.yaml:8: step 2: lines[0].quantity must be an integer from 1 to 1000000, got 0"
        ),
        BadScenario(
            yaml: order + "\nsteps:\n  - place: o1\n  - deliver: o1\n    carrier: UPS",
            message: "bad.yaml:8: step 2: carrier is not a parameter of deliver (deliver takes shipment)"
        ),
        BadScenario(
            yaml: order + "\nsteps:\n  - place: o1\n  - credit: o1",
            message: "bad.yaml:7: step 2: amount is required for credit and must be an integer"
        ),
        BadScenario(
            yaml: order + "\nsteps:\n  - place: o1\n    colour: red",
            message: "bad.yaml:7: step 1: unknown key `colour`"
        ),
        BadScenario(
            yaml: "delivery: { time_scale: 0 }\n" + order + "\nsteps:\n  - place: o1",
            message: "bad.yaml:1: time_scale must be a positive number"
        ),
        BadScenario(
            yaml: "delivery:\n  concurrency: 1000\n" + order + "\nsteps:\n  - place: o1",
            message: "bad.yaml:2: concurrency must be a whole number from 1 to 256"
        ),
    ])
    func badScenariosNameFileLineAndStep(_ bad: BadScenario) {
        do {
            _ = try Scenario.parse(bad.yaml, file: "bad.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.exitCode == .dataError)
            #expect(error.message.contains(bad.message), "\(error.message)")
        }
    }

    @Test func deliverySettingsSplitIntoThePolicyAndEngineWideSettings() throws {
        let yaml = """
            delivery: { retry_schedule: "1h,2h", jitter: 0, time_scale: 3600, concurrency: 2, unordered: true }
            \(Self.order)
            steps:
              - place: o1
            """
        let scenario = try Scenario.parse(yaml, file: "a.yaml")
        #expect(scenario.policy?.delays == [3600, 7200] && scenario.policy?.jitter == 0)
        #expect(scenario.engine == Scenario.EngineSettings(timeScale: 3600, concurrency: 2, unordered: true))
        let plain = try Scenario.parse(Self.order + "\nsteps:\n  - place: o1", file: "b.yaml")
        #expect(plain.engine == Scenario.EngineSettings())
        // Scenarios run together share one engine: settings merge, and a conflict is refused with both files named.
        #expect(try Scenario.EngineSettings.merged([scenario, plain]) == scenario.engine)
        let other = try Scenario.parse(
            "delivery: { time_scale: 60 }\n" + Self.order + "\nsteps:\n  - place: o1",
            file: "c.yaml"
        )
        // What a scenario leaves out of its retry policy stays the command line's.
        let commandLine = RetryPolicy(delays: [5, 10], jitter: 0.5, retry4xx: true)
        #expect(other.policy == nil, "a delivery: block with only engine settings keeps the command line's policy")
        #expect(
            scenario.policy?.applied(to: commandLine) == RetryPolicy(delays: [3600, 7200], jitter: 0, retry4xx: true)
        )
        #expect(throws: UCPSimError.self) { try Scenario.EngineSettings.merged([scenario, plain, other]) }
        do {
            _ = try Scenario.EngineSettings.merged([scenario, other])
        } catch {
            #expect(error.exitCode == .dataError)
            #expect(error.message.contains("a.yaml and c.yaml set different delivery time_scale"), "\(error.message)")
        }
    }

    @Test func bundledScenariosParseAndCoverTheLifecycle() throws {
        let directory = TestSupport.path("scenarios")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }
            .sorted()
        #expect(files.count >= 7)
        var transitions = Set<String>()
        var orders = 0
        for file in files {
            let scenario = try Scenario.load(path: "\(directory)/\(file)")
            orders = max(orders, scenario.orders.count)
            for step in scenario.steps {
                if case .transition(let transition) = step.action { transitions.insert(transition.name) }
            }
        }
        #expect(orders >= 50, "the batch scenario has at least 50 orders")
        #expect(
            transitions.isSuperset(of: [
                "ship", "in_transit", "deliver", "cancel", "return", "refund", "failed_attempt",
            ])
        )
    }

    @Test func runnerDeliversEveryStepAndChecksExpectations() async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let scenario = try Scenario.parse(
            Self.order
                + "\nsteps:\n  - place: o1\n  - advance: 2h\n  - ship: o1\n    expect: 4xx\n  - deliver: o1\n    expect: 200",
            file: "s.yaml"
        )
        let start = Date(timeIntervalSince1970: 1_775_913_000)
        let results = try await ScenarioRunner(
            shop: shop,
            target: try RequestTarget("\(receiverServer.baseURL)/hook")
        ).run(scenario, start: start)
        let served = await shop.orders.get("o1")
        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()

        #expect(results.map(\.transition) == ["place", "ship", "deliver"])
        #expect(results.map(\.passed) == [true, false, true], "ship expected 4xx but the receiver accepted it")
        #expect(results[1].event.timestamp == 1_775_913_000 + 7200, "Webhook-Timestamp follows the scenario clock")
        #expect(Set(results.map(\.webhookID)).count == 3)
        #expect(receiver.received.count == 3 && receiver.received.allSatisfy { $0.status == 200 })
        #expect(served == results.last?.event.body, "the shop keeps the latest snapshot (GET /testing/orders/{id})")
        let last = try JSONDecoder().decode(Order.self, from: Data(results[2].event.body))
        #expect(last.fulfillment.events.map(\.type) == ["shipped", "delivered"])
        #expect(last.permalinkURL == "\(shop.profile.baseURL)/orders/o1")

        let junit = RunReport.junit(results)
        #expect(junit.contains("tests=\"3\" failures=\"1\""))
        #expect(junit.contains("<failure message=\"expected 4xx, got HTTP 200\">"))
        let json = try JSONSerialization.jsonObject(with: Data(RunReport.json(results))) as? [String: Any]
        #expect(json?["passed"] as? Bool == false && json?["failures"] as? Int == 1)
    }

    @Test func aCheckoutStepPlacesItsOrderForLaterStepsAndChecksItsExpectation() async throws {
        let scenario = try Scenario.load(path: TestSupport.path("scenarios/checkout.yaml"))
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let results = try await ScenarioRunner(
            shop: shop,
            target: try RequestTarget("\(receiverServer.baseURL)/hook")
        ).run(scenario, start: Date(timeIntervalSince1970: 1_775_913_000))
        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()

        #expect(results.map(\.transition) == ["checkout", "place", "ship", "ship", "deliver", "deliver"])
        #expect(results.allSatisfy { $0.passed })
        #expect(receiver.received.count == 6 && receiver.received.allSatisfy { $0.status == 200 })
        let placed = try JSONDecoder().decode(Order.self, from: Data(results[0].event.body))
        #expect(placed.id == "ord_web_1" && placed.checkoutID == "chk_00001")
        // 3798 − 500 (SAVE5; BOGUS is refused) + 599 + tax 272.
        #expect(placed.totals.last?.amount == 4169)
        #expect(placed.fulfillment.expectations.first?.description == "Standard Shipping")

        let wrong = try String(contentsOfFile: TestSupport.path("scenarios/checkout.yaml"), encoding: .utf8)
            .replacingOccurrences(
                of: "expect: { status: completed }",
                with: "expect: { status: completed, messages: [] }"
            )
        #expect {
            _ = try Scenario.parse(wrong, file: "c.yaml")
        } throws: { error in
            "\(error)".contains(
                "c.yaml:8: step 1: checkout: expected completed with messages [], got completed with "
                    + "messages [\"discount_code_invalid\"]"
            )
        }
    }
}
