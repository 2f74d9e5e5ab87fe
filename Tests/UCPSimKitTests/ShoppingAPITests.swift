import Foundation
import Testing

@testable import UCPSimKit

/// Catalog and cart over real HTTP on a real in-process shop: every route's answer and error, determinism,
/// persistence across a restart, and every answer checked by the official SDK models (strict) and JSON schemas.
@Suite struct ShoppingAPITests {
    func startShop(stateDirectory: String? = nil, keys: KeyRing? = nil) async throws -> Shop {
        try await Shop.start(
            keys: try keys ?? KeyRing.ephemeral(),
            delivery: DeliverySetup(stateDirectory: stateDirectory),
            logger: TestSupport.quietLogger
        )
    }

    func call(_ shop: Shop, _ method: String, _ path: String, _ body: String? = nil) async throws -> ReceivedResponse {
        try await shop.client.send(
            OutgoingRequest(
                method: method,
                url: "\(shop.server.baseURL)\(path)",
                headers: HTTPFieldList([
                    ("Content-Type", "application/json"),
                    ("UCP-Agent", try await TestPlatform.agent(shop.profile.version)),
                ]),
                body: Array((body ?? "").utf8)
            )
        )
    }

    func object(_ response: ReceivedResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func text(_ response: ReceivedResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    /// Validates documents of one kind with the SDK (strict) and the `main` schemas; says which checks passed.
    func validate(_ kind: String, _ responses: [ReceivedResponse]) async throws {
        let output = try await UCPVersionTests.validate(kind: kind, documents: responses.map(\.body))
        if let output {
            #expect(output.contains("ok main") && output.contains("ok ucp-sdk-0.5.0"), "\(output)")
            #expect(!output.contains("invalid"), "\(output)")
        }
    }

    /// The catalog capability the envelope of a response names.
    func capabilities(_ response: ReceivedResponse) throws -> [String] {
        let ucp = try #require(try object(response)["ucp"] as? [String: Any])
        return (ucp["capabilities"] as? [String: Any]).map { Array($0.keys).sorted() } ?? []
    }

    @Test func catalogRoutesAnswerAndAreValid() async throws {
        let shop = try await startShop()
        let search = try await call(shop, "POST", "/catalog/search", #"{"query":"mug"}"#)
        let page1 = try await call(
            shop,
            "POST",
            "/catalog/search",
            #"{"filters":{"categories":["Kitchen","Apparel","Books","Coffee"]},"pagination":{"limit":2}}"#
        )
        let nothing = try await call(shop, "POST", "/catalog/search", #"{"query":"surfboard"}"#)
        let lookup = try await call(shop, "POST", "/catalog/lookup", #"{"ids":["prod_mug","var_tee_l","nope"]}"#)
        let product = try await call(shop, "POST", "/catalog/product", #"{"id":"var_mug_black"}"#)
        let unknown = try await call(shop, "POST", "/catalog/product", #"{"id":"prod_nope"}"#)
        #expect([search, page1, nothing, lookup, product, unknown].allSatisfy { $0.status == 200 })

        let products = try #require(try object(search)["products"] as? [[String: Any]])
        #expect(products.map { $0["id"] as? String } == ["prod_mug"])
        let mug = products[0]
        #expect(mug["description"] as? [String: String] == ["plain": "A 350 ml stoneware mug, dishwasher safe."])
        #expect(mug["categories"] as? [[String: String]] == [["value": "Kitchen"], ["value": "Mugs"]])
        #expect(
            mug["media"] as? [[String: String]] == [
                ["type": "image", "url": "https://shop.example.com/images/mug.jpg"]
            ]
        )
        let range = try #require(mug["price_range"] as? [String: [String: Any]])
        #expect(range["min"]?["amount"] as? Int == 1500 && range["max"]?["currency"] as? String == "USD")
        let variants = try #require(mug["variants"] as? [[String: Any]])
        let availability = variants.compactMap { $0["availability"] as? [String: Any] }
        #expect(availability.map { $0["status"] as? String } == ["in_stock", "out_of_stock"])
        #expect(availability.map { $0["available"] as? Bool } == [true, false])
        #expect(try capabilities(search) == ["dev.ucp.shopping.catalog.search"])

        let pagination = try #require(try object(page1)["pagination"] as? [String: Any])
        #expect(pagination["has_next_page"] as? Bool == true && pagination["total_count"] as? Int == 4)
        let cursor = try #require(pagination["cursor"] as? String)
        let page2 = try await call(
            shop,
            "POST",
            "/catalog/search",
            #"{"filters":{"categories":["Kitchen","Apparel","Books","Coffee"]},"pagination":{"limit":2,"cursor":""#
                + cursor + #""}}"#
        )
        let second = try object(page2)
        #expect((second["products"] as? [[String: Any]])?.map { $0["id"] as? String } == ["prod_beans", "prod_ebook"])
        #expect((second["pagination"] as? [String: Any])?["has_next_page"] as? Bool == false)
        #expect((second["pagination"] as? [String: Any])?["cursor"] == nil)
        let empty = try object(nothing)
        #expect((empty["products"] as? [Any])?.isEmpty == true && empty["messages"] == nil)

        let found = try object(lookup)
        #expect((found["products"] as? [[String: Any]])?.map { $0["id"] as? String } == ["prod_mug", "prod_tee"])
        #expect(found["messages"] as? [[String: String]] == [["type": "info", "code": "not_found", "content": "nope"]])
        #expect(try capabilities(lookup) == ["dev.ucp.shopping.catalog.lookup"])

        let detail = try #require(try object(product)["product"] as? [String: Any])
        #expect((detail["variants"] as? [[String: Any]])?.first?["id"] as? String == "var_mug_black")
        #expect(detail["selected"] as? [[String: String]] == [["name": "color", "label": "Black"]])

        let error = try object(unknown)
        #expect((error["ucp"] as? [String: Any])?["status"] as? String == "error")
        #expect(
            error["messages"] as? [[String: String]] == [
                [
                    "type": "error", "code": "not_found", "content": "Product not found: prod_nope",
                    "severity": "unrecoverable",
                ]
            ]
        )
        await shop.stop()

        try await validate("search", [search, page1, page2, nothing])
        try await validate("lookup", [lookup])
        try await validate("product", [product])
        try await validate("error", [unknown])
    }

    @Test func badCatalogRequestsAreProtocolErrors() async throws {
        let shop = try await startShop()
        let cases: [(path: String, body: String, code: String)] = [
            ("/catalog/search", "{}", "invalid_request"),
            ("/catalog/search", "", "invalid_request"),
            ("/catalog/search", #"{"query":7}"#, "invalid_request"),
            ("/catalog/search", #"{"query":"mug","pagination":{"limit":0}}"#, "invalid_request"),
            ("/catalog/search", #"{"query":"mug","pagination":{"cursor":"xyz"}}"#, "invalid_request"),
            ("/catalog/lookup", #"{"ids":[]}"#, "invalid_request"),
            ("/catalog/lookup", #"{}"#, "invalid_request"),
            (
                "/catalog/lookup",
                #"{"ids":["# + (0...Catalog.lookupLimit).map { "\"id\($0)\"" }.joined(separator: ",") + "]}",
                "request_too_large"
            ),
            ("/catalog/product", #"{"selected":[]}"#, "invalid_request"),
        ]
        for test in cases {
            let answer = try await call(shop, "POST", test.path, test.body)
            #expect(answer.status == 400, "\(test.path) \(test.body): \(text(answer))")
            #expect(try object(answer)["code"] as? String == test.code, "\(test.path) \(test.body): \(text(answer))")
        }
        let query = try await call(shop, "POST", "/catalog/search", #"{"query":7}"#)
        #expect(try object(query)["path"] as? String == "$.query")
        await shop.stop()
    }

    @Test func cartRoutesCreateGetReplaceAndCancel() async throws {
        let shop = try await startShop()
        let created = try await call(
            shop,
            "POST",
            "/carts",
            #"{"line_items":[{"item":{"id":"var_mug_white"},"quantity":2},{"item":{"id":"var_nope"},"quantity":1},"#
                + #"{"item":{"id":"var_mug_black"},"quantity":1}],"buyer":{"email":"alice@example.com"},"#
                + #""context":{"address_country":"US"}}"#
        )
        #expect(created.status == 201, "\(text(created))")
        let cart = try object(created)
        #expect(cart["id"] as? String == "cart_00001")
        #expect(cart["currency"] as? String == "USD")
        let lines = try #require(cart["line_items"] as? [[String: Any]])
        #expect(lines.map { $0["id"] as? String } == ["li_1", "li_2"])
        #expect(lines.map { ($0["item"] as? [String: Any])?["id"] as? String } == ["var_mug_white", "var_mug_black"])
        #expect((lines[0]["item"] as? [String: Any])?["price"] as? Int == 1500)
        let totals = try #require(cart["totals"] as? [[String: Any]])
        #expect(totals.map { $0["type"] as? String } == ["subtotal", "total"])
        #expect(totals.map { $0["amount"] as? Int } == [4500, 4500])
        let messages = try #require(cart["messages"] as? [[String: String]])
        #expect(messages.map { $0["code"] } == ["item_unavailable", "out_of_stock"])
        #expect(messages[1]["path"] == "$.line_items[1]")
        #expect(cart["buyer"] as? [String: String] == ["email": "alice@example.com"])
        #expect(try capabilities(created) == ["dev.ucp.shopping.cart"])

        let fetched = try await call(shop, "GET", "/carts/cart_00001")
        #expect(fetched.status == 200)
        // The same cart; the message about the item left out belongs to the create answer only.
        let leftOut =
            #"{"code":"item_unavailable","content":"Item var_nope is not sold by this shop","#
            + #""severity":"recoverable","type":"error"},"#
        #expect(text(created).contains(leftOut))
        #expect(text(fetched) == text(created).replacingOccurrences(of: leftOut, with: ""))

        let replaced = try await call(
            shop,
            "PUT",
            "/carts/cart_00001",
            #"{"line_items":[{"id":"li_9","item":{"id":"var_beans_500g"},"quantity":3}]}"#
        )
        #expect(replaced.status == 200, "\(text(replaced))")
        let after = try object(replaced)
        #expect((after["line_items"] as? [[String: Any]])?.map { $0["id"] as? String } == ["li_1"])
        #expect(after["buyer"] == nil, "a full replacement: the buyer left out is gone")
        #expect((after["totals"] as? [[String: Any]])?.last?["amount"] as? Int == 5697)

        let canceled = try await call(shop, "POST", "/carts/cart_00001/cancel")
        #expect(canceled.status == 200)
        #expect(text(canceled) == text(replaced), "cancel answers the cart as it was")

        var notFound: [ReceivedResponse] = []
        for (method, path) in [
            ("GET", "/carts/cart_00001"), ("PUT", "/carts/cart_00001"), ("POST", "/carts/cart_00001/cancel"),
            ("GET", "/carts/cart_09999"),
        ] {
            let body = method == "PUT" ? #"{"line_items":[{"item":{"id":"var_ebook"},"quantity":1}]}"# : nil
            let answer = try await call(shop, method, path, body)
            #expect(answer.status == 200)
            let error = try object(answer)
            #expect((error["ucp"] as? [String: Any])?["status"] as? String == "error")
            #expect(
                error["messages"] as? [[String: String]] == [
                    [
                        "type": "error", "code": "not_found", "content": "Cart not found or has expired",
                        "severity": "unrecoverable",
                    ]
                ],
                "\(method) \(path): \(text(answer))"
            )
            notFound.append(answer)
        }

        let soldOut = try await call(
            shop,
            "POST",
            "/carts",
            #"{"line_items":[{"item":{"id":"var_mug_black"},"quantity":1}]}"#
        )
        let unsold = try await call(
            shop,
            "POST",
            "/carts",
            #"{"line_items":[{"item":{"id":"var_nope"},"quantity":1}]}"#
        )
        #expect(soldOut.status == 200 && unsold.status == 200)
        #expect((try object(soldOut)["messages"] as? [[String: Any]])?.first?["code"] as? String == "out_of_stock")
        #expect((try object(unsold)["messages"] as? [[String: Any]])?.first?["code"] as? String == "item_unavailable")
        #expect(try object(soldOut)["id"] == nil)
        // No cart was made for them: the next one is cart_00002.
        let next = try await call(shop, "POST", "/carts", #"{"line_items":[{"item":{"id":"var_ebook"},"quantity":1}]}"#)
        #expect(try object(next)["id"] as? String == "cart_00002")

        for body in [
            "", "{}", #"{"line_items":[]}"#, #"{"line_items":[{"item":{"id":"var_ebook"},"quantity":0}]}"#,
            #"{"line_items":[{"item":{"id":5},"quantity":1}]}"#,
            #"{"line_items":[{"item":{"id":"var_ebook"},"quantity":1}],"buyer":"alice"}"#,
        ] {
            let answer = try await call(shop, "POST", "/carts", body)
            #expect(answer.status == 400, "\(body): \(text(answer))")
            #expect(try object(answer)["code"] as? String == "invalid_request")
        }
        await shop.stop()

        try await validate("cart", [created, fetched, replaced, canceled, next])
        try await validate("error", notFound + [soldOut, unsold])
    }

    /// The same requests on two fresh shops give the same bytes (ids from the database's counter, sorted keys).
    @Test func freshShopsAnswerTheSameRequestsWithTheSameBytes() async throws {
        let requests: [(String, String, String?)] = [
            ("POST", "/catalog/search", #"{"query":"t-shirt"}"#),
            ("POST", "/catalog/search", #"{"filters":{"price":{"min":100}},"pagination":{"limit":3}}"#),
            ("POST", "/catalog/lookup", #"{"ids":["prod_tee","var_mug_black","x"]}"#),
            ("POST", "/catalog/product", #"{"id":"prod_tee","selected":[{"name":"size","label":"L"}]}"#),
            (
                "POST", "/carts",
                #"{"line_items":[{"item":{"id":"var_tee_m"},"quantity":1}],"context":{"currency":"USD"}}"#
            ),
            ("POST", "/carts", #"{"line_items":[{"item":{"id":"var_ebook"},"quantity":2}]}"#),
            ("PUT", "/carts/cart_00001", #"{"line_items":[{"item":{"id":"var_tee_l"},"quantity":2}]}"#),
            ("POST", "/carts/cart_00002/cancel", nil),
            ("GET", "/carts/cart_00002", nil),
        ]
        var answers: [[String]] = []
        for _ in 0..<2 {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-\(UUID().uuidString)")
            let shop = try await startShop(stateDirectory: directory.path)
            var bodies: [String] = []
            for (method, path, body) in requests {
                let answer = try await call(shop, method, path, body)
                bodies.append("\(answer.status) \(text(answer))")
            }
            await shop.stop()
            answers.append(bodies)
        }
        #expect(answers[0] == answers[1])
        #expect(answers[0][4].hasPrefix("201 ") && answers[0][4].contains(#""id":"cart_00001""#))
    }

    /// Carts live in the state database: a new shop on the same directory serves them, and numbers on.
    @Test func cartsSurviveARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-\(UUID().uuidString)")
        let keys = try KeyRing.ephemeral()
        let first = try await startShop(stateDirectory: directory.path, keys: keys)
        let created = try await call(
            first,
            "POST",
            "/carts",
            #"{"line_items":[{"item":{"id":"var_tee_m"},"quantity":2}],"buyer":{"first_name":"Alice"}}"#
        )
        let doomed = try await call(
            first,
            "POST",
            "/carts",
            #"{"line_items":[{"item":{"id":"var_ebook"},"quantity":1}]}"#
        )
        _ = try await call(first, "POST", "/carts/cart_00002/cancel")
        await first.stop()
        #expect(created.status == 201 && doomed.status == 201)

        let second = try await startShop(stateDirectory: directory.path, keys: keys)
        let kept = try await call(second, "GET", "/carts/cart_00001")
        let gone = try await call(second, "GET", "/carts/cart_00002")
        let next = try await call(
            second,
            "POST",
            "/carts",
            #"{"line_items":[{"item":{"id":"var_ebook"},"quantity":1}]}"#
        )
        let contents = try await CartStore(database: second.database).contents(of: "cart_00001")
        await second.stop()
        #expect(text(kept) == text(created))
        #expect((try object(gone)["messages"] as? [[String: Any]])?.first?["code"] as? String == "not_found")
        #expect(try object(next)["id"] as? String == "cart_00003")
        let found = try #require(contents)
        #expect(found.lineItems.map(\.itemID) == ["var_tee_m"] && found.lineItems.map(\.quantity) == [2])
        #expect(found.buyer.map { String(decoding: $0, as: UTF8.self) } == #"{"first_name":"Alice"}"#)
        #expect(found.context == nil)
    }

    /// The profile advertises every shopping capability with the release's URLs, and the shop's payment handlers.
    @Test(arguments: UCPVersion.allCases)
    func theProfileAdvertisesTheShoppingCapabilities(_ version: UCPVersion) async throws {
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            version: version,
            logger: TestSupport.quietLogger
        )
        let profile = try await call(shop, "GET", "/.well-known/ucp")
        await shop.stop()
        let ucp = try #require(try object(profile)["ucp"] as? [String: Any])
        let capabilities = try #require(ucp["capabilities"] as? [String: [[String: Any]]])
        #expect(Set(capabilities.keys) == Set(ShoppingCapability.allCases.map(\.rawValue)))
        let base = "https://ucp.dev/\(version.rawValue)"
        let search = try #require(capabilities["dev.ucp.shopping.catalog.search"]?.first)
        #expect(
            search["spec"] as? String
                == (version == .v2026_04_08
                    ? "\(base)/specification/catalog/search" : "\(base)/specification/shopping/catalog/search")
        )
        #expect(search["schema"] as? String == "\(base)/schemas/shopping/catalog_search.json")
        #expect(
            capabilities["dev.ucp.shopping.fulfillment"]?.first?["extends"] as? String == "dev.ucp.shopping.checkout"
        )
        #expect(
            capabilities["dev.ucp.shopping.discount"]?.first?["extends"] as? String == "dev.ucp.shopping.checkout"
        )
        #expect(
            ucp["payment_handlers"] as? [String: [[String: String]]]
                == ["dev.ucpsim.mock_payment": [["id": "mock_payment", "version": version.rawValue]]]
        )
        let output = try await UCPVersionTests.validate(kind: "profile", documents: [profile.body])
        if let output {
            #expect(!output.contains("invalid"), "\(output)")
        }
    }

    /// A shop speaking 2026-04-08 answers in that release (its `ucp.version`), valid under that release's schemas.
    @Test func anOlderReleaseShopAnswersValidUnderItsSchemas() async throws {
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            version: .v2026_04_08,
            logger: TestSupport.quietLogger
        )
        let search = try await call(shop, "POST", "/catalog/search", #"{"query":"tee"}"#)
        let lookup = try await call(shop, "POST", "/catalog/lookup", #"{"ids":["prod_mug","x"]}"#)
        let product = try await call(shop, "POST", "/catalog/product", #"{"id":"prod_tee"}"#)
        let cart = try await call(shop, "POST", "/carts", #"{"line_items":[{"item":{"id":"var_tee_l"},"quantity":5}]}"#)
        let missing = try await call(shop, "GET", "/carts/cart_09999")
        await shop.stop()
        let ucp = try #require(try object(cart)["ucp"] as? [String: Any])
        #expect(ucp["version"] as? String == "2026-04-08")
        for (kind, answer) in [
            ("search", search), ("lookup", lookup), ("product", product), ("cart", cart), ("error", missing),
        ] {
            let output = try await UCPVersionTests.validate(kind: kind, documents: [answer.body])
            if let output { #expect(output.contains("ok 2026-04-08") && !output.contains("invalid"), "\(output)") }
        }
    }
}
