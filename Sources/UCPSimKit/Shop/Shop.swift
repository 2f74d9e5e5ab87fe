import Foundation
import Hummingbird
import Logging
import Synchronization

/// A running shop: its keys, its profile server on loopback (or any host), its orders and its webhook sender.
public final class Shop: Sendable {
    public let keyRing: KeyRing
    public let profile: BusinessProfile
    public let orders: OrderStore
    public let server: RunningServer
    public let sender: WebhookSender
    public let client: HTTPClient

    private init(
        keyRing: KeyRing,
        profile: BusinessProfile,
        orders: OrderStore,
        server: RunningServer,
        sender: WebhookSender,
        client: HTTPClient
    ) {
        self.keyRing = keyRing
        self.profile = profile
        self.orders = orders
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
        logger: Logger = Logger(label: "ucpsim.shop")
    ) async throws(UCPSimError) -> Shop {
        if let publicURL { _ = try RequestTarget(publicURL) }
        // The profile needs the bound port, and the server needs the profile: bind first, then publish via a box.
        let router = Router()
        let orders = OrderStore()
        let profileBox = ProfileBox()
        router.get("/.well-known/ucp") { request, context in
            try await profileBox.responder.respond(to: request, context: context)
        }
        router.get("/orders/:id") { request, context in
            try await profileBox.responder.respond(to: request, context: context)
        }
        let server = try await RunningServer.start(router: router, host: host, port: port, logger: logger)
        let profile = BusinessProfile(baseURL: publicURL ?? server.baseURL, keys: keys.publicJWKs(), version: version)
        let shopRouter = Router()
        ShopServer(profile: profile, orders: orders).addRoutes(to: shopRouter)
        profileBox.set(shopRouter.buildResponder())
        let client = HTTPClient(workers: 4, options: clientOptions)
        let sender = WebhookSender(
            client: client,
            signer: MessageSigner(key: keys.active),
            profileURL: profile.profileURL
        )
        return Shop(keyRing: keys, profile: profile, orders: orders, server: server, sender: sender, client: client)
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

    /// Stops the server and the client's threads.
    public func stop() async {
        await server.stop()
        client.shutdown()
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
