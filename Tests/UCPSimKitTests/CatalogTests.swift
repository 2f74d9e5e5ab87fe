import Foundation
import Testing

@testable import UCPSimKit

/// Catalog search, lookup and product detail, and cart pricing, as values over the embedded shop (no HTTP).
@Suite struct CatalogTests {
    let catalog = Catalog(shop: .embedded)

    func ids(_ products: [CatalogProduct]) -> [String] { products.map(\.id) }

    @Test func aQueryMatchesTitleDescriptionAndCategoriesCaseInsensitively() throws {
        #expect(ids(try catalog.search(.init(query: "MUG")).products) == ["prod_mug"])
        // "espresso" is only in the e-book's description; "coffee" is a category of the beans.
        #expect(ids(try catalog.search(.init(query: "Espresso")).products) == ["prod_ebook"])
        #expect(ids(try catalog.search(.init(query: "coffee")).products) == ["prod_beans"])
        // Every word must appear.
        #expect(ids(try catalog.search(.init(query: "organic tee")).products) == ["prod_tee"])
        #expect(try catalog.search(.init(query: "organic mug")).products.isEmpty)
        let none = try catalog.search(.init(query: "surfboard"))
        #expect(none.products.isEmpty && none.totalCount == 0 && none.nextCursor == nil)
    }

    @Test func filtersCombineWithTheQuery() throws {
        let kitchen = try catalog.search(.init(filters: .init(categories: ["kitchen"])))
        #expect(ids(kitchen.products) == ["prod_mug", "prod_beans"])
        let cheap = try catalog.search(.init(filters: .init(price: .init(min: nil, max: 1500))))
        #expect(ids(cheap.products) == ["prod_mug", "prod_ebook"])
        let band = try catalog.search(.init(filters: .init(price: .init(min: 1600, max: 2000))))
        #expect(ids(band.products) == ["prod_beans"])
        let both = try catalog.search(
            .init(query: "single", filters: .init(categories: ["Kitchen", "Books"], price: .init(min: 1000, max: nil)))
        )
        #expect(ids(both.products) == ["prod_beans"])
        #expect(try catalog.search(.init(query: "mug", filters: .init(categories: ["Books"]))).products.isEmpty)
    }

    @Test func pagesFollowTheCursorToTheEnd() throws {
        let browse = Catalog.Filters(price: .init(min: 0, max: nil))
        let first = try catalog.search(.init(filters: browse, limit: 3))
        #expect(ids(first.products) == ["prod_mug", "prod_tee", "prod_beans"])
        #expect(first.totalCount == 4)
        let cursor = try #require(first.nextCursor)
        let second = try catalog.search(.init(filters: browse, cursor: cursor, limit: 3))
        #expect(ids(second.products) == ["prod_ebook"])
        #expect(second.nextCursor == nil)
        // Deterministic: the same request, the same cursor.
        #expect(try catalog.search(.init(filters: browse, limit: 3)).nextCursor == cursor)
        // Default page size 10: everything in one page.
        #expect(try catalog.search(.init(filters: browse)).products.count == 4)
    }

    @Test func emptyOrInvalidSearchesAreRefused() {
        #expect(throws: Catalog.Refusal.emptySearch) { try catalog.search(.init()) }
        #expect(throws: Catalog.Refusal.emptySearch) { try catalog.search(.init(query: "  ")) }
        #expect(throws: Catalog.Refusal.emptySearch) { try catalog.search(.init(filters: .init())) }
        #expect(throws: Catalog.Refusal.self) { try catalog.search(.init(query: "mug", limit: 0)) }
        #expect(throws: Catalog.Refusal.self) { try catalog.search(.init(query: "mug", cursor: "not-ours")) }
    }

    @Test func lookupResolvesProductAndVariantIDs() throws {
        let result = try catalog.lookup(.init(ids: ["var_tee_l", "prod_mug", "nope", "prod_tee", "var_tee_l"]))
        #expect(ids(result.products) == ["prod_tee", "prod_mug"])
        #expect(result.notFound == ["nope"])
        let tee = result.products[0]
        #expect(tee.variants.map(\.id) == ["var_tee_l", "var_tee_m"])
        #expect(tee.variants[0].inputs == [.init(id: "var_tee_l", match: "exact")])
        #expect(tee.variants[1].inputs == [.init(id: "prod_tee", match: "featured")])
        // The featured variant is the first in stock: the black mug has none.
        let mug = result.products[1]
        #expect(mug.variants.map(\.id) == ["var_mug_white"])
        #expect(mug.variants[0].availability == .init(available: true, status: "in_stock"))
        // A variant id shows that variant even when it is out of stock.
        let black = try catalog.lookup(.init(ids: ["var_mug_black"])).products[0].variants[0]
        #expect(black.id == "var_mug_black" && black.availability == .init(available: false, status: "out_of_stock"))
        // Filters apply after resolution.
        let filtered = try catalog.lookup(
            .init(ids: ["prod_mug", "prod_ebook"], filters: .init(categories: ["books"]))
        )
        #expect(ids(filtered.products) == ["prod_ebook"] && filtered.notFound == ["prod_mug"])
    }

    @Test func lookupTakesAtMostItsLimit() throws {
        let many = (0...Catalog.lookupLimit).map { "id_\($0)" }
        #expect(throws: Catalog.Refusal.tooManyIDs(Catalog.lookupLimit + 1)) { try catalog.lookup(.init(ids: many)) }
        // Duplicates count once.
        let repeated = Array(repeating: "prod_mug", count: Catalog.lookupLimit + 5)
        #expect(ids(try catalog.lookup(.init(ids: repeated)).products) == ["prod_mug"])
    }

    @Test func productDetailPutsTheEffectiveVariantFirst() throws {
        let byVariant = try #require(catalog.product(.init(id: "var_tee_l")))
        #expect(byVariant.variants.map(\.id) == ["var_tee_l", "var_tee_m"])
        #expect(byVariant.selected == [.init(name: "size", label: "L")])

        let selected = try #require(
            catalog.product(.init(id: "prod_mug", selected: [.init(name: "color", label: "Black")]))
        )
        #expect(selected.variants.first?.id == "var_mug_black")
        #expect(selected.selected == [.init(name: "color", label: "Black")])
        let values = try #require(selected.options?.first?.values)
        #expect(
            values == [
                .init(label: "White", available: true, exists: true),
                .init(label: "Black", available: false, exists: true),
            ]
        )

        // No variant is Red: the selection is relaxed and the featured variant shown.
        let relaxed = try #require(
            catalog.product(
                .init(id: "prod_mug", selected: [.init(name: "color", label: "Red")], preferences: ["color"])
            )
        )
        #expect(relaxed.variants.first?.id == "var_mug_white")
        #expect(relaxed.selected == [.init(name: "color", label: "White")])

        // A product without options has no `selected`.
        let beans = try #require(catalog.product(.init(id: "prod_beans")))
        #expect(beans.selected == nil && beans.options == nil)
        #expect(catalog.product(.init(id: "nope")) == nil)
    }

    @Test func cartLinesArePricedFromTheShopFile() throws {
        let pricing = CartPricing(shop: .embedded)
        let request = CartRequest(
            lineItems: [
                .init(item: .init(id: "var_mug_white"), quantity: 2),
                .init(item: .init(id: "nope"), quantity: 1),
                .init(item: .init(id: "var_tee_l"), quantity: 4),
            ],
            buyer: nil,
            context: nil
        )
        let (lines, messages) = pricing.accept(request)
        #expect(lines == [.init(itemID: "var_mug_white", quantity: 2), .init(itemID: "var_tee_l", quantity: 4)])
        #expect(messages.map(\.code) == ["item_unavailable"])
        let cart = StoredCart(id: "cart_00001", lines: lines, buyer: nil, context: nil)
        let envelope = ResponseEnvelope(version: "2026-08-25", status: .success, capabilities: [:])
        let rendered = pricing.render(cart, envelope: envelope, messages: messages)
        #expect(rendered.lineItems.map(\.id) == ["li_1", "li_2"])
        #expect(
            rendered.lineItems.map(\.totals) == [
                [.init(type: "subtotal", amount: 3000), .init(type: "total", amount: 3000)],
                [.init(type: "subtotal", amount: 11200), .init(type: "total", amount: 11200)],
            ]
        )
        #expect(rendered.totals == [.init(type: "subtotal", amount: 14200), .init(type: "total", amount: 14200)])
        // Only 3 L tees in stock: an out_of_stock error points at the line.
        #expect(rendered.messages?.map(\.code) == ["item_unavailable", "out_of_stock"])
        #expect(rendered.messages?.last?.path == "$.line_items[1]")
        #expect(pricing.nothingAvailable([.init(itemID: "var_mug_black", quantity: 1)]))
        #expect(pricing.nothingAvailable([]))
        #expect(!pricing.nothingAvailable(lines))
    }
}
