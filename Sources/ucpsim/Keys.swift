import ArgumentParser
import Foundation
import UCPSimKit

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the shop's signing keys.",
        subcommands: [Generate.self]
    )

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a signing key: writes DIR/KID.pem (mode 0600) and prints the public JWK."
        )

        @Option(help: "Signature algorithm.")
        var alg: SignatureAlgorithm = .es256

        @Option(help: ArgumentHelp("Directory to write the key into (created if missing).", valueName: "dir"))
        var out: String

        @Option(help: "Key id (default: shop-<alg>-<UTC timestamp>).")
        var kid: String?

        func run() async throws {
            try await reportingErrors {
                let stamp = ISO8601DateFormatter.string(
                    from: Date(),
                    timeZone: .gmt,
                    formatOptions: [.withYear, .withMonth, .withDay, .withTime]
                )
                let kid = kid ?? "shop-\(alg.rawValue)-\(stamp)"
                let (key, path) = try KeyRing.generateKey(alg, kid: kid, directory: out)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let jwk = try encoder.encode(try key.publicJWK())
                stderrLine("wrote \(path) (private key, mode 0600)")
                outputLine(String(decoding: jwk, as: UTF8.self))
            }
        }
    }
}
