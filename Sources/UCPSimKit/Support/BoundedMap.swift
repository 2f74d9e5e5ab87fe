/// A map that remembers at most `capacity` keys, forgetting the oldest first: what a long-running service keeps
/// per stranger's request (webhook ids seen, order owners) must not grow without bound.
struct BoundedMap<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    let capacity: Int
    private var values: [Key: Value] = [:]
    private var order = InsertionOrder<Key>()

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { values.count }

    subscript(key: Key) -> Value? { values[key] }

    /// Stores `value` under `key` unless the key is already there; true when it was new. The oldest key goes when
    /// the map is full.
    @discardableResult
    mutating func insertIfAbsent(_ value: Value, for key: Key) -> Bool {
        guard values[key] == nil else { return false }
        values[key] = value
        order.append(key)
        while values.count > capacity, let oldest = order.popFirst() {
            values[oldest] = nil
        }
        return true
    }
}
