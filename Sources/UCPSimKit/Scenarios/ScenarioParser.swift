import Foundation
import Yams

/// Reads the YAML node tree of a scenario, keeping line numbers for errors.
struct ScenarioParser {
    struct Failure: Error {
        let line: Int
        var step: Int? = nil
        let message: String
    }

    let file: String

    private static let actionKeys = ["place", "advance", "interaction", "checkout"] + OrderTransition.names
    private static let stepParameters = OrderTransition.parameterNames.union(["expect", "mutate"])

    func scenario(_ root: Node) throws(Failure) -> Scenario {
        guard let mapping = root.mapping else {
            throw Failure(line: line(root), message: "the top level must be a mapping with `orders` and `steps`")
        }
        try checkKeys(mapping, allowed: ["name", "orders", "steps", "delivery"], at: root)
        let name = root["name"]?.string ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        guard let ordersNode = root["orders"], let orderList = ordersNode.sequence, !orderList.isEmpty else {
            throw Failure(line: line(root), message: "`orders` must be a non-empty list")
        }
        var specs: [OrderSpec] = []
        var groups: [String: [String]] = [:]
        for (index, node) in orderList.enumerated() {
            let (id, expanded) = try orders(node, index: index)
            guard groups[id] == nil, !specs.contains(where: { spec in expanded.contains { $0.id == spec.id } }) else {
                throw Failure(line: line(node), message: "order id \(id) is used twice")
            }
            groups[id] = expanded.map(\.id)
            specs += expanded
        }
        guard let stepsNode = root["steps"], let stepList = stepsNode.sequence, !stepList.isEmpty else {
            throw Failure(line: line(root), message: "`steps` must be a non-empty list")
        }
        // Orders `checkout:` steps place: later steps name them like declared ones (`all` stays the declared).
        var named = groups
        for node in stepList {
            if let id = node["checkout"]?["order"]?.string, named[id] == nil { named[id] = [id] }
        }
        var steps: [Scenario.Step] = []
        for (index, node) in stepList.enumerated() {
            do {
                steps.append(try step(node, number: index + 1, groups: named, all: specs.map(\.id)))
            } catch var failure {
                failure.step = index + 1
                throw failure
            }
        }
        var scenario = Scenario(name: name, file: file, orders: specs, steps: steps)
        if let delivery = root["delivery"] {
            scenario.policy = try policy(delivery)
            scenario.engine = try engineSettings(delivery)
        }
        return scenario
    }

    /// `delivery: { retry_schedule: "1s,5s,5m", retry_4xx: false, jitter: 0.2, time_scale: 3600, concurrency: 8,
    /// unordered: false }`: the first three are the scenario's retry policy, the rest engine-wide settings.
    private func policy(_ node: Node) throws(Failure) -> Scenario.RetrySettings? {
        guard let mapping = node.mapping else {
            throw Failure(line: line(node), message: "`delivery` must be a mapping")
        }
        try checkKeys(
            mapping,
            allowed: ["retry_schedule", "retry_4xx", "jitter", "time_scale", "concurrency", "unordered"],
            at: node
        )
        var policy = Scenario.RetrySettings()
        if let schedule = node["retry_schedule"] {
            guard let delays = RetryPolicy.parseSchedule(schedule.string ?? "") else {
                throw Failure(
                    line: line(schedule),
                    message: "retry_schedule: \"\(schedule.string ?? "")\" is not a list of durations like 1s,5s,5m"
                )
            }
            policy.delays = delays
        }
        if let retry4xx = node["retry_4xx"] {
            guard let value = retry4xx.bool else {
                throw Failure(line: line(retry4xx), message: "retry_4xx must be true or false")
            }
            policy.retry4xx = value
        }
        if let jitter = node["jitter"] {
            guard let value = jitter.float, value >= 0, value < 1 else {
                throw Failure(line: line(jitter), message: "jitter must be a number from 0 to below 1")
            }
            policy.jitter = value
        }
        return policy == Scenario.RetrySettings() ? nil : policy
    }

    private func engineSettings(_ node: Node) throws(Failure) -> Scenario.EngineSettings {
        var settings = Scenario.EngineSettings()
        if let scale = node["time_scale"] {
            guard let value = scale.float, value > 0, value.isFinite else {
                throw Failure(
                    line: line(scale),
                    message: "time_scale must be a positive number (3600: an hour a second)"
                )
            }
            settings.timeScale = value
        }
        if let concurrency = node["concurrency"] {
            guard let value = concurrency.int, DeliveryEngine.Options.concurrencyRange.contains(value) else {
                throw Failure(line: line(concurrency), message: "concurrency must be a whole number from 1 to 256")
            }
            settings.concurrency = value
        }
        if let unordered = node["unordered"] {
            guard let value = unordered.bool else {
                throw Failure(line: line(unordered), message: "unordered must be true or false")
            }
            settings.unordered = value
        }
        return settings
    }

    /// One `orders:` entry, read by `OrderRequest` (the control API's type); errors point at the field's line.
    private func orders(_ node: Node, index: Int) throws(Failure) -> (String, [OrderSpec]) {
        let request: OrderRequest = try decode(OrderRequest.self, from: node, path: [.key("orders"), .index(index)])
        guard let id = request.id else {
            throw Failure(line: line(node), message: "orders[\(index)].id is required and must be a non-empty string")
        }
        let spec = request.spec
        guard let count = request.count else { return (id, [spec]) }
        return (
            id,
            (1...count).map { index in
                var copy = spec
                copy.id = "\(id)_\(String(format: "%03d", index))"
                return copy
            }
        )
    }

    /// Decodes a strict boundary type from `node`; a `FieldError` becomes a failure at the line of the field.
    private func decode<Value: Decodable>(_ type: Value.Type, from node: Node, path prefix: [FieldError.Component])
        throws(Failure) -> Value
    {
        do {
            return try YAMLDecoder().decode(Value.self, from: node)
        } catch let error as FieldError {
            throw Failure(
                line: line(Self.node(at: error.path, in: node)),
                message: error.nested(under: prefix).description
            )
        } catch {
            throw Failure(line: line(node), message: "\(FieldError(path: prefix, "cannot be read: \(error)"))")
        }
    }

    /// The deepest node along `path` (the node a field error is about).
    static func node(at path: [FieldError.Component], in root: Node) -> Node {
        var node = root
        for component in path {
            let next: Node? =
                switch component {
                case .key(let key):
                    node.mapping?.first { $0.key.string == key }.map { pair in pair.value }
                case .index(let index):
                    node.sequence.flatMap { index < $0.count ? $0[index] : nil }
                }
            guard let next else { break }
            node = next
        }
        return node
    }

    private func step(_ node: Node, number: Int, groups: [String: [String]], all: [String]) throws(Failure)
        -> Scenario.Step
    {
        guard let mapping = node.mapping else { throw Failure(line: line(node), message: "a step must be a mapping") }
        let actions = mapping.keys.compactMap(\.string).filter { Self.actionKeys.contains($0) }
        guard actions.count == 1, let action = actions.first, let value = node[action] else {
            let unknown = mapping.keys.compactMap(\.string).filter {
                !Self.actionKeys.contains($0) && !Self.stepParameters.contains($0)
            }
            let hint = unknown.isEmpty ? "" : " (unknown: \(unknown.joined(separator: ", ")))"
            throw Failure(
                line: line(node),
                message:
                    "a step needs exactly one action: place, advance, interaction or a transition (\(OrderTransition.names.joined(separator: ", ")))\(hint)"
            )
        }
        if action == "interaction" {
            // The interaction's fields sit under `interaction:`; nothing else goes beside it (nothing is delivered
            // for it yet, so there is nothing to expect or mutate).
            try checkKeys(mapping, allowed: ["interaction"], at: node)
            let interaction = try decode(AgentInteraction.self, from: value, path: [.key("interaction")])
            if let order = interaction.order, !all.contains(order) {
                throw Failure(
                    line: line(Self.node(at: [.key("order")], in: value)),
                    message:
                        "interaction.order: unknown order \(order) (declared: \(groups.keys.sorted().joined(separator: ", ")))"
                )
            }
            return .init(
                number: number,
                line: line(node),
                action: .interaction(interaction),
                orders: interaction.order.map { [$0] } ?? [],
                expectation: .accepted
            )
        }
        if action == "checkout" {
            try checkKeys(mapping, allowed: ["checkout", "expect"], at: node)
            let script = try checkout(value)
            let expectation = try node["expect"].map { node throws(Failure) in try self.expectation(node) }
            return .init(
                number: number,
                line: line(node),
                action: .checkout(script),
                orders: [script.order],
                expectation: expectation ?? .accepted
            )
        }
        try checkKeys(mapping, allowed: Self.stepParameters.union([action]), at: node)
        if action == "advance" {
            return .init(
                number: number,
                line: line(node),
                action: .advance(try duration(value)),
                orders: [],
                expectation: .accepted
            )
        }
        let orders = try selector(value, groups: groups, all: all)
        var mutation: String?
        if let mutate = node["mutate"] {
            guard let id = mutate.string, CheckCatalog.mutations.contains(id) else {
                throw Failure(
                    line: line(mutate),
                    message:
                        "mutate: \"\(mutate.string ?? "")\" is not one of \(CheckCatalog.mutations.sorted().joined(separator: ", "))"
                )
            }
            mutation = id
        }
        // A mutated delivery is expected as the catalog grades its case (accepted or a 4xx) unless the step says otherwise.
        let accepted = mutation.map { id in CheckCatalog.cases.first { $0.id == id }?.expected == .accept } ?? true
        let fallback = accepted ? DeliveryExpectation.accepted : .init(status: .statusClass(4), attempts: nil)
        let expectation = try node["expect"].map { node throws(Failure) in try self.expectation(node) } ?? fallback
        let result: Scenario.Action = action == "place" ? .place : .transition(try transition(action, node))
        var step = Scenario.Step(
            number: number,
            line: line(node),
            action: result,
            orders: orders,
            expectation: expectation
        )
        step.mutation = mutation
        return step
    }

    /// `checkout: {order, create, update?, complete?, expect?: {status, messages}}`: the bodies as the REST API
    /// reads them.
    private func checkout(_ node: Node) throws(Failure) -> Scenario.CheckoutScript {
        guard let mapping = node.mapping else {
            throw Failure(line: line(node), message: "checkout: must be a mapping with order, create, update, complete")
        }
        try checkKeys(mapping, allowed: ["order", "create", "update", "complete", "expect"], at: node)
        guard let order = node["order"]?.string, Identifier.problem(order) == nil else {
            throw Failure(line: line(node), message: "checkout.order: is required: the id the placed order gets")
        }
        guard let create = node["create"] else {
            throw Failure(line: line(node), message: "checkout.create: is required: the create request body")
        }
        let input = try decode(CheckoutInput.CreateBody.self, from: create, path: [.key("checkout"), .key("create")])
        let update = try node["update"].map { node throws(Failure) in
            try decode(CheckoutInput.UpdateBody.self, from: node, path: [.key("checkout"), .key("update")]).input
        }
        let complete = try node["complete"].map { node throws(Failure) in
            try decode(CompleteInput.Body.self, from: node, path: [.key("checkout"), .key("complete")]).input
        }
        var status: Checkout.Status = complete == nil ? .readyForComplete : .completed
        var messages: [String]?
        if let expect = node["expect"] {
            guard let expectMapping = expect.mapping else {
                throw Failure(line: line(expect), message: "checkout.expect: must be {status, messages}")
            }
            try checkKeys(expectMapping, allowed: ["status", "messages"], at: expect)
            if let text = expect["status"] {
                guard let value = text.string.flatMap(Checkout.Status.init(rawValue:)) else {
                    throw Failure(
                        line: line(text),
                        message:
                            "checkout.expect.status: one of \(Checkout.Status.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                status = value
            }
            if let list = expect["messages"] {
                guard let codes = list.sequence?.compactMap(\.string), codes.count == list.sequence?.count else {
                    throw Failure(line: line(list), message: "checkout.expect.messages: a list of message codes")
                }
                messages = codes
            }
        }
        return Scenario.CheckoutScript(
            order: order,
            create: input.input,
            update: update,
            complete: complete,
            status: status,
            messages: messages
        )
    }

    /// The step's transition, its parameters (the keys beside the action) read by `TransitionParameters`.
    private func transition(_ name: String, _ node: Node) throws(Failure) -> OrderTransition {
        let pairs = (node.mapping ?? [:]).filter { key, _ in
            key.string.map(OrderTransition.parameterNames.contains) ?? false
        }
        let parameters = Node.Mapping(pairs.map { ($0.key, $0.value) }, .implicit, .any, node.mark)
        let transition: OrderTransition?
        do {
            let decoded = try decode(TransitionParameters.self, from: .mapping(parameters), path: [])
            transition = try OrderTransition.make(name: name, parameters: decoded)
        } catch let error as Failure {
            throw error
        } catch let error as FieldError {
            throw Failure(line: line(Self.node(at: error.path, in: node)), message: error.description)
        } catch {
            throw Failure(line: line(node), message: "\(error)")
        }
        guard let transition else { throw Failure(line: line(node), message: "unknown transition `\(name)`") }
        return transition
    }

    private func selector(_ node: Node, groups: [String: [String]], all: [String]) throws(Failure) -> [String] {
        let names = node.sequence?.compactMap(\.string) ?? node.string.map { [$0] } ?? []
        guard !names.isEmpty else {
            throw Failure(line: line(node), message: "name the order(s): an id, a list of ids, or `all`")
        }
        var ids: [String] = []
        for name in names {
            if name == "all" {
                ids += all
            } else if let group = groups[name] {
                ids += group
            } else if all.contains(name) {
                ids.append(name)
            } else {
                throw Failure(
                    line: line(node),
                    message: "unknown order \(name) (declared: \(groups.keys.sorted().joined(separator: ", ")))"
                )
            }
        }
        return ids
    }

    private func expectation(_ node: Node) throws(Failure) -> DeliveryExpectation {
        if node.mapping != nil {
            let status = try node["status"].map { node throws(Failure) in try self.status(node) } ?? .statusClass(2)
            let attempts: Int? = node["attempts"] == nil ? nil : try integer(node, "attempts")
            return .init(status: status, attempts: attempts)
        }
        return .init(status: try status(node), attempts: nil)
    }

    private func status(_ node: Node) throws(Failure) -> DeliveryExpectation.Status {
        let text = node.string?.lowercased() ?? ""
        if text.count == 3, text.hasSuffix("xx"), let first = Int(text.prefix(1)), (1...5).contains(first) {
            return .statusClass(first)
        }
        if let exact = Int(text), (100...599).contains(exact) { return .exact(exact) }
        throw Failure(line: line(node), message: "expect: \"\(text)\" is not a status (2xx, 4xx, 5xx or e.g. 401)")
    }

    private func duration(_ node: Node) throws(Failure) -> TimeInterval {
        let text = node.string ?? ""
        if let seconds = RetryPolicy.parseDuration(text) { return seconds }
        throw Failure(line: line(node), message: "advance: \"\(text)\" is not a duration (e.g. 90s, 15m, 2h, 1d)")
    }

    private func checkKeys(_ mapping: Node.Mapping, allowed: Set<String>, at node: Node) throws(Failure) {
        for key in mapping.keys {
            guard let name = key.string, allowed.contains(name) else {
                throw Failure(
                    line: line(key),
                    message: "unknown key `\(key.string ?? "?")` (allowed: \(allowed.sorted().joined(separator: ", ")))"
                )
            }
        }
    }

    private func integer(_ node: Node, _ key: String, default fallback: Int? = nil) throws(Failure) -> Int {
        guard let value = node[key] else {
            if let fallback { return fallback }
            throw Failure(line: line(node), message: "`\(key)` is required and must be an integer")
        }
        guard let number = value.int else {
            throw Failure(
                line: line(value),
                message: "`\(key)` must be an integer (minor units for money), got \"\(value.string ?? "?")\""
            )
        }
        return number
    }

    private func line(_ node: Node) -> Int { node.mark?.line ?? 0 }
}
