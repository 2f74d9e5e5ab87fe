/// Why a registry call failed: the input (a field named), an unknown subscription, or the database.
public struct SubscriptionError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure, for callers that map it to an HTTP status or an exit code.
    public enum Kind: Sendable, Equatable {
        /// A field is wrong (`field` says which): API 400, CLI 64.
        case invalid
        /// No subscription has the id: API 404, CLI 66.
        case notFound
        /// The database could not be read or written: API 503, CLI 73.
        case storage
    }

    public let kind: Kind
    public let message: String
    /// The field at fault, for `.invalid`.
    public let field: FieldError?

    private init(kind: Kind, message: String, field: FieldError? = nil) {
        self.kind = kind
        self.message = message
        self.field = field
    }

    public var description: String { message }

    static func invalid(_ field: FieldError) -> SubscriptionError {
        SubscriptionError(kind: .invalid, message: field.description, field: field)
    }

    static func notFound(_ id: SubscriptionID) -> SubscriptionError {
        SubscriptionError(kind: .notFound, message: "no subscription \(id)")
    }

    static func storage(_ error: any Error, path: String?) -> SubscriptionError {
        if let error = error as? SubscriptionError { return error }
        return SubscriptionError(
            kind: .storage,
            message: "the state database \(path ?? "(in memory)") failed: \(ShopDatabase.describe(error))"
        )
    }
}
