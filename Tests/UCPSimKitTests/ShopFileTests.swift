import Foundation
import Testing

@testable import UCPSimKit

/// The shop file: the embedded shop and the strict reader's errors.
@Suite struct ShopFileTests {
    @Test func theEmbeddedShopParses() throws {
        let shop = try ShopFile.parse(yaml: ShopFile.embeddedYAML, file: "embedded")
        #expect(shop == ShopFile.embedded)
        #expect(shop.currency == "USD")
        #expect(shop.variant("var_mug_white")?.variant.price == 1500)
        #expect(shop.variant("var_mug_white")?.variant.memberPrice == 1200)
        #expect(shop.variant("var_mug_black")?.variant.memberPrice == nil)
        #expect(shop.variant("var_mug_black")?.variant.inventory == 0)
        #expect(shop.paymentHandler(id: "mock_payment")?.tokens["tok_3ds"] == .escalate)
        #expect(shop.discount(code: "welcome10")?.kind == .percentage)
    }

    @Test func anUnknownKeyIsRefusedAtItsLine() {
        let yaml = ShopFile.embeddedYAML.replacingOccurrences(
            of: "        inventory: 100\n",
            with: "        inventory: 100\n        colour: red\n"
        )
        #expect(yaml != ShopFile.embeddedYAML)
        do {
            _ = try ShopFile.parse(yaml: yaml, file: "shop.yaml")
            Issue.record("parsed")
        } catch {
            let line = yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex {
                $0.contains("colour")
            }
            #expect(error.line == (line ?? -2) + 1)
            #expect(error.description.hasPrefix("shop.yaml:\(error.line): a variant: unknown key `colour`"))
        }
    }

    /// The line (1-based) of the first line of `yaml` that contains `text`.
    static func line(of text: String, in yaml: String) -> Int {
        (yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(text) } ?? -2) + 1
    }

    /// Each edit of the embedded shop, the text on the line it breaks, and the start of the reason given.
    static let badEdits: [(name: String, from: String, to: String, marker: String, reason: String)] = [
        ("wrong type", "        price: 2800\n", "        price: lots\n", "price: lots", "price must be a whole number"),
        ("negative price", "        price: 1899\n", "        price: -5\n", "price: -5", "price must be from 0"),
        (
            "duplicate variant id", "  - id: var_mug_black\n", "  - id: var_mug_white\n",
            "id: var_mug_white\n        title: Ceramic Mug - Black", "variant id var_mug_white is used twice"
        ),
        (
            "duplicate product id", "  - id: prod_beans\n", "  - id: prod_tee\n",
            "id: prod_tee\n    title: Single-Origin", "product id prod_tee is used twice"
        ),
        ("bad currency", "currency: USD\n", "currency: dollars\n", "currency: dollars", "currency must be an ISO 4217"),
        (
            "member price above the price", "        member_price: 1200  #", "        member_price: 1501  #",
            "member_price: 1501", "member_price (1501) must not be more than price (1500)"
        ),
        (
            "member price not a number", "        member_price: 1200  #", "        member_price: cheap  #",
            "member_price: cheap", "member_price must be a whole number"
        ),
        (
            "negative member price", "        member_price: 1200  #", "        member_price: -1  #",
            "member_price: -1", "member_price must be from 0"
        ),
        (
            "not a boolean", "    stackable: false\n", "    stackable: maybe\n", "stackable: maybe",
            "must be true or false"
        ),
    ]

    @Test(arguments: 0..<badEdits.count)
    func aBadShopFileIsRefusedAtTheLineOfTheMistake(_ index: Int) {
        let edit = Self.badEdits[index]
        let yaml = ShopFile.embeddedYAML.replacingOccurrences(of: edit.from, with: edit.to)
        #expect(yaml != ShopFile.embeddedYAML, "\(edit.name): the edit did not apply")
        // The marker may span two lines (an id and the title after it): the error is at its first line.
        let first = String(edit.marker.split(separator: "\n")[0])
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let markerLine =
            (lines.indices.first { index in
                let window = lines[index..<min(index + edit.marker.split(separator: "\n").count, lines.count)]
                return window.joined(separator: "\n").contains(edit.marker)
            } ?? -2) + 1
        #expect(first.isEmpty == false)
        do {
            _ = try ShopFile.parse(yaml: yaml, file: "shop.yaml")
            Issue.record("\(edit.name): parsed")
        } catch {
            #expect(error.line == markerLine, "\(edit.name): \(error)")
            #expect(
                error.description.hasPrefix("shop.yaml:\(markerLine): "),
                "\(edit.name): \(error)"
            )
            #expect(error.description.contains(edit.reason), "\(edit.name): \(error)")
            #expect(!error.description.contains("\n"))
        }
    }

    /// `fixtures/shop.yaml` is the embedded shop, byte for byte, so a user can copy it and edit it.
    @Test func theFixtureIsTheEmbeddedShop() throws {
        let fixture = String(decoding: try TestSupport.read("fixtures/shop.yaml"), as: UTF8.self)
        #expect(fixture == ShopFile.embeddedYAML + "\n")
        #expect(try ShopFile.parse(yaml: fixture, file: "fixtures/shop.yaml") == ShopFile.embedded)
    }

    /// `serve --shop` reads the file before anything starts: a bad one is exit 65 with `file:line: reason` on one
    /// line, a missing one exit 66.
    @Test func serveRefusesABadShopFileWithItsLine() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ucpsim-shop-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let yaml = ShopFile.embeddedYAML.replacingOccurrences(of: "        price: 1899\n", with: "        price: -5\n")
        let bad = directory.appendingPathComponent("bad.yaml")
        try Data(yaml.utf8).write(to: bad)
        let state = directory.appendingPathComponent("state").path
        let line = Self.line(of: "price: -5", in: yaml)
        let refused = try await TestSupport.run(
            CLITests.binary,
            ["serve", "--shop", "bad.yaml", "--port", "0", "--state", state],
            directory: directory
        )
        #expect(refused.status == 65)
        #expect(refused.stdout.isEmpty)
        #expect(refused.stderr.hasPrefix("ucpsim: error: bad.yaml:\(line): "), "\(refused.stderr)")
        #expect(refused.stderr.contains("price must be from 0"))
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state), "nothing is created for a refused shop file")

        let missing = try await TestSupport.run(
            CLITests.binary,
            ["serve", "--shop", "missing.yaml", "--port", "0", "--state", state],
            directory: directory
        )
        #expect(missing.status == 66)
        #expect(missing.stderr.hasPrefix("ucpsim: error: cannot read shop file missing.yaml"), "\(missing.stderr)")
    }
}
