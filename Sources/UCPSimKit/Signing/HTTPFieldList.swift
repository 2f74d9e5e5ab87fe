import Foundation

/// HTTP header fields in wire order, with case-insensitive lookup, as signing and verification need them.
public struct HTTPFieldList: Sendable, Equatable, Sequence {
    /// The fields as (name, value) pairs, in order.
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    /// Appends a field.
    public mutating func append(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    /// Replaces every field named `name` (case-insensitively) by one, in the first one's place; nil removes them.
    public mutating func set(_ name: String, _ value: String?) {
        let lower = name.lowercased()
        let position = fields.firstIndex { $0.name.lowercased() == lower } ?? fields.count
        fields.removeAll { $0.name.lowercased() == lower }
        if let value { fields.insert((name, value), at: Swift.min(position, fields.count)) }
    }

    /// The RFC 9421 component value of a field: every instance's trimmed value joined by `, `; nil when absent.
    public subscript(name: String) -> String? {
        let lower = name.lowercased()
        let values = fields.filter { $0.name.lowercased() == lower }
            .map { $0.value.trimmingCharacters(in: .whitespaces) }
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    public static func == (lhs: HTTPFieldList, rhs: HTTPFieldList) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}
