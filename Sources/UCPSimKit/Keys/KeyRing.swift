import Foundation

/// The shop's keys: all of them are published, one signs. Publishing several and choosing one is key rotation.
public struct KeyRing: Sendable {
    /// Every key, published in the profile.
    public let keys: [SigningKey]
    /// The key that signs.
    public let active: SigningKey

    public init(keys: [SigningKey], signWith kid: String? = nil) throws(UCPSimError) {
        guard let last = keys.last else { throw UCPSimError(.config, "no signing keys") }
        if let kid {
            guard let chosen = keys.first(where: { $0.kid == kid }) else {
                throw UCPSimError(
                    .usage,
                    "--sign-with \(kid): no such key (have \(keys.map(\.kid).joined(separator: ", ")))"
                )
            }
            active = chosen
        } else {
            active = last
        }
        self.keys = keys
    }

    /// A fresh ES256 key that lives only in memory. Its kid is unique, so a receiver that cached an earlier
    /// process's profile under the same URL sees an unknown kid and refetches.
    public static func ephemeral(
        kid: String = "ephemeral-es256-" + UUID().uuidString.prefix(8).lowercased()
    ) throws(UCPSimError) -> KeyRing {
        let key: SigningKey
        do {
            key = try SigningKey.generate(.es256, kid: kid)
        } catch {
            throw UCPSimError(.software, "could not generate an ephemeral key: \(error)")
        }
        return try KeyRing(keys: [key])
    }

    /// Loads every `*.pem` in `directory`; the file name without `.pem` is the kid.
    /// Without `signWith`, the newest file (by modification time) signs.
    public static func load(directory: String, signWith kid: String? = nil) throws(UCPSimError) -> KeyRing {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw UCPSimError(.noInput, "keys directory \(directory) does not exist")
        }
        let names: [String]
        do {
            names = try fileManager.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".pem") }
        } catch {
            throw UCPSimError(.noInput, "cannot read keys directory \(directory)")
        }
        guard !names.isEmpty else {
            throw UCPSimError(
                .config,
                "no *.pem keys in \(directory) (create one with: ucpsim keys generate --out \(directory))"
            )
        }
        var dated: [(date: Date, key: SigningKey)] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            let kid = String(name.dropLast(4))
            // The kid goes into the signature's keyid: one that cannot would make every send fail later.
            if let problem = kidProblem(kid) {
                throw UCPSimError(.config, "key file \(path): its name is the kid, and \(problem)")
            }
            let key = try loadKey(path: path, kid: kid)
            let date = (try? fileManager.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
            dated.append((date, key))
        }
        dated.sort { ($0.date, $0.key.kid) < ($1.date, $1.key.kid) }
        return try KeyRing(keys: dated.map(\.key), signWith: kid)
    }

    /// Loads one PEM private key file.
    public static func loadKey(path: String, kid: String) throws(UCPSimError) -> SigningKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UCPSimError(.noInput, "cannot read key file \(path)")
        }
        do {
            return try SigningKey(pem: [UInt8](data), kid: kid)
        } catch {
            throw UCPSimError(.config, "key file \(path): \(error)")
        }
    }

    /// Generates a key and writes it as `DIR/KID.pem` with mode 0600. Refuses to overwrite.
    public static func generateKey(
        _ algorithm: SignatureAlgorithm,
        kid: String,
        directory: String
    ) throws(UCPSimError) -> (key: SigningKey, path: String) {
        if let problem = kidProblem(kid) { throw UCPSimError(.usage, problem) }
        let key: SigningKey
        let pem: String
        do {
            key = try SigningKey.generate(algorithm, kid: kid)
            pem = try key.privateKeyPEM()
        } catch {
            throw UCPSimError(.software, "could not generate a \(algorithm.jwsName) key: \(error)")
        }
        let fileManager = FileManager.default
        do {
            try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw UCPSimError(.cannotCreate, "cannot create directory \(directory)")
        }
        let path = (directory as NSString).appendingPathComponent("\(kid).pem")
        guard try writeSecret(Array(pem.utf8), to: path) else {
            throw UCPSimError(.cannotCreate, "\(path) already exists; choose another --kid")
        }
        return (key, path)
    }

    /// Why `kid` cannot be a key id, nil when it can: ASCII only, since it goes into the RFC 9421 `keyid`
    /// parameter, a structured-field string (a non-ASCII kid would make every signature fail later), and it names
    /// a file.
    static func kidProblem(_ kid: String) -> String? {
        let allowed = kid.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0))
        }
        guard !kid.isEmpty, kid.count <= 128, allowed, kid.first != "." else {
            return "kid \(Identifier.quoted(kid)) must be 1 to 128 ASCII letters, digits, '-', '_' or '.' (it names "
                + "the file and goes into the signature's keyid)"
        }
        return nil
    }

    /// Writes a secret to a new file that is mode 0600 from the moment it exists (`O_CREAT | O_EXCL`, never a
    /// readable temporary renamed later), fsync'd; leaves nothing behind on failure. False when the file already
    /// exists (it is never overwritten).
    static func writeSecret(_ bytes: [UInt8], to path: String) throws(UCPSimError) -> Bool {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { return false }
            throw UCPSimError(.cannotCreate, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        // The umask may have narrowed the mode further, never widened it; make it exactly 0600.
        let ok =
            fchmod(descriptor, 0o600) == 0
            && bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } == bytes.count
            && fsync(descriptor) == 0
        close(descriptor)
        guard ok else {
            unlink(path)
            throw UCPSimError(.cannotCreate, "cannot write \(path)")
        }
        return true
    }

    /// The public JWK set, one entry per key.
    public func publicJWKs() -> [JWK] {
        // A key that loaded always exports its public half; a failure here would be an OpenSSL fault.
        keys.compactMap { try? $0.publicJWK() }
    }
}
