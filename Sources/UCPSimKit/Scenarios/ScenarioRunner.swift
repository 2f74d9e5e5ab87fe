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
    public private(set) var passed: Bool
    /// The receiver's body excerpt, or the transport error.
    public let detail: String
    /// The event that was sent (for `--record`).
    public let event: WebhookEvent

    /// The result of `event`'s delivery in `step` as the engine ended it, graded against the step's expectation.
    /// An event never sent (its endpoint stopped after a 410) says so, not "no response".
    init(
        _ step: Scenario.Step,
        of scenario: Scenario,
        event: WebhookEvent,
        transition: String,
        outcome: DeliveryEngine.Outcome
    ) {
        let last = outcome.attempts.last
        var detail = last?.detail ?? ""
        if last == nil, case .dead(let reason) = outcome.phase { detail = "not sent: \(reason)" }
        self.init(
            step,
            of: scenario,
            event: event,
            transition: transition,
            status: outcome.lastStatus,
            attempts: outcome.attempts.count,
            milliseconds: last?.milliseconds ?? 0,
            detail: detail
        )
    }

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

    /// An event of `step` that the run records rather than delivers (an interaction): passed, no attempt, the
    /// event's id in `webhookID`.
    init(recorded event: OrderEvent, _ step: Scenario.Step, of scenario: Scenario, transition: String, detail: String) {
        self.init(
            step,
            of: scenario,
            event: WebhookEvent(
                webhookID: event.id,
                timestamp: event.occurredAt,
                orderID: event.orderID ?? "",
                body: []
            ),
            transition: transition,
            status: nil,
            attempts: 0,
            milliseconds: 0,
            detail: detail
        )
        self.passed = true
    }

    /// One progress line (`-` for an event about no order); a failure adds what was expected and what came back.
    public var progressLine: String {
        let status = status.map(String.init) ?? "---"
        let verdict = passed ? "ok  " : "FAIL"
        var text =
            "\(verdict) \(scenario)  step \(step)  \(orderID.isEmpty ? "-" : orderID)  \(transition)  \(status)  attempts=\(attempts)  \(String(format: "%.1f", milliseconds)) ms"
        if !passed {
            let got = self.status.map { "HTTP \($0)" } ?? (attempts == 0 ? "nothing" : "no response")
            text += "\n     expected \(expectation), got \(got): \(detail)"
        }
        return text
    }
}

/// Why a scenario stopped before its end, with what it had done: the caller keeps the position (`RunProgress`)
/// so that `ucpsim run --resume` plays the rest.
public struct ScenarioStopped: Error, Sendable {
    /// The results of the deliveries that were final.
    public let results: [StepResult]
    /// Index of the first step not yet sent.
    public let nextStep: Int
    /// Deliveries sent but not final (they stay in the outbox).
    public let pending: [RunProgress.PendingDelivery]
    /// What stopped it, for the user: the step and order still pending after `--wait`, or the interruption.
    public let message: String
}

/// Plays scenarios against a receiver through a running shop.
public struct ScenarioRunner: Sendable {
    public let shop: Shop
    public let target: RequestTarget

    /// How long (real seconds) to wait for one step's deliveries, retries included, before giving up on the run.
    public let wait: TimeInterval

    public init(shop: Shop, target: RequestTarget, wait: TimeInterval = 60) {
        self.shop = shop
        self.target = target
        self.wait = wait
    }

    /// Runs the scenario's steps from `from` (earlier steps are only replayed on the state machines, not sent),
    /// with its clock starting at `start` (default: anchored so that the last event happens no later than now);
    /// `resumed` are deliveries of earlier steps still pending in the outbox, reported when final. Calls `progress`
    /// after each delivery. Throws `ScenarioStopped` when a step's deliveries are still pending after `wait`, or the
    /// engine stopped (an interruption).
    public func run(
        _ scenario: Scenario,
        start: Date? = nil,
        from: Int = 0,
        resumed: [RunProgress.PendingDelivery] = [],
        progress: @Sendable (StepResult) -> Void = { _ in }
    ) async throws -> [StepResult] {
        // A scenario delivers to its run's target alone (the `ucp` dialect, every event type).
        shop.webhooks.setAudience(WebhookPublisher.Audience(registered: false, url: target))
        var player = ScenarioPlayer(
            scenario,
            start: start ?? scenario.anchoredStart(),
            shopBaseURL: shop.profile.baseURL,
            version: shop.profile.version
        )
        var results: [StepResult] = []
        // Deliveries an interrupted run left pending come first (their orders' later snapshots wait behind them).
        let resumedDeadline = Date().addingTimeInterval(wait)
        for (position, delivery) in resumed.enumerated() where scenario.steps.indices.contains(delivery.step) {
            let earlier = scenario.steps[delivery.step]
            // The event as it was sent (for `--record`): its timestamp from the journal, its bytes from the outbox.
            let recorded = shop.history.last { $0.event.webhookID == delivery.webhookID }?.event
            let event = WebhookEvent(
                webhookID: delivery.webhookID,
                timestamp: recorded?.timestamp ?? 0,
                orderID: recorded?.orderID ?? "",
                body: shop.outbox?.body(of: delivery.webhookID) ?? []
            )
            guard await shop.engine.knows(delivery.webhookID) else {
                // Gone from the outbox (compacted away, or the journal replaced): nothing to wait for.
                let result = StepResult(
                    earlier,
                    of: scenario,
                    event: event,
                    transition: Scenario.transitionName(earlier) ?? "",
                    status: nil,
                    attempts: 0,
                    milliseconds: 0,
                    detail: "no longer in the outbox: its outcome is unknown"
                )
                progress(result)
                results.append(result)
                continue
            }
            guard let outcome = await shop.engine.outcome(of: delivery.webhookID, until: resumedDeadline) else {
                throw await stopped(
                    scenario,
                    results,
                    next: from,
                    pending: Array(resumed[position...]),
                    step: earlier
                )
            }
            let result = StepResult(
                earlier,
                of: scenario,
                event: event,
                transition: Scenario.transitionName(earlier) ?? "",
                outcome: outcome
            )
            progress(result)
            results.append(result)
        }
        var pending: [(event: WebhookEvent, id: DeliveryID, step: Int)] = []
        for index in scenario.steps.indices {
            let step = scenario.steps[index]
            let before = step.orders.map { player.order($0) }
            let orders: [Order]
            do {
                orders = try player.play(step)
            } catch {
                throw UCPSimError(.dataError, "\(scenario.file):\(error.line): step \(step.number): \(error.message)")
            }
            guard let name = Scenario.transitionName(step), index >= from else { continue }
            if await shop.engine.isStopped {
                throw ScenarioStopped(
                    results: results,
                    nextStep: index,
                    pending: [],
                    message: "interrupted before step \(step.number) of \(scenario.file)"
                )
            }
            if case .interaction(let interaction) = step.action {
                let document = interaction.order.flatMap { player.order($0) }.map(OrderDocument.init)
                let event = interaction.event(occurredAt: Int64(player.clock.timeIntervalSince1970), document: document)
                let result = await publish(event, step: step, of: scenario)
                progress(result)
                results.append(result)
                continue
            }
            // The step's events, each order's change as the publish path takes it.
            let occurredAt = Int64(player.clock.timeIntervalSince1970)
            var transition: OrderTransition?
            if case .transition(let applied) = step.action { transition = applied }
            var changes: [[OrderEvent]] = []
            for order in orders {
                let previous = before.compactMap { $0 }.first { $0.id == order.id }
                changes.append(
                    OrderChange.events(
                        before: previous,
                        after: order,
                        transition: transition,
                        occurredAt: occurredAt
                    )
                )
            }
            // What a `mutate:` step sends once: each order's snapshot under its first event's id.
            let events = orders.compactMap { order in
                changes.joined().first { $0.orderID == order.id }.map {
                    WebhookEvent(
                        webhookID: $0.id,
                        timestamp: occurredAt,
                        orderID: order.id,
                        body: OrderDocument(order).bytes
                    )
                }
            }
            if let mutation = step.mutation {
                for order in orders { await shop.orders.put(OrderDocument(order)) }
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
            // One publication per step: its orders' deliveries run concurrently, each order's in sequence.
            let deliveries = try await shop.webhooks.publish(
                changes,
                policy: scenario.policy?.applied(to: shop.engine.policy)
            )
            pending = deliveries.map { ($0.event, $0.id, index) }
            let deadline = Date().addingTimeInterval(wait)
            for (position, delivery) in deliveries.enumerated() {
                let event = delivery.event
                guard let outcome = await shop.engine.outcome(of: delivery.id, until: deadline) else {
                    let state = await shop.engine.pendingState(of: delivery.id)
                    let last = state?.attempts.last.map { $0.status.map { "HTTP \($0)" } ?? $0.detail } ?? "none"
                    throw await stopped(
                        scenario,
                        results,
                        next: index + 1,
                        pending: Array(pending[position...]).map {
                            RunProgress.PendingDelivery(webhookID: $0.id.rawValue, step: $0.step)
                        },
                        step: step,
                        reason: "order \(event.orderID) still not delivered after \(state?.attempts.count ?? 0) "
                            + "attempt(s) (last: \(last))"
                    )
                }
                let result = StepResult(step, of: scenario, event: event, transition: name, outcome: outcome)
                progress(result)
                results.append(result)
            }
            pending = []
        }
        return results
    }

    /// Publishes an event a step makes itself (an `interaction:` step's `agent.interaction_event`). For now the run
    /// records it in its report as a step that passed, with no delivery; the publish path to subscriptions takes
    /// over here.
    func publish(_ event: OrderEvent, step: Scenario.Step, of scenario: Scenario) async -> StepResult {
        var detail = "\(event.type.rawValue) \(event.id) recorded, not delivered"
        if case .interaction(let agent, let kind, _) = event.subject { detail += ": agent \(agent), kind \(kind)" }
        return StepResult(
            recorded: event,
            step,
            of: scenario,
            transition: Scenario.transitionName(step) ?? "",
            detail: detail
        )
    }

    private func stopped(
        _ scenario: Scenario,
        _ results: [StepResult],
        next: Int,
        pending: [RunProgress.PendingDelivery],
        step: Scenario.Step,
        reason: String? = nil
    ) async -> ScenarioStopped {
        let interrupted = await shop.engine.isStopped
        let what = interrupted ? "interrupted" : (reason ?? "still pending after --wait")
        return ScenarioStopped(
            results: results,
            nextStep: next,
            pending: pending,
            message: "\(scenario.file):\(step.line): step \(step.number): \(what)"
        )
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
