/// Runs work for one key at a time, in the order it asked; work for other keys runs alongside.
///
/// The publish path holds an order's key from its state change until its deliveries are journaled and queued, so
/// two concurrent changes to one order are journaled (and so delivered) in the order they were made.
public actor KeyedSerializer<Key: Hashable & Sendable> {
    /// Keys in use, each with the callers waiting for it, first come first served.
    private var waiting: [Key: [CheckedContinuation<Void, Never>]] = [:]

    public init() {}

    /// Runs `work` once no earlier work for `key` is running.
    public nonisolated func run<T: Sendable, E: Error>(
        _ key: Key,
        _ work: () async throws(E) -> T
    ) async throws(E) -> T {
        await acquire(key)
        do {
            let value = try await work()
            await release(key)
            return value
        } catch {
            await release(key)
            throw error
        }
    }

    private func acquire(_ key: Key) async {
        guard waiting[key] != nil else {
            waiting[key] = []
            return
        }
        await withCheckedContinuation { continuation in
            waiting[key, default: []].append(continuation)
        }
    }

    private func release(_ key: Key) {
        guard var queue = waiting[key], !queue.isEmpty else {
            waiting[key] = nil
            return
        }
        let next = queue.removeFirst()
        waiting[key] = queue
        next.resume()
    }
}
