import Foundation

/// The delivery engine's time. Injected, so hours of backoff can pass in milliseconds.
public protocol DeliveryClock: Sendable {
    /// Now, on this clock.
    func now() -> Date
    /// Sleeps `seconds` of this clock's time.
    func sleep(_ seconds: TimeInterval) async throws
}

/// Wall time, optionally compressed: `scale` 3600 runs an hour of backoff in a second.
public struct ScaledClock: DeliveryClock {
    public let scale: Double
    private let realOrigin: Date
    private let virtualOrigin: Date

    public init(scale: Double = 1, origin: Date = Date()) {
        self.scale = max(scale, 1e-6)
        self.realOrigin = origin
        self.virtualOrigin = origin
    }

    public func now() -> Date {
        virtualOrigin.addingTimeInterval(Date().timeIntervalSince(realOrigin) * scale)
    }

    public func sleep(_ seconds: TimeInterval) async throws {
        guard seconds > 0 else { return }
        try await Task.sleep(nanoseconds: UInt64(min(seconds / scale, 86_400) * 1_000_000_000))
    }
}
