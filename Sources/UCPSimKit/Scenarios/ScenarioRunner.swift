import Foundation

/// One delivery in a scenario run, and whether it met its expectation.
public struct StepResult: Sendable {
    public let scenario: String
    public let step: Int
    public let line: Int
    public let orderID: String
    public let transition: String
    public let webhookID: String
    /// The receiver's status, nil when no response came back.
    public let status: Int?
    public let attempts: Int
    public let milliseconds: Double
    public let expectation: DeliveryExpectation
    public let passed: Bool
    /// The receiver's body excerpt, or the transport error.
    public let detail: String
    /// The event that was sent (for `--record`).
    public let event: WebhookEvent

    /// The result of `event`'s delivery in `step`, graded against the step's expectation.
    init(
        _ step: Scenario.Step,
        of scenario: Scenario,
        event: WebhookEvent,
        transition: String,
        status: Int?,
        attempts: Int,
        milliseconds: Double,
        detail: String
    ) {
        self.scenario = scenario.name
        self.step = step.number
        self.line = step.line
        self.orderID = event.orderID
        self.transition = transition
        self.webhookID = event.webhookID
        self.status = status
        self.attempts = attempts
        self.milliseconds = milliseconds
        self.expectation = step.expectation
        self.passed = step.expectation.matches(status: status, attempts: attempts)
        self.detail = detail
        self.event = event
    }

    /// One progress line; a failure adds what was expected and what came back.
    public var progressLine: String {
        let status = status.map(String.init) ?? "---"
        let verdict = passed ? "ok  " : "FAIL"
        var text =
            "\(verdict) \(scenario)  step \(step)  \(orderID)  \(transition)  \(status)  attempts=\(attempts)  \(String(format: "%.1f", milliseconds)) ms"
        if !passed {
            text +=
                "\n     expected \(expectation), got \(self.status.map { "HTTP \($0)" } ?? "no response"): \(detail)"
        }
        return text
    }
}

/// Plays scenarios against a receiver through a running shop.
public struct ScenarioRunner: Sendable {
    public let shop: Shop
    public let target: RequestTarget
    /// Start of the scenario clock.
    public let start: Date

    /// How long (real seconds) to wait for one step's deliveries, retries included, before giving up on the run.
    public let wait: TimeInterval

    public init(shop: Shop, target: RequestTarget, start: Date = Date(), wait: TimeInterval = 60) {
        self.shop = shop
        self.target = target
        self.start = start
        self.wait = wait
    }

    /// Runs every step; calls `progress` after each delivery.
    public func run(_ scenario: Scenario, progress: @Sendable (StepResult) -> Void = { _ in }) async throws
        -> [StepResult]
    {
        var player = ScenarioPlayer(
            scenario,
            start: start,
            shopBaseURL: shop.profile.baseURL,
            version: shop.profile.version
        )
        var results: [StepResult] = []
        for step in scenario.steps {
            let orders: [Order]
            do {
                orders = try player.play(step)
            } catch {
                throw UCPSimError(.dataError, "\(scenario.file):\(error.line): step \(step.number): \(error.message)")
            }
            let name: String
            switch step.action {
            case .advance: continue
            case .place: name = "place"
            case .transition(let transition): name = transition.name
            }
            var events: [WebhookEvent] = []
            for order in orders {
                let document = OrderDocument(order)
                await shop.orders.put(document)
                events.append(
                    WebhookEvent(
                        timestamp: Int64(player.clock.timeIntervalSince1970),
                        orderID: order.id,
                        body: document.bytes
                    )
                )
            }
            if let mutation = step.mutation {
                for event in events {
                    let result = try await sendMutated(
                        event,
                        mutation: mutation,
                        step: step,
                        scenario: scenario,
                        transition: name
                    )
                    progress(result)
                    results.append(result)
                }
                continue
            }
            // One submission per step: its orders' deliveries run concurrently, each order's in sequence.
            try await shop.engine.submit(events, to: target, policy: scenario.policy?.applied(to: shop.engine.policy))
            let deadline = Date().addingTimeInterval(wait)
            for event in events {
                guard
                    let outcome = await shop.engine.outcome(of: event.webhookID, timeout: deadline.timeIntervalSinceNow)
                else {
                    let state = await shop.engine.pendingState(of: event.webhookID)
                    throw UCPSimError(
                        .tempFail,
                        "\(scenario.file):\(step.line): step \(step.number): order \(event.orderID) still not delivered after "
                            + "\(state?.attempts.count ?? 0) attempt(s) (last: \(state?.attempts.last.map { $0.status.map { "HTTP \($0)" } ?? $0.detail } ?? "none")); "
                            + "it stays in the outbox: `ucpsim deliveries resume` continues it"
                    )
                }
                let last = outcome.attempts.last
                let result = StepResult(
                    step,
                    of: scenario,
                    event: event,
                    transition: name,
                    status: outcome.lastStatus,
                    attempts: outcome.attempts.count,
                    milliseconds: last?.milliseconds ?? 0,
                    detail: last?.detail ?? ""
                )
                progress(result)
                results.append(result)
            }
        }
        return results
    }

    /// Sends one deliberately broken delivery (a `mutate:` step) once, outside the retrying engine.
    private func sendMutated(
        _ event: WebhookEvent,
        mutation: String,
        step: Scenario.Step,
        scenario: Scenario,
        transition: String
    ) async throws -> StepResult {
        // `mutate:` offers only faults in the shop's own request, so the forge needs no other identity.
        let request = try RequestForge(sender: shop.sender).request(
            mutation,
            event: event,
            to: target,
            created: shop.sender.now()
        )
        let started = Date()
        let response = try? await shop.client.send(request)
        return StepResult(
            step,
            of: scenario,
            event: event,
            transition: "\(transition) [\(mutation)]",
            status: response?.status,
            attempts: 1,
            milliseconds: Date().timeIntervalSince(started) * 1000,
            detail: response?.bodyExcerpt() ?? "no response"
        )
    }
}
