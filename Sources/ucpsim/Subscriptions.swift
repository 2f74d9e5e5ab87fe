import ArgumentParser
import Foundation
import UCPSimKit

extension DialectName: ExpressibleByArgument {}

struct Subscriptions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage webhook subscriptions in the state directory's database (the same ones serve's /v1/webhooks "
            + "manages).",
        discussion: """
            Works beside a running `ucpsim serve` on the same --state directory: both see each other's changes. \
            Exit codes: 0 done; 64 usage or a refused field (named); 66 no such subscription, or no state database \
            yet; 73 the database cannot be written.
            """,
        subcommands: [Add.self, List.self, Show.self, Update.self, Remove.self]
    )

    struct StateOption: ParsableArguments {
        @Option(help: ArgumentHelp("State directory (its ucpsim.sqlite holds the subscriptions).", valueName: "dir"))
        var state = ".ucpsim"

        @Flag(help: "Print JSON (the API's shape).")
        var json = false

        /// The registry on the directory's database; `create: false` refuses a directory without one (exit 66).
        func registry(create: Bool = false) throws(UCPSimError) -> SubscriptionRegistry {
            let database = try ShopDatabase.open(directory: state, create: create)
            do {
                return try SubscriptionRegistry(database: database)
            } catch {
                throw UCPSimError(.cannotCreate, error.message)
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a subscription and print it with its secret (shown this once)."
        )

        @OptionGroup var state: StateOption

        @Option(help: ArgumentHelp("The receiver: https, or http on a loopback host.", valueName: "url"))
        var url: String

        @Option(
            name: .customLong("event-type"),
            help: ArgumentHelp(
                "An event to receive (repeatable): \(EventType.names.joined(separator: ", ")), or * for all.",
                valueName: "type"
            )
        )
        var eventTypes: [String] = []

        @Option(help: "How its webhooks are shaped and signed.")
        var dialect = DialectName.ucp

        @Option(
            help: ArgumentHelp(
                "The shared secret (24–64 key bytes); default: whsec_ + base64 of 32 random bytes.",
                valueName: "secret"
            )
        )
        var secret: String?

        @Option(help: ArgumentHelp("A note for people.", valueName: "text"))
        var description: String?

        @Flag(help: "Create it disabled.")
        var disabled = false

        func validate() throws {
            try validating { () throws(FieldError) in
                _ = try SubscriptionRules.checkURL(url)
                _ = try SubscriptionRules.eventTypes(eventTypes)
                if let secret { try SubscriptionRules.checkSecret(WebhookSecret(secret), dialect: dialect) }
                if let description { try SubscriptionRules.checkDescription(description) }
            }
        }

        func run() async throws {
            try await reportingErrors {
                let new = NewSubscription(
                    url: url,
                    eventTypes: try SubscriptionRules.eventTypes(eventTypes),
                    dialect: dialect,
                    description: description,
                    secret: secret.map(WebhookSecret.init),
                    enabled: !disabled
                )
                let registry = try state.registry(create: true)
                let created = try await calling { () async throws(SubscriptionError) in
                    try await registry.add(new, origin: .cli)
                }
                print(created.subscription, secret: created.secret, json: state.json)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per subscription (no secrets).")

        @OptionGroup var state: StateOption

        func run() async throws {
            try await reportingErrors {
                let registry = try state.registry()
                let all = try await calling { () async throws(SubscriptionError) in try await registry.list() }
                if state.json {
                    outputLine(String(decoding: Subscription.json(list: all), as: UTF8.self))
                    return
                }
                let rows =
                    [["ID", "ENABLED", "DIALECT", "EVENTS", "URL", "DESCRIPTION"]]
                    + all.map { subscription in
                        [
                            subscription.id.rawValue, subscription.enabled ? "yes" : "no",
                            subscription.dialect.rawValue, eventList(subscription.eventTypes),
                            subscription.url, subscription.description ?? "-",
                        ]
                    }
                let widths = (0..<6).map { column in rows.map { $0[column].count }.max() ?? 0 }
                for row in rows {
                    let cells = zip(row, widths).map { cell, width in
                        cell.padding(toLength: width, withPad: " ", startingAt: 0)
                    }
                    outputLine(Identifier.printable(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces)))
                }
                outputLine("\(all.count) subscription(s)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One subscription (its secret is never shown).")

        @OptionGroup var state: StateOption

        @Argument(help: ArgumentHelp("The subscription's id (sub_…).", valueName: "id"))
        var id: String

        func run() async throws {
            try await reportingErrors {
                let id = SubscriptionID(id)
                let registry = try state.registry()
                let found = try await calling { () async throws(SubscriptionError) in try await registry.get(id) }
                guard let found else { throw UCPSimError(.noInput, "no subscription \(id) in \(state.state)") }
                print(found, secret: nil, json: state.json)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a subscription; a new secret (--rotate-secret, --secret) is printed this once.",
            discussion: """
                After a rotation the previous secret still signs (beside the new one) for 24 hours, or until the \
                next rotation.
                """
        )

        @OptionGroup var state: StateOption

        @Argument(help: ArgumentHelp("The subscription's id (sub_…).", valueName: "id"))
        var id: String

        @Option(help: ArgumentHelp("A new receiver URL.", valueName: "url"))
        var url: String?

        @Option(
            name: .customLong("event-type"),
            help: ArgumentHelp("Replace the events it receives (repeatable; * for all).", valueName: "type")
        )
        var eventTypes: [String] = []

        @Option(help: ArgumentHelp("A new description.", valueName: "text"))
        var description: String?

        @Flag(name: .customLong("clear-description"), help: "Remove the description.")
        var clearDescription = false

        @Flag(help: "Turn deliveries on (clears a reason such as a 410).")
        var enable = false

        @Flag(help: "Turn deliveries off.")
        var disable = false

        @Flag(name: .customLong("rotate-secret"), help: "Generate a new secret.")
        var rotateSecret = false

        @Option(help: ArgumentHelp("Use this new secret.", valueName: "secret"))
        var secret: String?

        func validate() throws {
            if enable && disable { throw ValidationError("give --enable or --disable, not both") }
            if rotateSecret && secret != nil { throw ValidationError("give --rotate-secret or --secret, not both") }
            if clearDescription && description != nil {
                throw ValidationError("give --description or --clear-description, not both")
            }
            try validating { () throws(FieldError) in
                if let url { _ = try SubscriptionRules.checkURL(url) }
                if !eventTypes.isEmpty { _ = try SubscriptionRules.eventTypes(eventTypes) }
                if let description { try SubscriptionRules.checkDescription(description) }
            }
            if changes.isEmpty { throw ValidationError("nothing to change: give at least one option") }
        }

        var changes: SubscriptionChanges {
            var changes = SubscriptionChanges(url: url, enabled: enable ? true : disable ? false : nil)
            if !eventTypes.isEmpty { changes.eventTypes = try? SubscriptionRules.eventTypes(eventTypes) }
            if clearDescription {
                changes.description = .some(nil)
            } else if let description {
                changes.description = description
            }
            if rotateSecret {
                changes.secret = .rotate
            } else if let secret {
                changes.secret = .set(WebhookSecret(secret))
            }
            return changes
        }

        func run() async throws {
            try await reportingErrors {
                let id = SubscriptionID(id)
                let changes = self.changes
                let registry = try state.registry()
                let updated = try await calling { () async throws(SubscriptionError) in
                    try await registry.update(id, changes)
                }
                print(updated.subscription, secret: updated.secret, json: state.json)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a subscription and its secrets.")

        @OptionGroup var state: StateOption

        @Argument(help: ArgumentHelp("The subscription's id (sub_…).", valueName: "id"))
        var id: String

        func run() async throws {
            try await reportingErrors {
                let id = SubscriptionID(id)
                let registry = try state.registry()
                try await calling { () async throws(SubscriptionError) in try await registry.remove(id) }
                outputLine("removed \(id)")
            }
        }
    }
}

/// The CLI's option for an API field, in messages.
private let optionNames = [
    "url": "--url", "event_types": "--event-type", "secret_key": "--secret", "description": "--description",
    "dialect": "--dialect",
]

/// A field problem as the CLI says it: the option's name and the problem.
private func optionMessage(_ error: FieldError) -> String {
    guard case .key(let key) = error.path.first, let option = optionNames[key] else { return error.description }
    if case .index(let index) = error.path.dropFirst().first {
        return "\(option) (#\(index + 1)) \(error.problem)"
    }
    return "\(option) \(error.problem)"
}

/// Runs checks made while arguments are parsed: a refused field is a `ValidationError` (exit 64).
private func validating(_ checks: () throws(FieldError) -> Void) throws {
    do throws(FieldError) {
        try checks()
    } catch {
        throw ValidationError(optionMessage(error))
    }
}

/// Runs a registry call, turning its error into the CLI's line and exit code.
private func calling<T>(_ call: () async throws(SubscriptionError) -> T) async throws -> T {
    do {
        return try await call()
    } catch {
        switch error.kind {
        case .invalid: throw UCPSimError(.usage, error.field.map(optionMessage) ?? error.message)
        case .notFound: throw UCPSimError(.noInput, error.message)
        case .storage: throw UCPSimError(.cannotCreate, error.message)
        }
    }
}

private func eventList(_ types: [EventType]) -> String {
    types.count == EventType.allCases.count ? "*" : types.map(\.rawValue).joined(separator: ",")
}

/// Prints a subscription: JSON (the API's shape), or one field a line; `secret` only when this change made it.
private func print(_ subscription: Subscription, secret: WebhookSecret?, json: Bool) {
    if json {
        outputLine(String(decoding: subscription.json(secret: secret), as: UTF8.self))
        return
    }
    var lines = [
        ("id", subscription.id.rawValue),
        ("url", subscription.url),
        ("event_types", subscription.eventTypes.map(\.rawValue).joined(separator: ", ")),
        ("dialect", subscription.dialect.rawValue),
        ("description", subscription.description ?? "-"),
        ("enabled", subscription.enabled ? "yes" : "no"),
    ]
    if let reason = subscription.disabledReason { lines.append(("disabled_reason", reason)) }
    lines += [
        ("created_at", subscription.createdAt.formatted(.iso8601)),
        ("updated_at", subscription.updatedAt.formatted(.iso8601)),
    ]
    for (name, value) in lines {
        outputLine(Identifier.printable(name.padding(toLength: 16, withPad: " ", startingAt: 0) + value))
    }
    if let secret {
        outputLine("secret_key      \(secret.text)")
        stderrLine("note: the secret is shown this once; store it now (`update --rotate-secret` makes a new one)")
    }
}
