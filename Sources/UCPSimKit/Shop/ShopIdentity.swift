import Foundation

/// The shop's identity kept in its state directory, so that repeated commands on one directory are the same shop:
/// the port its profile is served on (and so its profile URL) and, without `--keys`, its own ES256 key.
///
/// A receiver remembers which shop (profile URL) owns an order and caches its keys; a new random port or a new key
/// per command would make every command a stranger to it.
public struct ShopIdentity: Sendable {
    /// `DIR/shop.json`.
    public let path: String
    /// The port the shop bound last time, nil before its first run.
    public private(set) var port: Int?

    private struct Stored: Codable {
        var port: Int?
    }

    /// The file holding the shop's key: `DIR/shop-key.pem`, mode 0600 from its creation.
    public static func keyPath(in directory: String) -> String {
        (directory as NSString).appendingPathComponent("shop-key.pem")
    }

    /// Reads `DIR/shop.json` (none yet: an identity without a port).
    public static func load(directory: String) throws(UCPSimError) -> ShopIdentity {
        let path = (directory as NSString).appendingPathComponent("shop.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            return ShopIdentity(path: path, port: nil)
        }
        guard let stored = try? JSONDecoder().decode(Stored.self, from: data) else {
            throw UCPSimError(.dataError, "\(path) is not a ucpsim shop identity (delete it to start a new shop)")
        }
        if let port = stored.port, !(1...65_535).contains(port) {
            throw UCPSimError(.dataError, "\(path): port \(port) is outside 1–65535 (delete it to start a new shop)")
        }
        return ShopIdentity(path: path, port: stored.port)
    }

    /// The shop's own key in `directory`, made on first use: an ES256 key written to a file created with mode 0600
    /// (never readable by others, not even while it is written). Returns the ring and whether the key is new.
    public static func keyRing(directory: String) throws(UCPSimError) -> (ring: KeyRing, created: Bool) {
        let path = keyPath(in: directory)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw UCPSimError(.cannotCreate, "cannot create state directory \(directory)")
        }
        if FileManager.default.fileExists(atPath: path) {
            let pem = try Self.readKeyFile(path)
            return (try KeyRing(keys: [try Self.key(pem: pem, path: path)]), false)
        }
        let kid = "shop-es256-" + UUID().uuidString.prefix(8).lowercased()
        let key: SigningKey
        let pem: String
        do {
            key = try SigningKey.generate(.es256, kid: kid)
            pem = try key.privateKeyPEM()
        } catch {
            throw UCPSimError(.software, "could not generate the shop's key: \(error)")
        }
        // The kid travels with the key, in a PEM header comment line that OpenSSL ignores.
        let text = "# ucpsim kid: \(kid)\n" + pem
        guard try KeyRing.writeSecret(Array(text.utf8), to: path) else {
            // Another ucpsim made it a moment ago: use that one.
            return (try KeyRing(keys: [try Self.key(pem: try Self.readKeyFile(path), path: path)]), false)
        }
        return (try KeyRing(keys: [key]), true)
    }

    private static func readKeyFile(_ path: String) throws(UCPSimError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UCPSimError(.noInput, "cannot read \(path)")
        }
        return [UInt8](data)
    }

    private static func key(pem: [UInt8], path: String) throws(UCPSimError) -> SigningKey {
        let text = String(decoding: pem, as: UTF8.self)
        let prefix = "# ucpsim kid: "
        guard let first = text.split(separator: "\n", maxSplits: 1).first, first.hasPrefix(prefix) else {
            throw UCPSimError(.config, "\(path) has no `# ucpsim kid:` line (delete it to make a new key)")
        }
        let kid = String(first.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        do {
            return try SigningKey(pem: pem, kid: kid)
        } catch {
            throw UCPSimError(.config, "key file \(path): \(error)")
        }
    }

    /// Records the port the shop bound (`SafeFile`: never half-written).
    public mutating func remember(port: Int) throws(UCPSimError) {
        guard port != self.port else { return }
        let data: Data
        do {
            data = try JSONEncoder().encode(Stored(port: port))
        } catch {
            throw UCPSimError(.software, "cannot encode \(path): \(error)")
        }
        try SafeFile.replace([UInt8](data), at: path)
        self.port = port
    }
}
