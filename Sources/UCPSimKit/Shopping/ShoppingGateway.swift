import Foundation
import HTTPTypes
import Hummingbird

/// Every shopping request passes here: its body is read, the platform is negotiated (`UCP-Agent`), its signature
/// checked, its `Idempotency-Key` honoured; the handler's answer is kept for that key, signed, and sent.
///
/// Handlers (catalog, cart, checkout, orders) see only a `ShoppingCall` and answer a `ShoppingReply`.
public struct ShoppingGateway: Sendable {
    /// The release the shop speaks.
    public let version: UCPVersion
    /// The shop's payment handlers (for checkout envelopes).
    public let paymentHandlers: [ShopFile.PaymentHandler]

    /// The largest request body, in bytes.
    public static let bodyLimit = 1024 * 1024

    public init(version: UCPVersion, paymentHandlers: [ShopFile.PaymentHandler]) {
        self.version = version
        self.paymentHandlers = paymentHandlers
    }

    /// Runs `work` for `operation` and answers its reply.
    public func handle(
        _ request: Request,
        _ operation: ShoppingOperation,
        _ work: @Sendable (ShoppingCall) async throws -> ShoppingReply
    ) async throws -> Response {
        var request = request
        let body: [UInt8]
        do {
            body = [UInt8](buffer: try await request.collectBody(upTo: Self.bodyLimit))
        } catch {
            throw APIError.tooLarge(limit: Self.bodyLimit)
        }
        // Skeleton: no negotiation yet; every capability at the shop's release.
        var capabilities: [ShoppingCapability: UCPVersion] = [:]
        for capability in ShoppingCapability.allCases { capabilities[capability] = version }
        let call = ShoppingCall(
            operation: operation,
            version: version,
            platform: nil,
            capabilities: capabilities,
            body: body,
            paymentHandlers: paymentHandlers
        )
        let reply = try await work(call)
        return Response(
            status: reply.status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: .init(bytes: reply.body))
        )
    }
}
