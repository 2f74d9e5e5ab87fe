import Foundation
import Yams

/// What a delivery must get back.
public struct DeliveryExpectation: Sendable, Equatable, CustomStringConvertible {
    /// `2` for 2xx, `4` for 4xx, …; or an exact status.
    public enum Status: Sendable, Equatable {
        case statusClass(Int)
        case exact(Int)
    }

    public var status: Status
    /// Attempts the delivery must have taken, when given.
    public var attempts: Int?

    public static let accepted = DeliveryExpectation(status: .statusClass(2), attempts: nil)

    public func matches(status code: Int?, attempts count: Int) -> Bool {
        if let attempts, attempts != count { return false }
        guard let code else { return false }
        switch status {
        case .statusClass(let first): return code / 100 == first
        case .exact(let exact): return code == exact
        }
    }

    public var description: String {
        let status: String =
            switch self.status {
            case .statusClass(let first): "\(first)xx"
            case .exact(let exact): String(exact)
            }
        return attempts.map { "\(status) in \($0) attempt(s)" } ?? status
    }
}

/// A scenario file: orders to create and the steps that move them, each delivery with an expectation.
public struct Scenario: Sendable {
    public enum Action: Sendable, Equatable {
        /// Move the scenario clock forward.
        case advance(TimeInterval)
        /// Place orders: their "order created" webhook.
        case place
        /// Apply a transition.
        case transition(OrderTransition)
        /// Something an agent did (`interaction:`): an `agent.interaction_event`, no order change.
        case interaction(AgentInteraction)
        /// A checkout session (`checkout:`) created, updated and completed with the embedded shop's rules; when it
        /// completes, its order is placed (its "order created" webhook) and later steps can move it.
        case checkout(CheckoutScript)
    }

    /// A `checkout:` step: the requests, the id the placed order gets, and what the checkout must end as.
    public struct CheckoutScript: Sendable, Equatable {
        public var order: String
        public var create: CheckoutInput
        public var update: CheckoutInput?
        public var complete: CompleteInput?
        /// The checkout's final status; default `completed` with `complete`, else `ready_for_complete`.
        public var status: Checkout.Status
        /// The final answer's message codes, in order, when given.
        public var messages: [String]?
    }

    public struct Step: Sendable {
        /// 1-based position in `steps`.
        public let number: Int
        /// Line in the file.
        public let line: Int
        public let action: Action
        /// The orders it applies to (empty for `advance`; the order an `interaction` is about, if any).
        public let orders: [String]
        public let expectation: DeliveryExpectation
        /// A catalog fault (`ucpsim check` case id) applied to this step's deliveries, sent once, not retried.
        public var mutation: String? = nil
    }

    public let name: String
    public let file: String
    public let orders: [OrderSpec]
    public let steps: [Step]
    /// The retry settings the scenario's `delivery:` sets for its events; nil when it sets none.
    public var policy: RetrySettings?

    /// `retry_schedule`, `jitter`, `retry_4xx`: each one the scenario sets replaces the command line's.
    public struct RetrySettings: Sendable, Equatable {
        public var delays: [TimeInterval]?
        public var jitter: Double?
        public var retry4xx: Bool?

        /// `base` (the command line's policy) with what the scenario sets.
        public func applied(to base: RetryPolicy) -> RetryPolicy {
            RetryPolicy(
                delays: delays ?? base.delays,
                jitter: jitter ?? base.jitter,
                retry4xx: retry4xx ?? base.retry4xx
            )
        }
    }
    /// Engine-wide settings the scenario asks for (`delivery:` `time_scale`, `concurrency`, `unordered`).
    public var engine = EngineSettings()

    /// Delivery settings that belong to the whole engine rather than to one event: a run applies them to its shop
    /// (the command line wins when it sets them too).
    public struct EngineSettings: Sendable, Equatable {
        public var timeScale: Double?
        public var concurrency: Int?
        public var unordered: Bool?

        public init(timeScale: Double? = nil, concurrency: Int? = nil, unordered: Bool? = nil) {
            self.timeScale = timeScale
            self.concurrency = concurrency
            self.unordered = unordered
        }

        /// One set of settings for scenarios run together; two that set a knob differently cannot share an engine.
        public static func merged(_ scenarios: [Scenario]) throws(UCPSimError) -> EngineSettings {
            var merged = EngineSettings()
            var setBy: [String: String] = [:]
            func take<Value: Equatable>(_ name: String, _ value: Value?, into slot: inout Value?, from file: String)
                throws(UCPSimError)
            {
                guard let value else { return }
                if let existing = slot, existing != value {
                    throw UCPSimError(
                        .dataError,
                        "\(setBy[name] ?? "") and \(file) set different delivery \(name) (\(existing) and \(value)); "
                            + "run them separately"
                    )
                }
                slot = value
                setBy[name] = file
            }
            for scenario in scenarios {
                try take("time_scale", scenario.engine.timeScale, into: &merged.timeScale, from: scenario.file)
                try take("concurrency", scenario.engine.concurrency, into: &merged.concurrency, from: scenario.file)
                try take("unordered", scenario.engine.unordered, into: &merged.unordered, from: scenario.file)
            }
            return merged
        }
    }

    /// Loads and checks a scenario file, including a dry run of every transition.
    public static func load(path: String) throws(UCPSimError) -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UCPSimError(.noInput, "cannot read scenario \(path)")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    /// Parses scenario text; errors carry file, line and step.
    public static func parse(_ text: String, file: String) throws(UCPSimError) -> Scenario {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ScenarioParser.Failure(line: 1, message: "the file is empty")
            }
            root = node
        } catch let failure as ScenarioParser.Failure {
            throw UCPSimError(.dataError, "\(file):\(failure.line): \(failure.message)")
        } catch let error as YamlError {
            throw UCPSimError(.dataError, "\(file): not valid YAML: \(Self.describe(error))")
        } catch {
            throw UCPSimError(.dataError, "\(file): not valid YAML: \(error)")
        }
        do {
            let scenario = try ScenarioParser(file: file).scenario(root)
            try scenario.dryRun()
            return scenario
        } catch let failure as ScenarioParser.Failure {
            let step = failure.step.map { " step \($0):" } ?? ""
            throw UCPSimError(.dataError, "\(file):\(failure.line):\(step) \(failure.message)")
        } catch {
            throw UCPSimError(.dataError, "\(file): \(error)")
        }
    }

    /// Applies every step to fresh state machines, so an invalid transition is found before anything is sent.
    func dryRun() throws {
        var player = ScenarioPlayer(
            self,
            start: Date(timeIntervalSince1970: 1_775_913_000),
            shopBaseURL: "http://shop.invalid"
        )
        for step in steps { _ = try player.play(step) }
    }

    private static func describe(_ error: YamlError) -> String {
        "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
    }
}

/// Moves a scenario's orders through their state machines, step by step, on the scenario clock. Shared by the dry
/// run at load time and the runner, so both accept and refuse exactly the same steps.
struct ScenarioPlayer {
    private var machines: [String: OrderStateMachine] = [:]
    private let specs: [String: OrderSpec]
    /// Units completed `checkout:` steps took from the embedded shop's stock.
    private var reserved: [String: Int] = [:]
    private var checkouts = 0
    private let shopBaseURL: String
    private let version: UCPVersion
    /// The scenario clock: `advance` steps move it; transitions happen at it.
    private(set) var clock: Date

    init(_ scenario: Scenario, start: Date, shopBaseURL: String, version: UCPVersion = .newest) {
        self.specs = Dictionary(uniqueKeysWithValues: scenario.orders.map { ($0.id, $0) })
        self.clock = start
        self.shopBaseURL = shopBaseURL
        self.version = version
    }

    /// The order's current snapshot, nil when it is not placed yet.
    func order(_ id: String) -> Order? {
        machines[id]?.order
    }

    /// Plays one step: the new snapshot of every order it names (none for `advance`).
    mutating func play(_ step: Scenario.Step) throws(ScenarioParser.Failure) -> [Order] {
        func fail(_ message: String) -> ScenarioParser.Failure {
            ScenarioParser.Failure(line: step.line, step: step.number, message: message)
        }
        switch step.action {
        case .advance(let seconds):
            clock += seconds
            return []
        case .interaction:
            return []  // changes no order
        case .checkout(let script):
            return try checkout(script, fail: fail).map { [$0] } ?? []
        case .place, .transition:
            break
        }
        var snapshots: [Order] = []
        for id in step.orders {
            do {
                switch step.action {
                case .advance, .interaction, .checkout:
                    break  // handled above
                case .place:
                    guard machines[id] == nil else { throw fail("order \(id) is already placed") }
                    guard let spec = specs[id] else { throw fail("order \(id) is not declared under orders:") }
                    let machine = try OrderStateMachine(
                        spec: spec,
                        at: clock,
                        shopBaseURL: shopBaseURL,
                        version: version
                    )
                    machines[id] = machine
                    snapshots.append(machine.order)
                case .transition(let transition):
                    guard var machine = machines[id] else {
                        throw fail("order \(id) is not placed yet (add a `place` step)")
                    }
                    snapshots.append(try machine.apply(transition, at: clock))
                    machines[id] = machine
                }
            } catch let failure as ScenarioParser.Failure {
                throw failure
            } catch {
                throw fail("\(error)")
            }
        }
        return snapshots
    }

    /// Runs a `checkout:` step's requests through `CheckoutEngine` on the scenario clock; checks its expectation;
    /// places its order when it completes.
    private mutating func checkout(
        _ script: Scenario.CheckoutScript,
        fail: (String) -> ScenarioParser.Failure
    ) throws(ScenarioParser.Failure) -> Order? {
        guard machines[script.order] == nil, specs[script.order] == nil else {
            throw fail("order \(script.order) already exists")
        }
        let engine = CheckoutEngine(shop: .embedded, baseURL: shopBaseURL)
        let taken = reserved
        let stock: CheckoutEngine.Stock = { id in
            (ShopFile.embedded.variant(id)?.variant.inventory ?? 0) - (taken[id] ?? 0)
        }
        checkouts += 1
        var session = engine.create(
            id: "chk_\(String(format: "%05d", checkouts))",
            input: script.create,
            stock: stock,
            now: clock
        )
        if let update = script.update {
            session = engine.update(session, input: update, stock: stock, now: clock).0
        }
        var spec: OrderSpec?
        if let payment = script.complete {
            switch engine.complete(session, payment: payment, stock: stock, now: clock) {
            case .place(let next, let order):
                session = next
                spec = order
            case .accepted(let next):
                session = engine.finish(next).map { $0.0 } ?? next
                spec = engine.finish(next)?.1
            case .refused(let next):
                session = next
            case .unchanged(let same, _):
                session = same
            }
        }
        let codes = session.checkout.messageCodes
        let finalStatus: Checkout.Status = spec == nil ? session.checkout.status : .completed
        guard finalStatus == script.status, script.messages.map({ $0 == codes }) ?? true else {
            throw fail(
                "checkout: expected \(script.status.rawValue)"
                    + (script.messages.map { " with messages \($0)" } ?? "")
                    + ", got \(finalStatus.rawValue) with messages \(codes)"
            )
        }
        guard var spec else { return nil }
        spec.id = script.order
        let machine: OrderStateMachine
        do {
            machine = try OrderStateMachine(spec: spec, at: clock, shopBaseURL: shopBaseURL, version: version)
        } catch {
            throw fail("\(error)")
        }
        for line in session.checkout.lineItems { reserved[line.item.id, default: 0] += line.quantity }
        machines[script.order] = machine
        return machine.order
    }
}
