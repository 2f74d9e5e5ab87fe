import Foundation
import Hummingbird
import Logging
import Synchronization

/// A running shop: its keys, its profile server on loopback (or any host), its orders and its webhook sender.
public final class Shop: Sendable {
    public let keyRing: KeyRing
    public let profile: BusinessProfile
    public let orders: OrderStore
    /// Live orders driven by the control API.
    public let book: OrderBook
    /// The control API, when enabled.
    public let control: ControlAPI?
    public let server: RunningServer
    public let sender: WebhookSender
    public let client: HTTPClient

    private init(
        keyRing: KeyRing,
        profile: BusinessProfile,
        orders: OrderStore,
        book: OrderBook,
        control: ControlAPI?,
        server: RunningServer,
        sender: WebhookSender,
        client: HTTPClient
    ) {
        self.keyRing = keyRing
        self.profile = profile
        self.orders = orders
        self.book = book
        self.control = control
        self.server = server
        self.sender = sender
        self.client = client
    }

    /// Starts the shop's HTTP server and returns once it listens.
    ///
    /// - Parameter publicURL: the base `UCP-Agent` and `permalink_url` use; default `http://HOST:PORT` as bound.
    public static func start(
        keys: KeyRing,
        host: String = "127.0.0.1",
        port: Int = 0,
        publicURL: String? = nil,
        version: String = BusinessProfile.defaultVersion,
        clientOptions: HTTPClientOptions = HTTPClientOptions(),
        control: ControlOptions? = nil,
        logger: Logger = Logger(label: "ucpsim.shop")
    ) async throws(UCPSimError) -> Shop {
        if let publicURL { _ = try RequestTarget(publicURL) }
        // The profile needs the bound port, and the server needs the profile: bind first, then publish via a box.
        let router = Router()
        let orders = OrderStore()
        let profileBox = ProfileBox()
        let forward: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, context in
            try await profileBox.responder.respond(to: request, context: context)
        }
        for path in ["/", "/**"] {
            router.get(RouterPath(path), use: forward)
            router.post(RouterPath(path), use: forward)
        }
        let server = try await RunningServer.start(router: router, host: host, port: port, logger: logger)
        let profile = BusinessProfile(baseURL: publicURL ?? server.baseURL, keys: keys.publicJWKs(), version: version)
        let client = HTTPClient(workers: 4, options: clientOptions)
        let sender = WebhookSender(
            client: client,
            signer: MessageSigner(key: keys.active),
            profileURL: profile.profileURL
        )
        let book = OrderBook(baseURL: profile.baseURL, version: version)
        let shopRouter = Router()
        ShopServer(profile: profile, orders: orders).addRoutes(to: shopRouter)
        let controlAPI = control.map { options in
            ControlAPI(
                target: options.target,
                secret: options.secret,
                book: book,
                sender: sender,
                orders: orders,
                onDelivery: options.onDelivery
            )
        }
        controlAPI?.addRoutes(to: shopRouter)
        profileBox.set(shopRouter.buildResponder())
        return Shop(
            keyRing: keys,
            profile: profile,
            orders: orders,
            book: book,
            control: controlAPI,
            server: server,
            sender: sender,
            client: client
        )
    }

    /// Records `document` as the order's current snapshot and delivers it as one signed webhook.
    public func send(
        _ document: OrderDocument,
        to target: RequestTarget,
        timestamp: Int64 = Int64(Date().timeIntervalSince1970)
    ) async throws -> DeliveryAttempt {
        await orders.put(document)
        let event = WebhookEvent(timestamp: timestamp, orderID: document.id, body: document.bytes)
        return try await sender.deliver(event, to: target)
    }

    /// Stops the server and the client's threads, after queued control-API deliveries finish.
    public func stop() async {
        await control?.chain.drain()
        await server.stop()
        client.shutdown()
    }
}

/// Enables the control API (`/testing/*`) on the shop's server.
public struct ControlOptions: Sendable {
    /// Where the webhooks go; nil: snapshots only.
    public var target: RequestTarget?
    /// `Simulation-Secret` every `/testing/*` call must carry, when set.
    public var secret: String?
    /// Called after each delivery.
    public var onDelivery: @Sendable (DeliveryAttempt) -> Void

    public init(
        target: RequestTarget?,
        secret: String?,
        onDelivery: @escaping @Sendable (DeliveryAttempt) -> Void = { _ in }
    ) {
        self.target = target
        self.secret = secret
        self.onDelivery = onDelivery
    }
}

/// Holds the shop's responder once the bound port (and so the profile) is known.
private final class ProfileBox: Sendable {
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
