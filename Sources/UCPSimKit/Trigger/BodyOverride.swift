import Foundation

/// `--override path=value`: one field of a webhook body changed before it is signed (`ucpsim trigger`).
///
/// The path is dot-separated object keys and array indices (`data.new_status`, `line_items.0.quantity.total`). The
/// value is taken as JSON when it parses as JSON (`3`, `true`, `null`, `"text"`, `{"a":1}`), else as a string. A key
/// that is absent is added; an array index must exist.
public struct BodyOverride: Sendable, Equatable {
    public let path: [String]
    /// The value as JSON text.
    public let json: String

    /// Parses `path=value`; the error says what is wrong in one line.
    public init(parsing text: String) throws(UCPSimError) {
        guard let equals = text.firstIndex(of: "=") else {
            throw UCPSimError(.usage, "--override \"\(text)\": expected path=value")
        }
        let path = text[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !path.isEmpty, !path.contains(where: \.isEmpty) else {
            throw UCPSimError(.usage, "--override \"\(text)\": the path has an empty part")
        }
        let value = String(text[text.index(after: equals)...])
        self.path = path
        if (try? JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed])) != nil {
            json = value
        } else {
            json = Self.quoted(value)
        }
    }

    /// `body` with the override applied, serialized with sorted keys.
    public func apply(to body: [UInt8]) throws(UCPSimError) -> [UInt8] {
        let dotted = path.joined(separator: ".")
        guard let root = try? JSONSerialization.jsonObject(with: Data(body)),
            let value = try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
        else {
            throw UCPSimError(.dataError, "--override \(dotted): the body is not JSON")
        }
        let changed = try set(value, at: path[...], in: root, dotted: dotted)
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: changed,
                options: [.sortedKeys, .withoutEscapingSlashes]
            )
        else {
            throw UCPSimError(.dataError, "--override \(dotted): the result cannot be serialized")
        }
        return [UInt8](data)
    }

    private func set(_ value: Any, at path: ArraySlice<String>, in node: Any, dotted: String) throws(UCPSimError) -> Any
    {
        guard let key = path.first else { return value }
        let rest = path.dropFirst()
        if var object = node as? [String: Any] {
            let child: Any = object[key] ?? [String: Any]()
            object[key] = rest.isEmpty ? value : try set(value, at: rest, in: child, dotted: dotted)
            return object
        }
        if var array = node as? [Any] {
            guard let index = Int(key), array.indices.contains(index) else {
                throw UCPSimError(
                    .usage,
                    "--override \(dotted): \"\(key)\" is not an index of an array of \(array.count) element(s)"
                )
            }
            array[index] = rest.isEmpty ? value : try set(value, at: rest, in: array[index], dotted: dotted)
            return array
        }
        throw UCPSimError(.usage, "--override \(dotted): there is no object or array at \"\(key)\"")
    }

    private static func quoted(_ text: String) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes]),
            let array = String(data: data, encoding: .utf8)
        else { return "\"\"" }
        return String(array.dropFirst().dropLast())
    }
}
