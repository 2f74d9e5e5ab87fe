import ArgumentParser
import Foundation
import UCPSimKit

struct Trigger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Deliver one event of a type from the smallest order history that makes it (like Stripe CLI's trigger).",
        discussion: """
            Places a new order (and processes it, for order.updated and fulfillment.status_changed) and delivers the \
            last change's events of EVENT_TYPE to every enabled subscription in --state that wants them \
            (`ucpsim subscriptions add`), or to --webhook-url alone in --dialect (with --secret for the HMAC \
            dialects). --override path=value changes a field of each body before it is signed. Exits 0 when every \
            delivery got a 2xx, 1 when one was dead-lettered, 64 when nothing receives the type, 69 when no receiver \
            answered, 75 when retries are still pending after --wait.
            """
    )

    @Argument(help: ArgumentHelp("One of: \(EventType.names.joined(separator: ", ")).", valueName: "event-type"))
    var eventType: String

    @Option(
        name: .customLong("webhook-url"),
        help: ArgumentHelp("Deliver here alone instead of to the registered subscriptions.", valueName: "url")
    )
    var webhookURL: String?

    @Option(help: ArgumentHelp("With --webhook-url: \(DialectName.names.joined(separator: ", ")).", valueName: "name"))
    var dialect: String?

    @Option(help: ArgumentHelp("With --webhook-url in an HMAC dialect: the shared secret.", valueName: "secret"))
    var secret: String?

    @Option(
        name: .customLong("override"),
        help: ArgumentHelp(
            "Set a field of the body: a dot path and a value (JSON, or text), e.g. data.new_status=FAILED.",
            valueName: "path=value"
        )
    )
    var overrides: [String] = []

    @Option(help: "Port for the shop's profile server (default: the one this --state directory's shop had).")
    var port: Port?

    @OptionGroup var shop: ShopOptions
    @OptionGroup var delivery: DeliveryOptions
    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard EventType(rawValue: eventType) != nil else {
            throw ValidationError(
                "unknown event type \"\(eventType)\"; one of: \(EventType.names.joined(separator: ", "))"
            )
        }
        if let webhookURL { _ = try validatedURL(webhookURL, option: "--webhook-url") }
        guard webhookURL != nil || (dialect == nil && secret == nil) else {
            throw ValidationError("--dialect and --secret go with --webhook-url (subscriptions have their own)")
        }
        let name = try chosenDialect()
        if name == .ucp, secret != nil {
            throw ValidationError(
                "the ucp dialect signs with the shop's key: --secret is for ucp-hmac and standard-webhooks"
            )
        }
        if name != .ucp {
            guard let secret else { throw ValidationError("--dialect \(name.rawValue) needs --secret") }
            do {
                var key = try WebhookSecret(secret).signingKey(for: name)
                HMACSHA256.cleanse(&key)
            } catch {
                throw ValidationError("--secret is \(error.message)")
            }
        }
        for text in overrides {
            do { _ = try BodyOverride(parsing: text) } catch { throw ValidationError(error.message) }
        }
    }

    private func chosenDialect() throws -> DialectName {
        guard let dialect else { return .ucp }
        guard let name = DialectName(rawValue: dialect) else {
            throw ValidationError(
                "unknown dialect \"\(dialect)\"; one of: \(DialectName.names.joined(separator: ", "))"
            )
        }
        return name
    }

    func run() async throws {
        try await reportingErrors {
            guard let type = EventType(rawValue: eventType) else { throw UCPSimError(.usage, "unknown event type") }
            let changes = try overrides.map { text throws(UCPSimError) in try BodyOverride(parsing: text) }
            let dialect = (try? chosenDialect()) ?? .ucp
            let running = try await startShop(shop, delivery, client, port: port) { state, attempt in
                outputLine(DeliveryReport.attemptLine(state, attempt))
            }
            let deliveries: [Delivery]
            do {
                running.webhooks.setAudience(try audience(type: type, dialect: dialect))
                let orderID = "ord_trg_" + UUID().uuidString.prefix(8).lowercased()
                let events = try await TriggerHistory.events(
                    for: type,
                    orderID: orderID,
                    book: running.book,
                    now: Int64(Date().timeIntervalSince1970)
                )
                deliveries = try await running.webhooks.publish(
                    [events],
                    rewrite: changes.isEmpty
                        ? nil
                        : { body throws(UCPSimError) in
                            var body = body
                            for change in changes { body = try change.apply(to: body) }
                            return body
                        }
                )
                guard !deliveries.isEmpty else {
                    throw UCPSimError(
                        .usage,
                        "nothing receives \(type.rawValue): no enabled subscription in \(delivery.state) wants it "
                            + "(`ucpsim subscriptions add`), or give --webhook-url"
                    )
                }
                outputLine(
                    "\(type.rawValue) \(deliveries[0].event.webhookID) (order \(orderID)): "
                        + "\(deliveries.count) deliver\(deliveries.count == 1 ? "y" : "ies")"
                )
            } catch {
                await running.stop()
                throw error
            }
            let waited = await DeliveryReport.wait(
                for: deliveries,
                engine: running.engine,
                until: Date().addingTimeInterval(delivery.waitSeconds)
            )
            await running.stop()
            try DeliveryReport.conclude(waited, target: webhookURL.map { "receiver \($0)" } ?? "receiver")
        }
    }

    /// The registered subscriptions, or the one URL given (an ad-hoc subscription in an HMAC dialect, with its
    /// secret, for this run only).
    private func audience(type: EventType, dialect: DialectName) throws(UCPSimError) -> WebhookPublisher.Audience {
        guard let webhookURL else { return WebhookPublisher.Audience(registered: true) }
        let target = try parseTarget(webhookURL, option: "--webhook-url")
        if dialect == .ucp { return WebhookPublisher.Audience(registered: false, url: target) }
        let now = Date()
        let subscription = Subscription(
            id: .make(),
            url: target.url,
            eventTypes: [type],
            dialect: dialect,
            description: "ucpsim trigger",
            enabled: true,
            disabledReason: nil,
            createdAt: now,
            updatedAt: now
        )
        return WebhookPublisher.Audience(registered: false, adHoc: [(subscription, secret.map(WebhookSecret.init))])
    }
}
