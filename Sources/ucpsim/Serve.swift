import Foundation
import ArgumentParser
import UCPSimKit

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the shop: its UCP profile, its orders, and the control API that drives them.",
        discussion: """
            GET /.well-known/ucp; the shopping REST binding (catalog, carts, checkout sessions, GET /orders/{id}); \
            identity linking's OAuth server (/.well-known/oauth-authorization-server, /oauth/*); \
            POST /testing/orders (create), \
            POST /testing/orders/{id}/{transition}, POST /testing/simulate-shipping/{id}. Each accepted control \
            call answers with the new snapshot and sends its webhook to --webhook-url (or the platform profile's). \
            Webhook subscriptions: /v1/webhooks (POST, GET; GET, PATCH, DELETE /v1/webhooks/{id}) with \
            Authorization: Bearer <token>, the token given with --api-token or generated and printed once on \
            stderr at start-up. Deliveries, behind the same token: GET /v1/deliveries (filters status, \
            subscription, order, event_type; cursor, limit), GET /v1/deliveries/{id} (attempts, the request as \
            sent), POST /v1/deliveries/{id}/resend ({"webhook_url"}: same id and bytes, signed afresh), POST \
            /v1/deliveries/{id}/redeliver (dead letters), GET /v1/events/stream (Server-Sent Events: queued, \
            attempt, outcome). The inspector page is /inspector. Runs until interrupted (Ctrl-C).
            """
    )

    @Option(
        name: .customLong("api-token"),
        help: ArgumentHelp(
            "Bearer token the management API (/v1/*) requires; default: a new one, printed once on stderr.",
            valueName: "token"
        )
    )
    var apiToken: String?

    @Option(
        name: .customLong("shop"),
        help: ArgumentHelp(
            "The shop file (YAML: products, fulfillment, discounts, payment handlers, tax, customers); default: the "
                + "embedded shop (fixtures/shop.yaml is a copy to edit).",
            valueName: "file"
        )
    )
    var shopFile: String?

    @Option(
        name: .customLong("fixed-time"),
        help: ArgumentHelp(
            "Stop the shop's clock at this instant (RFC 3339, e.g. 2026-11-29T04:00:00Z): checkouts' expires_at and orders' times never change, so the same requests on a fresh --state give byte-identical answers.",
            valueName: "time"
        )
    )
    var fixedTime: String?

    @Option(help: "Port to listen on.")
    var port = Port(8080)

    @Option(help: "Host to bind.")
    var host = "127.0.0.1"

    @OptionGroup var target: TargetOptions

    @Option(
        name: .customLong("simulation-secret"),
        help: ArgumentHelp(
            "Require this Simulation-Secret header on every /testing call (403 otherwise).",
            valueName: "secret"
        )
    )
    var simulationSecret: String?

    @Flag(
        name: .customLong("require-signed-requests"),
        help:
            "Refuse shopping requests (catalog, cart, checkout) without an RFC 9421 signature by a key of the UCP-Agent profile (401 signature_missing); by default a signature is checked when present."
    )
    var requireSignedRequests = false

    @Flag(
        name: .customLong("no-identity-linking"),
        help:
            "Leave out identity linking: no OAuth authorization server, no dev.ucp.common.identity_linking in the profile; GET /orders/{id} then answers only the platform that placed the order (signed request)."
    )
    var noIdentityLinking = false

    @Option(
        name: .customLong("oauth-client"),
        help: ArgumentHelp(
            "Register an OAuth client (repeatable), besides the shop file's oauth_clients: without SECRET a public client (PKCE, token_endpoint_auth_method none), with one client_secret_basic. A loopback redirect URI matches on any port.",
            valueName: "id[:secret]:redirect-uri"
        )
    )
    var oauthClients: [String] = []

    @Option(
        name: .customLong("auto-consent"),
        help: ArgumentHelp(
            "Sign this customer (shop file id or email) in and consent at /oauth/authorize without showing the page: the authorization request redirects straight back with a code (for CI).",
            valueName: "customer"
        )
    )
    var autoConsent: String?

    @Flag(
        name: .customLong("require-identity"),
        help:
            "Gate checkout too: every checkout operation needs a buyer token with dev.ucp.shopping.checkout:manage (as shops with B2B or age-restricted goods do)."
    )
    var requireIdentity = false

    @OptionGroup(title: "Platform profiles (fetched from UCP-Agent on shopping requests)")
    var profiles: ProfilePolicyOptions

    @Flag(
        name: .customLong("allow-unauthenticated-control"),
        help:
            "Serve the control API on a non-loopback --host without --simulation-secret (anyone who reaches it can drive the shop)."
    )
    var allowUnauthenticatedControl = false

    /// True for hosts only this machine reaches: `localhost`, or a literal address the profile fetch policy
    /// classifies as loopback (a name such as `127.example.com` is not an address, whatever its text).
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        return ProfileFetchPolicy.literalAddress(host).map { ProfileFetchPolicy.kind(of: $0) == .loopback } ?? false
    }

    var shoppingSetup: ShoppingSetup {
        var setup = ShoppingSetup(requireSignedRequests: requireSignedRequests)
        setup.profilePolicy = profiles.policy
        if !noIdentityLinking {
            setup.identity = IdentitySetup(
                clients: oauthClients.compactMap { try? OAuthClient.parse($0) },
                autoConsent: autoConsent,
                requireIdentity: requireIdentity
            )
        }
        return setup
    }

    /// `--fixed-time`, parsed.
    var frozenInstant: Date? { fixedTime.flatMap { ISO8601DateFormatter().date(from: $0) } }

    func validate() throws {
        if let fixedTime, frozenInstant == nil {
            throw ValidationError("--fixed-time \(fixedTime) is not an RFC 3339 time such as 2026-11-29T04:00:00Z")
        }
        var clientIDs: Set<String> = []
        for text in oauthClients {
            do {
                let client = try OAuthClient.parse(text)
                guard clientIDs.insert(client.id).inserted else {
                    throw ValidationError("--oauth-client \(client.id) is given twice")
                }
            } catch let error as FieldError {
                throw ValidationError("--oauth-client \(text): \(error.problem)")
            }
        }
        if let autoConsent, !Self.isLoopback(host) {
            throw ValidationError(
                "--auto-consent \(autoConsent) signs in as that customer anyone who reaches --host \(host): it is for a "
                    + "loopback --host only"
            )
        }
        if noIdentityLinking {
            for (given, name) in [
                (!oauthClients.isEmpty, "--oauth-client"), (autoConsent != nil, "--auto-consent"),
                (requireIdentity, "--require-identity"),
            ] where given {
                throw ValidationError("\(name) needs identity linking: drop --no-identity-linking")
            }
        }
        if let apiToken,
            apiToken.isEmpty || apiToken.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F })
        {
            throw ValidationError("--api-token must be non-empty printable ASCII without spaces")
        }
        if !Self.isLoopback(host) && simulationSecret == nil && !allowUnauthenticatedControl {
            throw ValidationError(
                "--host \(host) exposes the control API (/testing/*) beyond this machine: give --simulation-secret "
                    + "SECRET, or --allow-unauthenticated-control"
            )
        }
    }

    @OptionGroup var shop: ShopOptions
    @OptionGroup var delivery: DeliveryOptions
    @OptionGroup var client: ClientOptions

    func run() async throws {
        // Before serving: a SIGINT or SIGTERM that arrives while the shop starts is acted on, not lost.
        let signals = TerminationSignals.install()
        try await reportingErrors {
            if !Self.isLoopback(host) && simulationSecret == nil {
                stderrLine(
                    "WARNING: --allow-unauthenticated-control: the control API on \(host) takes calls from anyone who "
                        + "reaches it"
                )
            }
            // Read before anything starts: a bad file is exit 65 (`file:line: reason`), an unreadable one 66.
            let shopFile = try self.shopFile.map { path throws(UCPSimError) in try ShopFile.load(path: path) }
            if let autoConsent,
                !(shopFile ?? .embedded).customers.contains(where: {
                    $0.id == autoConsent || $0.email.caseInsensitiveCompare(autoConsent) == .orderedSame
                })
            {
                throw UCPSimError(
                    .usage,
                    "--auto-consent \(autoConsent): the shop file has no customer with that id or email"
                )
            }
            let token = apiToken.map(BearerToken.init) ?? BearerToken.generate()
            let discovery = HTTPClient(workers: 1, options: client.httpOptions)
            let target: RequestTarget?
            do {
                target = try await self.target.explicitTarget(client: discovery)
                await discovery.shutdown()
            } catch {
                await discovery.shutdown()
                throw error
            }
            let running = try await startShop(
                shop,
                delivery,
                client,
                host: host,
                port: port,
                control: ControlOptions(target: target, secret: simulationSecret),
                apiToken: token,
                shopFile: shopFile ?? .embedded,
                frozenAt: frozenInstant,
                shopping: shoppingSetup
            ) { state, attempt in
                outputLine("webhook: \(DeliveryReport.attemptLine(state, attempt))")
            }
            outputLine("shop listening on \(running.server.baseURL)")
            outputLine(
                "profile: \(running.profile.profileURL)  (keys: \(running.keyRing.keys.map(\.kid).joined(separator: ", ")); signing with \(running.keyRing.active.kid))"
            )
            let registered = (try? await running.subscriptions.list().filter(\.enabled).count) ?? 0
            let also = "\(registered) enabled subscription\(registered == 1 ? "" : "s") in \(delivery.state)"
            outputLine("webhooks: " + (target.map { "\($0.url) (ucp, every event type) and \(also)" } ?? also))
            outputLine("metrics: \(running.server.baseURL)/metrics")
            outputLine("subscriptions: \(running.server.baseURL)/v1/webhooks  (Authorization: Bearer <api token>)")
            outputLine("inspector: \(running.server.baseURL)/inspector")
            if let authorization = running.authorization {
                let clients = authorization.setup.clients.map(\.id).joined(separator: ", ")
                let consent = autoConsent.map { "; --auto-consent \($0)" } ?? ""
                outputLine("identity linking: \(authorization.metadataURL)  (clients: \(clients)\(consent))")
            }
            if apiToken == nil {
                // Once, on stderr only: stdout is often logged or shared, and the token guards the secrets' API.
                stderrLine(
                    "api token: \(token.text)  (generated for this run; --api-token TOKEN fixes one; the inspector "
                        + "with it: \(running.server.baseURL)/inspector#token=\(token.text))"
                )
            }
            await signals.wait()
            // Stop first (answers on the wire are awaited and journaled), then the summary counts them too.
            await running.stop()
            outputLine(running.engine.metrics.summary().description)
        }
    }
}
