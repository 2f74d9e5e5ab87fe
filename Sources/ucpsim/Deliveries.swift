import ArgumentParser
import Foundation
import UCPSimKit

struct Deliveries: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Inspect the outbox and send again: list, show, redeliver dead letters, resend any event, resume pending, "
            + "repair a damaged journal.",
        subcommands: [List.self, Show.self, Redeliver.self, Resend.self, Resume.self, Repair.self]
    )

    struct StateOption: ParsableArguments {
        @Option(help: ArgumentHelp("Outbox directory.", valueName: "dir"))
        var state = ".ucpsim"

        /// The outbox as it is now, read without writing (a running `ucpsim` may hold it). Damaged lines are
        /// skipped, with a note on stderr saying where they are and how to repair them. `headers`: with the
        /// attempts' recorded request headers.
        func load(headers: Bool = true) throws(UCPSimError) -> OutboxSnapshot {
            let snapshot = try Outbox.inspect(directory: state, headers: headers)
            if !snapshot.damagedLines.isEmpty {
                stderrLine("ucpsim: note: \(Outbox.damageNote(directory: state, lines: snapshot.damagedLines))")
            }
            return snapshot
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "One line per delivery: delivery id, order, state, attempts, last status, receiver, dialect, event "
                + "type (and the event id and subscription when it has them).",
            discussion: """
                The filters are those of serve's GET /v1/deliveries: every one given must hold. Exit codes: 0 listed \
                (none matching included); 64 a bad filter value (the option is named); 66 no outbox.
                """
        )

        @OptionGroup var state: StateOption

        @Option(help: ArgumentHelp("Only deliveries in this state: pending, delivered or dead.", valueName: "status"))
        var status: String?

        /// The option's name before `--status`; kept working.
        @Option(help: .hidden)
        var only: String?

        @Option(help: ArgumentHelp("Only deliveries to this subscription.", valueName: "id"))
        var subscription: String?

        @Option(help: ArgumentHelp("Only deliveries about this order.", valueName: "id"))
        var order: String?

        @Option(
            name: .customLong("event-type"),
            help: ArgumentHelp(
                "Only deliveries of this event type (\(EventType.names.joined(separator: ", "))).",
                valueName: "type"
            )
        )
        var eventType: String?

        @Flag(help: "Print JSON.")
        var json = false

        /// The options as one filter (the rule `GET /v1/deliveries` applies to its query).
        func filter() throws -> DeliveryFilter {
            if let status, let only, status != only {
                throw ValidationError("--only is the old name of --status: give one of them")
            }
            do {
                return try DeliveryFilter(
                    status: status ?? only,
                    subscription: subscription,
                    order: order,
                    eventType: eventType
                )
            } catch {
                let option: String
                switch error.path.first {
                case .key("status"): option = status == nil ? "--only" : "--status"
                case .key("event_type"): option = "--event-type"
                case .key(let name): option = "--\(name)"
                default: option = "the filter"
                }
                throw ValidationError("\(option): \(error.problem)")
            }
        }

        func validate() throws { _ = try filter() }

        func run() async throws {
            try await reportingErrors {
                let filter = try filter()
                let states = try state.load(headers: false).states.filter(filter.matches)
                if json {
                    let rows: [[String: Any]] = states.map { state in
                        [
                            "delivery_id": state.id.rawValue, "webhook_id": state.event.webhookID,
                            "subscription": state.subscription?.rawValue as Any? ?? NSNull(),
                            "dialect": state.dialect.rawValue, "event_type": state.eventType.rawValue,
                            "order": state.event.orderID,
                            "state": state.phase.name,
                            "attempts": state.attempts.count,
                            "last_status": state.attempts.last?.status as Any? ?? NSNull(),
                            "target": state.target,
                        ]
                    }
                    let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
                    outputLine(String(decoding: data, as: UTF8.self))
                    return
                }
                for state in states {
                    let last = state.attempts.last.map { $0.status.map { "HTTP \($0)" } ?? "no response" } ?? "-"
                    var line =
                        "\(state.id)  \(state.event.orderID)  \(state.phase.name)  attempts=\(state.attempts.count)  last=\(last)  \(state.target)  \(state.dialect.rawValue)  \(state.eventType.rawValue)"
                    if state.id.rawValue != state.event.webhookID { line += "  event=\(state.event.webhookID)" }
                    if let subscription = state.subscription { line += "  subscription=\(subscription)" }
                    outputLine(Identifier.printable(line))
                }
                let events = Set(states.map(\.event.webhookID)).count
                outputLine("\(states.count) deliver\(states.count == 1 ? "y" : "ies") of \(events) event(s)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "One delivery (or each delivery of one event): every attempt with its response excerpt or error, "
                + "then the request as sent on the newest attempt: header fields, signature base and body.",
            discussion: """
                Reads the outbox without its lock (a running ucpsim may hold it). Text from outside (response \
                excerpts, headers, the body) keeps its line breaks; any other control character is printed as \
                \\u{…}. Exit codes: 0 shown; 66 no outbox, or no such delivery or event.
                """
        )

        @OptionGroup var state: StateOption

        @Argument(
            help: ArgumentHelp(
                "A delivery id, or an event's Webhook-Id (each of its deliveries is shown).",
                valueName: "id"
            )
        )
        var webhookID: String

        func run() async throws {
            try await reportingErrors {
                let outbox = try state.load()
                let named = DeliveryState.named(webhookID, in: outbox.states)
                guard !named.isEmpty else {
                    throw UCPSimError(.noInput, "no delivery or event \(webhookID) in \(state.state)")
                }
                for (index, found) in named.enumerated() {
                    if index > 0 { outputLine("") }
                    DeliveryDescription.lines(found, body: outbox.readBody(of: found.id)).forEach(outputLine)
                }
            }
        }
    }

    struct Redeliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resend dead letters: the same Webhook-Id and bytes, freshly signed, with a new round of retries."
        )

        @Argument(
            help: ArgumentHelp(
                "Delivery ids or event Webhook-Ids (all of that event's deliveries) to resend (default with --all: "
                    + "every dead letter).",
                valueName: "id"
            )
        )
        var webhookIDs: [String] = []

        @Flag(help: "Resend every dead letter.")
        var all = false

        @OptionGroup var shop: ShopOptions
        @OptionGroup var delivery: DeliveryOptions
        @OptionGroup var client: ClientOptions

        func validate() throws {
            if webhookIDs.isEmpty != all {
                throw ValidationError("name delivery or event ids or give --all, not both or neither")
            }
        }

        func run() async throws {
            try await reportingErrors {
                // Checked before the shop starts: a wrong id or directory sends nothing, resumes nothing.
                let known = try outbox(delivery.state, having: webhookIDs).states
                let named = Set(webhookIDs.flatMap { DeliveryState.named($0, in: known) }.map(\.id))
                let notDead = known.filter { named.contains($0.id) }.compactMap { state -> String? in
                    if case .dead = state.phase { return nil }
                    return "\(state.id) (\(state.phase.name))"
                }
                guard notDead.isEmpty else {
                    throw UCPSimError(
                        .usage,
                        "not dead letters: \(notDead.joined(separator: ", ")); `ucpsim deliveries resend` sends any "
                            + "event again"
                    )
                }
                if all, !known.contains(where: { if case .dead = $0.phase { true } else { false } }) {
                    outputLine("no dead letters in \(delivery.state); nothing sent")
                    return
                }
                let running = try await startShopToSendAgain(
                    shop,
                    delivery,
                    client,
                    route: "redeliver",
                    ids: all ? [] : known.filter { named.contains($0.id) }.map(\.id)
                )
                let dead = running.history.filter {
                    if case .dead = $0.phase { return all || named.contains($0.id) }
                    return false
                }
                let count = try await stoppingOnError(running) { try await running.engine.redeliver(dead) }
                outputLine("redelivering \(count) deliver\(count == 1 ? "y" : "ies")")
                try await finish(running, ids: dead.map(\.id), wait: delivery.waitSeconds)
            }
        }
    }

    struct Resend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Send any delivery again, delivered or not: same body and Webhook-Id, freshly signed, with a new round "
                + "of retries; optionally to another receiver.",
            discussion: """
                Exit codes: 0 every resent event got a 2xx; 1 one was dead-lettered; 64 usage; 66 no outbox, or an \
                id it does not have (named); 69 unreachable; 73 the state directory is in use (by a running \
                serve: the message names its POST /v1/deliveries/ID/resend); 75 still pending after --wait.
                """
        )

        @Argument(
            help: ArgumentHelp(
                "Delivery ids, or event Webhook-Ids (all of that event's deliveries), to send again.",
                valueName: "id"
            )
        )
        var webhookIDs: [String]

        @Option(
            name: .customLong("webhook-url"),
            help: ArgumentHelp("Send to this receiver instead of each event's own.", valueName: "url")
        )
        var webhookURL: String?

        @OptionGroup var shop: ShopOptions
        @OptionGroup var delivery: DeliveryOptions
        @OptionGroup var client: ClientOptions

        func validate() throws {
            if webhookIDs.isEmpty { throw ValidationError("name at least one delivery or event id") }
            if let webhookURL { _ = try validatedURL(webhookURL, option: "--webhook-url") }
        }

        func run() async throws {
            try await reportingErrors {
                let destination = try webhookURL.map { url throws(UCPSimError) in
                    try parseTarget(url, option: "--webhook-url")
                }
                let snapshot = try outbox(delivery.state, having: webhookIDs)
                let wanted = Set(webhookIDs.flatMap { DeliveryState.named($0, in: snapshot.states) }.map(\.id))
                // Refused before the shop starts (and resumes what the outbox has pending).
                let unreadable = wanted.sorted().filter { snapshot.body(of: $0) == nil }.map(\.rawValue)
                guard unreadable.isEmpty else {
                    throw UCPSimError(
                        .dataError,
                        "the outbox no longer has the body of \(unreadable.joined(separator: ", "))"
                    )
                }
                let running = try await startShopToSendAgain(
                    shop,
                    delivery,
                    client,
                    route: "resend",
                    ids: snapshot.states.filter { wanted.contains($0.id) }.map(\.id),
                    webhookURL: webhookURL
                )
                let chosen = running.history.filter { wanted.contains($0.id) }
                let count = try await stoppingOnError(running) {
                    try await running.engine.resend(chosen, to: destination)
                }
                let onTheirWay = chosen.count - count
                outputLine(
                    "resending \(count) deliver\(count == 1 ? "y" : "ies")"
                        + (onTheirWay > 0 ? "; \(onTheirWay) already pending, continuing" : "")
                )
                try await finish(running, ids: chosen.map(\.id), wait: delivery.waitSeconds)
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Continue every pending delivery in the outbox (after a crash, or a command that stopped waiting)."
        )

        @OptionGroup var shop: ShopOptions
        @OptionGroup var delivery: DeliveryOptions
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await reportingErrors {
                // Like `list`: a directory without an outbox is a mistake, not an empty outbox to create.
                _ = try writableOutbox(delivery.state)
                let running = try await startShop(shop, delivery, client) { state, attempt in
                    outputLine(DeliveryReport.attemptLine(state, attempt))
                }
                let pending = running.history.filter { !$0.phase.isFinal }
                outputLine("resuming \(pending.count) pending deliver\(pending.count == 1 ? "y" : "ies")")
                try await finish(running, ids: pending.map(\.id), wait: delivery.waitSeconds)
            }
        }
    }

    struct Repair: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set damaged journal lines aside and keep every whole event (a backup of the journal is kept).",
            discussion: """
                Takes the outbox's lock like every writer (stop a running ucpsim on the directory first). Damaged \
                lines go to DIR/outbox.damaged.jsonl with their line numbers; the journal as it was stays as \
                DIR/outbox.jsonl.<time>.bak. Exit codes: 0 repaired or nothing to repair; 66 no outbox; 73 the \
                directory is in use or cannot be written.
                """
        )

        @OptionGroup var state: StateOption

        func run() async throws {
            try await reportingErrors {
                let report = try Outbox.repair(directory: state.state)
                report.summary.forEach(outputLine)
            }
        }
    }
}

/// The outbox a writing command is about to open, read first: a damaged journal is refused (exit 65, naming the lines
/// and the repair) before anything starts.
private func writableOutbox(_ directory: String) throws(UCPSimError) -> OutboxSnapshot {
    let snapshot = try Outbox.inspect(directory: directory)
    guard snapshot.damagedLines.isEmpty else {
        let path = (directory as NSString).appendingPathComponent("outbox.jsonl")
        throw UCPSimError(
            .dataError,
            Outbox.damageMessage(path: path, directory: directory, lines: snapshot.damagedLines)
        )
    }
    return snapshot
}

/// The outbox of `directory`, refused (exit 66, naming them) when it lacks any of `ids` (delivery or event ids).
private func outbox(_ directory: String, having ids: [String]) throws(UCPSimError) -> OutboxSnapshot {
    let snapshot = try writableOutbox(directory)
    let known = Set(snapshot.states.map(\.id.rawValue)).union(snapshot.states.map(\.event.webhookID))
    let unknown = ids.filter { !known.contains($0) }
    guard unknown.isEmpty else {
        throw UCPSimError(.noInput, "no such event or delivery in \(directory): \(unknown.joined(separator: ", "))")
    }
    return snapshot
}

/// `startShop` for `redeliver` and `resend`. While a running `ucpsim serve` holds the state directory the command
/// cannot open it (exit 73, as every writer); the refusal then names what works meanwhile: the same thing through
/// serve's API, `POST <base>/v1/deliveries/<id>/<route>` (its base URL as serve recorded it in the lock file, else
/// the port kept in `DIR/shop.json`).
private func startShopToSendAgain(
    _ shop: ShopOptions,
    _ delivery: DeliveryOptions,
    _ client: ClientOptions,
    route: String,
    ids: [DeliveryID],
    webhookURL: String? = nil
) async throws(UCPSimError) -> Shop {
    do throws(UCPSimError) {
        return try await startShop(shop, delivery, client) { state, attempt in
            outputLine(DeliveryReport.attemptLine(state, attempt))
        }
    } catch {
        guard error.exitCode == .cannotCreate, let holder = Outbox.holder(of: delivery.state),
            holder.command == nil || holder.command == "serve"
        else { throw error }
        let kept = (try? ShopIdentity.load(directory: delivery.state))?.port.map { "http://127.0.0.1:\($0)" }
        let base = holder.url ?? kept ?? "<serve's URL>"
        let named = ids.prefix(5).map(\.rawValue)
        var call = "POST \(base)/v1/deliveries/"
        if named.count == 1, let id = named.first {
            call += "\(id)/\(route)"
        } else {
            call += "{id}/\(route)"
            if !named.isEmpty {
                call += " for each of \(named.joined(separator: ", "))" + (ids.count > named.count ? ", …" : "")
            }
        }
        if let webhookURL { call += " with {\"webhook_url\": \"\(webhookURL)\"}" }
        call += " (Authorization: Bearer <its api token>)"
        let pid = holder.pid.map { " (pid \($0))" } ?? ""
        let message =
            holder.command == "serve"
            ? "state directory \(delivery.state) is held by a running `ucpsim serve`\(pid); while it runs, \(route) "
                + "through it: \(call); or stop it first"
            : "\(error.message); if it is `ucpsim serve`, \(route) through it while it runs: \(call)"
        throw UCPSimError(error.exitCode, Identifier.printable(message))
    }
}

/// Waits for `ids`, stops the shop, prints the summary, and maps the result to an exit code.
private func finish(_ shop: Shop, ids: [DeliveryID], wait: TimeInterval) async throws {
    let deadline = Date().addingTimeInterval(wait)
    var outcomes: [DeliveryEngine.Outcome] = []
    var stillPending = 0
    for id in ids {
        if let outcome = await shop.engine.outcome(of: id, until: deadline) {
            outcomes.append(outcome)
        } else {
            stillPending += 1
        }
    }
    let summary = shop.engine.metrics.summary()
    await shop.stop()
    outputLine(summary.description)
    if stillPending > 0 {
        throw UCPSimError(.tempFail, "\(stillPending) still pending after --wait; they stay in the outbox")
    }
    if outcomes.contains(where: { $0.phase != .delivered }) { throw ExitCode(1) }
}
