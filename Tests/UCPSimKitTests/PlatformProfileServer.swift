import Foundation
import Hummingbird
import Synchronization
@testable import UCPSimKit

/// A platform on loopback for shopping tests: it serves UCP platform profiles (one per path, changeable while it
/// runs) and signs requests with its own key, as a real platform does.
final class PlatformProfileServer: Sendable {
    let server: RunningServer
    let keys: KeyRing
    private let shared: SharedDocuments

    private init(server: RunningServer, keys: KeyRing, shared: SharedDocuments) {
        self.server = server
        self.keys = keys
        self.shared = shared
    }

    static func start() async throws -> PlatformProfileServer {
        let shared = SharedDocuments()
        let router = Router()
        router.get("/**") { request, _ -> Response in
            guard let (status, body) = shared.get(request.uri.path) else { return Response(status: .notFound) }
            return Response(
                status: .init(code: status),
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: .init(bytes: body))
            )
        }
        let server = try await RunningServer.start(
            router: router,
            host: "127.0.0.1",
            port: 0,
            logger: TestSupport.quietLogger
        )
        return PlatformProfileServer(
            server: server,
            keys: try KeyRing(keys: [try SigningKey.generate(.es256, kid: "platform-2026")]),
            shared: shared
        )
    }

    /// The URL of the profile at `path`.
    func url(_ path: String = "/profile") -> String { "\(server.baseURL)\(path)" }

    /// Serves `body` at `path` with `status`.
    func serve(_ path: String = "/profile", status: Int = 200, body: [UInt8]) {
        shared.set(path, status: status, body: body)
    }

    /// Serves `profile` as JSON at `path`.
    func serve(_ path: String = "/profile", profile: [String: Any]) throws {
        serve(path, body: [UInt8](try JSONSerialization.data(withJSONObject: profile)))
    }

    /// A platform profile: `version`, the capabilities (each at `capabilityVersion`, default `version`), the
    /// platform's public keys, and an order webhook URL when given.
    func profile(
        version: String = UCPVersion.newest.rawValue,
        capabilities: [String] = ShoppingCapability.allCases.map(\.rawValue),
        capabilityVersion: String? = nil,
        webhookURL: String? = nil
    ) throws -> [String: Any] {
        var entries: [String: Any] = [:]
        for name in capabilities {
            var entry: [String: Any] = ["version": capabilityVersion ?? version]
            if name == ShoppingCapability.order.rawValue, let webhookURL {
                entry["config"] = ["webhook_url": webhookURL]
            }
            entries[name] = [entry]
        }
        let jwks = try JSONSerialization.jsonObject(with: JSONEncoder().encode(keys.publicJWKs()))
        return [
            "ucp": [
                "version": version,
                "services": ["dev.ucp.shopping": [["version": version, "transport": "rest"]]],
                "capabilities": entries,
                "payment_handlers": [:] as [String: Any],
            ],
            "keys": jwks,
        ]
    }

    /// Signs `request` with the platform's key over the spec's request components.
    func sign(_ request: inout OutgoingRequest, keyID: String? = nil, components: [String]? = nil) throws {
        if !request.body.isEmpty { request.headers.set("Content-Digest", ContentDigest.header(for: request.body)) }
        var covered = ["@method", "@authority", "@path"]
        for name in ["ucp-agent", "idempotency-key", "authorization"] where request.headers[name] != nil {
            covered.append(name)
        }
        if !request.body.isEmpty { covered += ["content-digest", "content-type"] }
        let message = SignableMessage(
            method: request.method,
            target: try RequestTarget(request.url),
            headers: request.headers
        )
        let signer = MessageSigner(key: keys.active)
        let parameters = SignatureParameters(
            components: components ?? covered,
            created: Int64(Date().timeIntervalSince1970),
            keyID: keyID ?? keys.active.kid
        )
        let (input, signature) = try signer.sign(message, parameters: parameters)
        request.headers.set("Signature-Input", input)
        request.headers.set("Signature", signature)
    }

    func stop() async { await server.stop() }
}

/// The documents a `PlatformProfileServer` serves.
final class SharedDocuments: Sendable {
    private let documents = Mutex<[String: (status: Int, body: [UInt8])]>([:])

    func set(_ path: String, status: Int, body: [UInt8]) {
        documents.withLock { $0[path] = (status, body) }
    }

    func get(_ path: String) -> (status: Int, body: [UInt8])? {
        documents.withLock { $0[path] }
    }
}

/// One platform the shopping tests share when they only need to be negotiated: its profile of each release at
/// `/profile/<date>` (every capability, no webhook URL).
enum TestPlatform {
    private static let started = Task { () throws -> PlatformProfileServer in
        let platform = try await PlatformProfileServer.start()
        for version in UCPVersion.allCases {
            try platform.serve("/profile/\(version.rawValue)", profile: try platform.profile(version: version.rawValue))
        }
        return platform
    }

    /// The `UCP-Agent` value naming the shared platform's profile of `version`.
    static func agent(_ version: UCPVersion = .newest) async throws -> String {
        "profile=\"\(try await started.value.url("/profile/\(version.rawValue)"))\""
    }
}
