/// A field of an input (a control-API body, a scenario's `orders:` entry or step) that is missing, of the wrong type,
/// out of range or unknown. Says where, as a path (`items[0].quantity`), and what is wrong.
public struct FieldError: Error, Sendable, CustomStringConvertible {
    /// One step of a path: a field name or a list index.
    public enum Component: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    /// Where, from the input's top level; empty for the input itself.
    public let path: [Component]
    /// What is wrong, a phrase that follows the path: "must be an integer ≥ 1".
    public let problem: String

    public init(path: [Component], _ problem: String) {
        self.path = path
        self.problem = problem
    }

    init(codingPath: [any CodingKey], _ problem: String) {
        self.init(path: codingPath.map(Component.init), problem)
    }

    /// `items[0].quantity`; `the input` for the top level.
    public var field: String { field(top: "the input") }

    /// `items[0].quantity`; `top` for the top level.
    public func field(top: String) -> String {
        var text = ""
        for component in path {
            switch component {
            case .key(let name): text += text.isEmpty ? name : ".\(name)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text.isEmpty ? top : text
    }

    /// The path as an RFC 9535 JSONPath (`$.items[0].quantity`), as UCP messages carry it.
    public var jsonPath: String {
        path.reduce("$") { text, component in
            switch component {
            case .key(let name): "\(text).\(name)"
            case .index(let index): "\(text)[\(index)]"
            }
        }
    }

    /// `items[0].quantity must be an integer ≥ 1`.
    public var description: String { "\(field) \(problem)" }

    /// The same error under `prefix` (an entry's position in an enclosing list, say).
    func nested(under prefix: [Component]) -> FieldError {
        FieldError(path: prefix + path, problem)
    }
}

extension FieldError.Component {
    init(_ key: any CodingKey) {
        if let index = key.intValue, key.stringValue.hasPrefix("Index") || Int(key.stringValue) == index {
            self = .index(index)
        } else {
            self = .key(key.stringValue)
        }
    }
}

/// Any key, to list the keys an input really has.
struct AnyCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// Strict reading of an input object: every key must be known, and a field of the wrong type or out of range is a
/// `FieldError` that names it. Used by `init(from:)` of the boundary types, so JSON (`JSONDecoder`) and YAML
/// (`YAMLDecoder`) inputs are read by the same code and refused with the same messages.
struct StrictFields<Key: CodingKey & CaseIterable> {
    let container: KeyedDecodingContainer<Key>
    let codingPath: [any CodingKey]

    /// Opens `decoder` as an object and refuses keys that `Key` does not list.
    init(_ decoder: any Decoder, _ keys: Key.Type) throws(FieldError) {
        codingPath = decoder.codingPath
        let known = Key.allCases.map(\.stringValue)
        do {
            let any = try decoder.container(keyedBy: AnyCodingKey.self)
            for key in any.allKeys where !known.contains(key.stringValue) {
                throw FieldError(
                    codingPath: codingPath + [key],
                    "is not a known field (known: \(known.joined(separator: ", ")))"
                )
            }
            container = try decoder.container(keyedBy: Key.self)
        } catch let error as FieldError {
            throw error
        } catch {
            throw FieldError(
                codingPath: codingPath,
                "must be an object with the fields \(known.joined(separator: ", "))"
            )
        }
    }

    /// The field's value, or nil when the input leaves it out; `problem` says what it must be otherwise.
    func optional<Value: Decodable>(_ type: Value.Type, _ key: Key, _ problem: String) throws(FieldError) -> Value? {
        guard container.contains(key) else { return nil }
        do {
            return try container.decode(Value.self, forKey: key)
        } catch let error as FieldError {
            throw error
        } catch {
            throw FieldError(codingPath: codingPath + [key], problem)
        }
    }

    /// The field's value; `problem` says what it must be when it is missing or wrong.
    func required<Value: Decodable>(_ type: Value.Type, _ key: Key, _ problem: String) throws(FieldError) -> Value {
        guard let value = try optional(type, key, problem) else {
            throw FieldError(codingPath: codingPath + [key], "is required and \(problem)")
        }
        return value
    }

    /// An integer field checked against a closed `range`; `problem` says what it must be.
    func integer(_ key: Key, in range: ClosedRange<Int>, _ problem: String) throws(FieldError) -> Int? {
        guard let value = try optional(Int.self, key, problem) else { return nil }
        guard range.contains(value) else {
            throw FieldError(codingPath: codingPath + [key], "\(problem), got \(value)")
        }
        return value
    }

    /// An integer field checked against `range`; `problem` says what it must be.
    func integer(_ key: Key, in range: PartialRangeFrom<Int>, _ problem: String) throws(FieldError) -> Int? {
        guard let value = try optional(Int.self, key, problem) else { return nil }
        guard range.contains(value) else {
            throw FieldError(codingPath: codingPath + [key], "\(problem), got \(value)")
        }
        return value
    }

    /// A field that must be a non-empty string.
    func string(_ key: Key) throws(FieldError) -> String? {
        guard let value = try optional(String.self, key, "must be a string") else { return nil }
        guard !value.isEmpty else { throw FieldError(codingPath: codingPath + [key], "must not be empty") }
        return value
    }

    /// The error for `key`.
    func error(_ key: Key, _ problem: String) -> FieldError {
        FieldError(codingPath: codingPath + [key], problem)
    }
}
