/// HTTP header fields in wire order, with case-insensitive lookup, as signing and verification need them.
public struct HTTPFieldList: Sendable, Equatable, Sequence {
    /// The fields as (name, value) pairs, in order.
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    /// Makes room for `count` fields in all.
    public mutating func reserveCapacity(_ count: Int) {
        fields.reserveCapacity(count)
    }

    /// Appends a field.
    public mutating func append(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    /// Replaces every field named `name` (case-insensitively) by one, in the first one's place; nil removes them.
    public mutating func set(_ name: String, _ value: String?) {
        let position = fields.firstIndex { Self.sameName($0.name, name) } ?? fields.count
        fields.removeAll { Self.sameName($0.name, name) }
        if let value { fields.insert((name, value), at: Swift.min(position, fields.count)) }
    }

    /// The RFC 9421 component value of a field: every instance's trimmed value joined by `, `; nil when absent.
    public subscript(name: String) -> String? {
        var result: String?
        for field in fields where Self.sameName(field.name, name) {
            let value = Self.trimmed(field.value)
            result = result.map { "\($0), \(value)" } ?? value
        }
        return result
    }

    /// ASCII case-insensitive comparison: field names are tokens, so no Unicode case folding is needed (and this
    /// runs several times per signature).
    static func sameName(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count
            && zip(a.utf8, b.utf8).allSatisfy { x, y in
                x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 97 && (x | 0x20) <= 122)
            }
    }

    /// Strips leading and trailing spaces and tabs (RFC 9110 optional whitespace).
    static func trimmed(_ value: String) -> String {
        let bytes = value.utf8
        guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return "" }
        if first == bytes.startIndex && last == bytes.index(before: bytes.endIndex) { return value }
        return String(value[first...last])
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    public static func == (lhs: HTTPFieldList, rhs: HTTPFieldList) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}
