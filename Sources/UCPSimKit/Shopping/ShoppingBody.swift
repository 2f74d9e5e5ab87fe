import Foundation

/// Reads a shopping request body: JSON of `Body`'s shape. Fields the type does not know are ignored (the spec's
/// request schemas allow them); a missing required field or a wrong type is HTTP 400 `invalid_request` naming it.
enum ShoppingBody {
    static func decode<Body: Decodable>(_ type: Body.Type, from bytes: [UInt8]) throws -> Body {
        guard !bytes.isEmpty else {
            throw APIError.invalid(FieldError(path: [], "is empty; it must be a JSON object"))
        }
        do {
            return try JSONDecoder().decode(Body.self, from: Data(bytes))
        } catch let error as FieldError {
            throw APIError.invalid(error)
        } catch let DecodingError.keyNotFound(key, context) {
            throw APIError.invalid(FieldError(codingPath: context.codingPath + [key], "is required"))
        } catch let DecodingError.typeMismatch(type, context) {
            throw APIError.invalid(FieldError(codingPath: context.codingPath, "must be \(describe(type))"))
        } catch let DecodingError.valueNotFound(type, context) {
            throw APIError.invalid(FieldError(codingPath: context.codingPath, "must be \(describe(type)), not null"))
        } catch let DecodingError.dataCorrupted(context) {
            if context.codingPath.isEmpty {
                throw APIError.invalid(FieldError(path: [], "is not JSON"))
            }
            throw APIError.invalid(FieldError(codingPath: context.codingPath, "is not valid"))
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        case is [Any].Type: "an array"
        default: type is any Collection.Type ? "an array" : "an object"
        }
    }
}
