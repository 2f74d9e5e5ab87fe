import Testing

@testable import UCPSimKit

/// The shop file: the embedded shop and the strict reader's errors.
@Suite struct ShopFileTests {
    @Test func theEmbeddedShopParses() throws {
        let shop = try ShopFile.parse(yaml: ShopFile.embeddedYAML, file: "embedded")
        #expect(shop == ShopFile.embedded)
        #expect(shop.currency == "USD")
        #expect(shop.variant("var_mug_white")?.variant.price == 1500)
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
}
