import Foundation
import Hummingbird
import Logging
import Synchronization

/// How the shop delivers: retry policy, concurrency, ordering, clock, and where the outbox lives.
public struct DeliverySetup: Sendable {
    public var engine = DeliveryEngine.Options()
    /// The outbox directory; nil keeps deliveries in memory only (tests that do not need durability).
    public var stateDirectory: String?
    /// Delivered events the outbox keeps (pending and dead ones are always kept).
    public var keepDelivered = Outbox.defaultKeepDelivered
    /// The bounds of the management API's live view of the deliveries (its `keepDelivered` is `keepDelivered`).
    public var inspector = DeliveryInspector.Options()
    /// Called after every attempt (for progress lines).
    public var onAttempt: @Sendable (DeliveryState, AttemptRecord) -> Void = { _, _ in }

    public init(stateDirectory: String? = nil) {
        self.stateDirectory = stateDirectory
    }
}

/// A running shop: its keys, its profile server, its orders, and the delivery engine that sends its webhooks.
public final class Shop: Sendable {
    public let keyRing: KeyRing
    /// The profile as published now (its URL never changes; its keys do when `publisher` rotates them).
    public var profile: BusinessProfile { publisher.profile }
    /// What `/.well-known/ucp` serves now; `publish(keys:)` rotates keys while running.
    public let publisher: ProfilePublisher
    public let orders: OrderStore
    /// Live orders driven by the control API.
    public let book: OrderBook
    /// The control API, when enabled.
    public let control: ControlAPI?
    public let server: RunningServer
    public let sender: WebhookSender
    public let client: HTTPClient
    public let engine: DeliveryEngine
    /// What the outbox held at start (its pending events are resumed).
    public let history: [DeliveryState]
    /// Events found pending in the outbox at start, now resumed.
    public var resumed: Int { history.filter { !$0.phase.isFinal }.count }
    /// The outbox, when the shop has a state directory.
    public let outbox: Outbox?
    /// The shop's state database (`DIR/ucpsim.sqlite`, or in memory without a state directory).
    public let database: ShopDatabase
    /// The webhook subscriptions (`/v1/webhooks` when the shop serves it, `ucpsim subscriptions`).
    public let subscriptions: SubscriptionRegistry
    /// The one path from an order change to its deliveries.
    public let webhooks: WebhookPublisher
    /// What the shop sells (`serve --shop FILE`, or the embedded shop).
    public let shopFile: ShopFile
    /// The OAuth authorization server of identity linking; nil without it.
    public let authorization: AuthorizationServer?
    /// The live index of deliveries behind `/v1/deliveries` and `/v1/events/stream`; nil without the management
    /// API.
    public let inspector: DeliveryInspector?

    private init(
        keyRing: KeyRing,
        publisher: ProfilePublisher,
        orders: OrderStore,
        book: OrderBook,
        control: ControlAPI?,
        server: RunningServer,
        sender: WebhookSender,
        client: HTTPClient,
        engine: DeliveryEngine,
        history: [DeliveryState],
        outbox: Outbox?,
        subscriptions: SubscriptionRegistry,
        webhooks: WebhookPublisher,
        shopFile: ShopFile,
        authorization: AuthorizationServer?,
        inspector: DeliveryInspector?
    ) {
        self.keyRing = keyRing
        self.publisher = publisher
        self.orders = orders
        self.book = book
        self.control = control
        self.server = server
        self.sender = sender
        self.client = client
        self.engine = engine
        self.history = history
        self.outbox = outbox
        self.database = subscriptions.database
        self.subscriptions = subscriptions
        self.webhooks = webhooks
        self.shopFile = shopFile
        self.authorization = authorization
        self.inspector = inspector
    }

    /// Starts the shop's HTTP server and delivery engine, resuming any pending deliveries in the outbox.
    ///
    /// - Parameter publicURL: the base `UCP-Agent` and `permalink_url` use; default `http://HOST:PORT` as bound.
    /// - Parameter apiToken: when set, the shop serves the management API (`/v1/webhooks`) behind this Bearer token.
    public static func start(
        keys: KeyRing,
        host: String = "127.0.0.1",
        port: Int = 0,
        publicURL: String? = nil,
        version: UCPVersion = .newest,
        olderVersions: [UCPVersion] = [],
        clientOptions: HTTPClientOptions = HTTPClientOptions(),
        delivery: DeliverySetup = DeliverySetup(),
        control: ControlOptions? = nil,
        apiToken: BearerToken? = nil,
        shop shopFile: ShopFile = .embedded,
        clock: @escaping @Sendable () -> Date = { Date() },
        shopping: ShoppingSetup = ShoppingSetup(),
        logger: Logger = Logger(label: "ucpsim.shop")
    ) async throws(UCPSimError) -> Shop {
        if let publicURL { _ = try RequestTarget(publicURL) }
        try keys.check(version: version, olderVersions: olderVersions)
        // Opened before the outbox (which takes the directory's lock): a database that cannot be opened stops the
        // start with nothing held.
        let database = try ShopDatabase.open(directory: delivery.stateDirectory)
        let subscriptions: SubscriptionRegistry
        do {
            subscriptions = try SubscriptionRegistry(database: database)
        } catch {
            throw UCPSimError(.cannotCreate, error.message)
        }
        var restored: [DeliveryState] = []
        var outbox: Outbox?
        if let directory = delivery.stateDirectory {
            (outbox, restored) = try Outbox.open(directory: directory, keepDelivered: delivery.keepDelivered)
        }
        // The profile needs the bound port, and the server needs the profile: bind a trampoline first.
        let router = Router()
        // A shop driven by the control API runs for as long as its user likes: it keeps the latest orders, snapshots
        // and outcomes only. Commands that send a known set of events keep everything they wait for.
        let longRunning = control != nil
        let orders = OrderStore(limit: longRunning ? OrderBook.defaultLimit : nil)
        var engineOptions = delivery.engine
        if longRunning && engineOptions.outcomeLimit == nil {
            engineOptions.outcomeLimit = DeliveryEngine.Options.serveOutcomeLimit
        }
        // `serve` says on its stderr what it drops (an endpoint that answered 410); other commands report outcomes.
        if longRunning && engineOptions.logger == nil { engineOptions.logger = logger }
        // The management API's view of the deliveries: seeded with the outbox's, kept current by the engine.
        var inspector: DeliveryInspector?
        if apiToken != nil {
            var options = delivery.inspector
            options.keepDelivered = delivery.keepDelivered
            let live = DeliveryInspector(restored: restored, outbox: outbox, options: options)
            let earlier = engineOptions.observer
            engineOptions.observer = { change in
                earlier?(change)
                live.observe(change)
            }
            inspector = live
        }
        // The request headers the journal recorded are the inspector's (it keeps each delivery's last): the engine
        // and `history` do without them (about 1 KB a delivery).
        restored = restored.map { $0.withoutSentHeaders() }
        let responderBox = ResponderBox()
        let forward: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, context in
            try await responderBox.responder.respond(to: request, context: context)
        }
        // Every error answer has one JSON shape (`APIError`), Hummingbird's own 404 and 413 included.
        router.add(middleware: APIErrorMiddleware())
        for path in ["/", "/**"] {
            for method in [HTTPRequest.Method.get, .head, .post, .put, .patch, .delete, .options] {
                router.on(RouterPath(path), method: method, use: forward)
            }
        }
        let server = try await RunningServer.start(router: router, host: host, port: port, logger: logger)
        let profile = BusinessProfile(
            baseURL: publicURL ?? server.baseURL,
            keys: keys.publicJWKs(),
            version: version,
            olderVersions: olderVersions,
            paymentHandlers: shopFile.paymentHandlers,
            identityScopes: shopping.identity?.scopes
        )
        let client = HTTPClient(workers: delivery.engine.concurrency, options: clientOptions)
        let sender = WebhookSender(
            client: client,
            signer: MessageSigner(key: keys.active),
            profileURL: profile.profileURL
        )
        let dialects = Dialects.standard(sender: sender, version: version)
        // The engine asks for a subscription's secrets at each attempt; an ad-hoc subscription's are the publisher's.
        let publisherSlot = PublisherSlot()
        let engine = DeliveryEngine(
            sender: sender,
            dialects: dialects,
            credentials: { id in
                subscriptions.credentials(for: id) ?? publisherSlot.publisher?.adHocCredentials(for: id)
            },
            onSubscriptionGone: { id, url in
                Task {
                    _ = try? await subscriptions.disable(
                        id,
                        reason: "\(url) answered HTTP 410 Gone at \(ISO8601DateFormatter().string(from: Date()))"
                    )
                }
            },
            outbox: outbox,
            options: engineOptions,
            onAttempt: delivery.onAttempt
        )
        let webhooks = WebhookPublisher(
            engine: engine,
            registry: subscriptions,
            dialects: dialects,
            orders: orders,
            audience: control.map { WebhookPublisher.Audience(registered: true, url: $0.target) } ?? .nobody
        )
        publisherSlot.publisher = webhooks
        let book = OrderBook(baseURL: profile.baseURL, version: version, limit: OrderBook.defaultLimit, now: clock)
        let shopRouter = Router()
        shopRouter.add(middleware: APIErrorMiddleware())
        let publisher = ProfilePublisher(profile)
        let signing = ResponseSigning(signer: MessageSigner(key: keys.active))
        // Identity linking: the shop's OAuth authorization server, and the guard on what its tokens unlock.
        var identityGuard: IdentityGuard?
        var authorization: AuthorizationServer?
        if let identity = shopping.identity {
            let server = try await Self.authorizationServer(
                identity,
                shopFile: shopFile,
                issuer: profile.baseURL,
                database: database,
                clock: clock
            )
            server.addRoutes(to: shopRouter)
            identityGuard = IdentityGuard(server: server)
            authorization = server
        }
        shopRouter.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: .init(string: engine.metrics.prometheusText()))
            )
        }
        // The inspector page holds no data (its script calls the /v1 API with the token), so it is not behind it.
        if apiToken != nil {
            DeliveriesPage(shopName: shopFile.name, baseURL: profile.baseURL).addRoutes(to: shopRouter)
        }
        let controlAPI = control.map { options in
            ControlAPI(secret: options.secret, book: book, webhooks: webhooks)
        }
        controlAPI?.addRoutes(to: shopRouter)
        if let apiToken, let inspector {
            DeliveriesAPI(inspector: inspector, engine: engine, token: apiToken).addRoutes(to: shopRouter)
            WebhooksAPI(registry: subscriptions, token: apiToken).addRoutes(to: shopRouter)
        }
        var gateway = ShoppingGateway(
            version: version,
            paymentHandlers: shopFile.paymentHandlers,
            supportedVersions: profile.olderVersions,
            profiles: ProfileCache(client: client, policy: shopping.profilePolicy, purpose: .platform),
            signing: signing,
            requireSignedRequests: shopping.requireSignedRequests,
            idempotency: IdempotencyStore(database: database),
            subscriptions: subscriptions
        )
        gateway.identity = identityGuard
        let services = ShopServices(
            shop: shopFile,
            gateway: gateway,
            database: database,
            book: book,
            webhooks: webhooks,
            baseURL: profile.baseURL,
            now: clock
        )
        var shopServer = ShopServer(publisher: publisher, orders: orders)
        shopServer.services = services
        shopServer.identity = identityGuard
        shopServer.addRoutes(to: shopRouter)
        CatalogAPI(services: services).addRoutes(to: shopRouter)
        CartAPI(services: services).addRoutes(to: shopRouter)
        CheckoutAPI(services: services).addRoutes(to: shopRouter)
        OrderManageAPI(services: services).addRoutes(to: shopRouter)
        responderBox.set(shopRouter.buildResponder())
        try await engine.resume(restored)
        return Shop(
            keyRing: keys,
            publisher: publisher,
            orders: orders,
            book: book,
            control: controlAPI,
            server: server,
            sender: sender,
            client: client,
            engine: engine,
            history: restored,
            outbox: outbox,
            subscriptions: subscriptions,
            webhooks: webhooks,
            shopFile: shopFile,
            authorization: authorization,
            inspector: inspector
        )
    }

    /// The authorization server for `identity`: its clients are the shop file's and `identity.clients`, its key is
    /// kept in the state database.
    private static func authorizationServer(
        _ identity: IdentitySetup,
        shopFile: ShopFile,
        issuer: String,
        database: ShopDatabase,
        clock: @escaping @Sendable () -> Date
    ) async throws(UCPSimError) -> AuthorizationServer {
        var setup = identity
        setup.clients =
            shopFile.oauthClients.filter { client in !identity.clients.contains { $0.id == client.id } }
            + identity.clients
        let store = OAuthStore(database: database, now: clock)
        let signer: TokenSigner
        do {
            signer = try TokenSigner(key: try await store.signingKey())
        } catch {
            throw UCPSimError(
                .cannotCreate,
                "cannot make the access-token signing key: \(ShopDatabase.describe(error))"
            )
        }
        var server = AuthorizationServer(
            issuer: issuer,
            setup: setup,
            customers: shopFile.customers,
            store: store,
            signer: signer,
            now: clock
        )
        server.resourceName = shopFile.name
        return server
    }

    /// Publishes `document` as its order's latest snapshot to `target` (the `ucp` dialect) and waits for the final
    /// outcome.
    public func send(
        _ document: OrderDocument,
        to target: RequestTarget,
        timestamp: Int64 = Int64(Date().timeIntervalSince1970)
    ) async throws(UCPSimError) -> DeliveryEngine.Outcome {
        webhooks.setAudience(WebhookPublisher.Audience(registered: false, url: target))
        let event = OrderChange.event(
            document: document,
            first: await orders.get(document.id) == nil,
            occurredAt: timestamp
        )
        let deliveries = try await webhooks.publish([[event]])
        guard let delivery = deliveries.first else {
            throw UCPSimError(.software, "the document made no delivery")
        }
        return await engine.outcome(of: delivery.id)
    }

    /// Stops the engine (pending deliveries stay in the outbox), the server and the client's threads.
    ///
    /// The engine first waits (bounded: `DeliveryEngine.Options.stopGrace`) for the answers of attempts on the wire
    /// and journals them; then the client's threads are joined, so nothing is signing or in TLS when the process
    /// exits. Safe to call more than once.
    public func stop() async {
        await engine.stop()
        // Open event streams end first: the server's graceful stop waits for every response to finish.
        inspector?.events.finish()
        await server.stop()
        await client.shutdown()
        // Lets the next ucpsim (or the next shop in this process) open the state directory.
        outbox?.close()
    }
}

/// How the shopping API (catalog, cart, checkout) treats platforms.
public struct ShoppingSetup: Sendable {
    /// Refuse requests that carry no RFC 9421 signature (`serve --require-signed-requests`).
    public var requireSignedRequests = false
    /// Which platform profile URLs may be fetched (loopback `http://` allowed, for local development).
    public var profilePolicy = ProfileFetchPolicy()
    /// Identity linking (the OAuth authorization server and the token guard); nil leaves it out.
    public var identity: IdentitySetup?

    public init(requireSignedRequests: Bool = false) {
        self.requireSignedRequests = requireSignedRequests
    }
}

/// Enables the control API (`/testing/*`) on the shop's server.
public struct ControlOptions: Sendable {
    /// A URL (`serve --webhook-url`) that gets every event in the `ucp` dialect, besides the registered
    /// subscriptions.
    public var target: RequestTarget?
    /// `Simulation-Secret` every `/testing/*` call must carry, when set.
    public var secret: String?

    public init(target: RequestTarget?, secret: String?) {
        self.target = target
        self.secret = secret
    }
}

/// The shop's publisher, once made (the engine is made first and asks it for ad-hoc subscriptions' secrets).
private final class PublisherSlot: Sendable {
    private let slot = Mutex<WebhookPublisher?>(nil)

    var publisher: WebhookPublisher? {
        get { slot.withLock { $0 } }
        set { slot.withLock { $0 = newValue } }
    }
}

/// Holds the shop's responder once the bound port (and so the profile) is known.
private final class ResponderBox: Sendable {
    private let slot = Mutex<RouterResponder<BasicRequestContext>?>(nil)

    func set(_ responder: RouterResponder<BasicRequestContext>) {
        slot.withLock { $0 = responder }
    }

    var responder: RouterResponder<BasicRequestContext> {
        get throws {
            guard let responder = slot.withLock({ $0 }) else { throw HTTPError(.serviceUnavailable) }
            return responder
        }
    }
}
