/// A map that remembers at most `capacity` keys, forgetting the oldest first: what a long-running service keeps
/// per stranger's request (webhook ids seen, order owners) must not grow without bound.
struct BoundedMap<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    let capacity: Int
    private var values: [Key: Value] = [:]
    /// Keys in insertion order from `head` on; the consumed prefix is dropped once it outgrows the live part.
    private var order: [Key] = []
    private var head = 0

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
        while values.count > capacity, head < order.count {
            values[order[head]] = nil
            head += 1
        }
        if head > capacity {
            order.removeFirst(head)
            head = 0
        }
        return true
    }
}
