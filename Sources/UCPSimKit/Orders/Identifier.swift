import Foundation

/// The identifiers ucpsim accepts for orders and line items, wherever they enter (scenario files, the control API,
/// fixtures): 1 to 128 of `A–Z a–z 0–9 . _ - : ~`. They end up in URLs, journal lines and one-line output, so a
/// newline, an escape sequence, a slash or a 200,000-character id must never get in.
public enum Identifier {
    /// The longest identifier.
    public static let maximumLength = 128

    /// What the rule says, for error messages.
    public static let rule = "1 to \(maximumLength) characters of A-Z a-z 0-9 . _ - : ~"

    /// Why `text` is not an acceptable identifier, nil when it is.
    public static func problem(_ text: String) -> String? {
        guard !text.isEmpty else { return "must not be empty" }
        guard text.utf8.count <= maximumLength else {
            return "must be \(rule), got \(text.utf8.count) characters"
        }
        guard text.utf8.allSatisfy(isAllowed) else {
            return "must be \(rule), got \(quoted(text))"
        }
        return nil
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "~"): true
        default: false
        }
    }

    /// `text` as a percent-encoded URL path segment (a no-op for acceptable identifiers; a guard for the rest).
    public static func pathSegment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: segmentCharacters) ?? ""
    }

    /// What a path segment keeps unencoded: exactly the identifier characters (built once).
    private static let segmentCharacters = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:~"
    )

    /// `text` for one line of output: quoted, at most 80 characters, control characters escaped.
    public static func quoted(_ text: String) -> String {
        let shown = text.count > 80 ? String(text.prefix(80)) + "…" : text
        return "\"" + printable(shown) + "\""
    }

    /// `text` with control characters (newline, ESC, NUL, …) escaped as `\u{…}`, so it cannot start a line of
    /// its own or drive a terminal.
    public static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A file name made from `name` that stays inside its directory: anything but `A-Za-z0-9._-` becomes `_`, and
    /// it never starts with a dot (so neither `..` nor a hidden file).
    public static func fileName(_ name: String) -> String {
        var safe = String(
            name.unicodeScalars.map { scalar -> Character in
                switch scalar {
                case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-": Character(scalar)
                default: "_"
                }
            }
        )
        while safe.hasPrefix(".") { safe.replaceSubrange(safe.startIndex...safe.startIndex, with: "_") }
        return String((safe.isEmpty ? "scenario" : safe).prefix(200))
    }
}
