import RawStructuredFieldValues

/// The `UCP-Agent` header: an RFC 8941 dictionary whose `profile` member names the sender's profile URL.
public enum UCPAgent {
    /// `profile="<url>"`.
    public static func header(profileURL: String) -> String {
        var members = OrderedMap<String, ItemOrInnerList>()
        members["profile"] = .item(
            Item(bareItem: RFC9651BareItem.string(profileURL), parameters: OrderedMap<String, RFC9651BareItem>())
        )
        var serializer = StructuredFieldValueSerializer()
        // A URL with characters an sf-string cannot hold is a caller bug, caught by RequestTarget first.
        let bytes = (try? serializer.writeDictionaryFieldValue(members)) ?? Array("profile=\"\"".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The profile URL from a `UCP-Agent` value, or nil when the header is not a dictionary with a string `profile`.
    public static func profileURL(from header: String) -> String? {
        var parser = StructuredFieldValueParser(Array(header.utf8))
        guard let members = try? parser.parseDictionaryFieldValue(), case .item(let item) = members["profile"],
            case .string(let url) = item.rfc9651BareItem
        else { return nil }
        return url
    }
}
