/// Keys in the order they were first added, for maps that forget their oldest entries past a bound.
///
/// An array with a moving head: `popFirst` is O(1), and the array is compacted once most of it is behind the head,
/// so the memory held follows the keys kept, not the keys ever seen.
struct InsertionOrder<Key: Hashable & Sendable>: Sendable {
    private var keys: [Key] = []
    private var head = 0

    /// Keys not yet popped (a key appended twice counts twice).
    var count: Int { keys.count - head }

    mutating func append(_ key: Key) {
        keys.append(key)
    }

    mutating func popFirst() -> Key? {
        guard head < keys.count else { return nil }
        let key = keys[head]
        head += 1
        if head == keys.count {
            keys.removeAll(keepingCapacity: keys.count < 4096)
            head = 0
        } else if head > 1024, head * 2 > keys.count {
            keys.removeFirst(head)
            head = 0
        }
        return key
    }
}
