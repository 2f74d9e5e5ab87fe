import Foundation
import Yams

/// A shop file that cannot be used: `file:line: reason` (exit 65).
public struct ShopFileError: Error, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let reason: String

    public var description: String { "\(file):\(line): \(reason)" }
}

extension ShopFile {
    /// The embedded shop (`embeddedYAML`), parsed.
    public static let embedded: ShopFile = {
        do {
            return try parse(yaml: embeddedYAML, file: "<embedded shop>")
        } catch {
            // The embedded text is fixed at build time and a test parses it: this is unreachable.
            preconditionFailure("the embedded shop does not parse: \(error)")
        }
    }()

    /// Reads a shop file (`serve --shop FILE`).
    public static func load(path: String) throws(UCPSimError) -> ShopFile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw UCPSimError(.noInput, "cannot read shop file \(path): \(error.localizedDescription)")
        }
        do {
            return try parse(yaml: text, file: path)
        } catch {
            throw UCPSimError(.dataError, error.description)
        }
    }

    /// Parses shop YAML strictly: unknown keys, wrong types, duplicate ids, negative money and references to
    /// nothing are errors at their line.
    public static func parse(yaml: String, file: String) throws(ShopFileError) -> ShopFile {
        let root: Node
        do {
            guard let parsed = try Yams.compose(yaml: yaml) else {
                throw ShopFileError(file: file, line: 1, reason: "the file is empty")
            }
            root = parsed
        } catch let error as ShopFileError {
            throw error
        } catch let error as YamlError {
            throw ShopFileError(file: file, line: Self.line(of: error), reason: "not YAML: \(error)")
        } catch {
            throw ShopFileError(file: file, line: 1, reason: "not YAML: \(error)")
        }
        return try ShopFileReader(file: file).shop(root)
    }

    private static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default: return 1
        }
    }
}

/// Reads the node tree of a shop file, keeping line numbers for errors.
private struct ShopFileReader {
    let file: String

    func fail(_ node: Node, _ reason: String) -> ShopFileError {
        ShopFileError(file: file, line: node.mark?.line ?? 1, reason: reason)
    }

    /// The mapping at `node`, after checking it has only `allowed` keys and every one of `required`.
    func mapping(_ node: Node, _ what: String, allowed: Set<String>, required: Set<String> = []) throws(ShopFileError)
        -> [String: Node]
    {
        guard let mapping = node.mapping else { throw fail(node, "\(what) must be a mapping") }
        var result: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw fail(key, "\(what): keys must be strings") }
            guard allowed.contains(name) else {
                throw fail(key, "\(what): unknown key `\(name)` (known: \(allowed.sorted().joined(separator: ", ")))")
            }
            guard result[name] == nil else { throw fail(key, "\(what): `\(name)` is given twice") }
            result[name] = value
        }
        for name in required.sorted() where result[name] == nil {
            throw fail(node, "\(what): `\(name)` is required")
        }
        return result
    }

    func string(_ node: Node?, _ what: String, in parent: Node) throws(ShopFileError) -> String {
        guard let node else { throw fail(parent, "\(what) is required") }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            throw fail(node, "\(what) must be a non-empty string")
        }
        return scalar.string
    }

    func optionalString(_ node: Node?, _ what: String) throws(ShopFileError) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            throw fail(node, "\(what) must be a non-empty string")
        }
        return scalar.string
    }

    func integer(_ node: Node?, _ what: String, in parent: Node, range: ClosedRange<Int>) throws(ShopFileError) -> Int {
        guard let node else { throw fail(parent, "\(what) is required") }
        guard case .scalar(let scalar) = node, let value = Int(scalar.string, radix: 10) else {
            throw fail(node, "\(what) must be a whole number (money is in minor units: 1500 is 15.00)")
        }
        guard range.contains(value) else {
            throw fail(node, "\(what) must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func bool(_ node: Node?, _ what: String, default value: Bool) throws(ShopFileError) -> Bool {
        guard let node else { return value }
        guard let parsed = node.bool else { throw fail(node, "\(what) must be true or false") }
        return parsed
    }

    func list(_ node: Node?, _ what: String, in parent: Node, required: Bool = false) throws(ShopFileError) -> [Node] {
        guard let node else {
            if required { throw fail(parent, "\(what) is required") }
            return []
        }
        guard let sequence = node.sequence else { throw fail(node, "\(what) must be a list") }
        if required && sequence.isEmpty { throw fail(node, "\(what) must not be empty") }
        return Array(sequence)
    }

    func strings(_ node: Node?, _ what: String, in parent: Node) throws(ShopFileError) -> [String] {
        var result: [String] = []
        for item in try list(node, what, in: parent) { result.append(try string(item, what, in: parent)) }
        return result
    }

    func country(_ node: Node?, _ what: String, in parent: Node) throws(ShopFileError) -> String {
        let code = try string(node, what, in: parent)
        guard code.count == 2, code.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw fail(node ?? parent, "\(what) must be an ISO 3166-1 alpha-2 code such as US")
        }
        return code
    }

    /// Money in minor units: up to 10⁹ (10 million in a two-decimal currency), so that no total a request can
    /// make (at most 1,000 lines of 10⁶ units) overflows.
    static let money = 0...1_000_000_000

    func shop(_ root: Node) throws(ShopFileError) -> ShopFile {
        let top = try mapping(
            root,
            "the shop file",
            allowed: [
                "name", "currency", "links", "products", "fulfillment", "discounts", "payment_handlers", "tax",
                "customers", "oauth_clients",
            ],
            required: ["name", "currency", "products", "fulfillment", "payment_handlers", "links"]
        )
        let currency = try string(top["currency"], "currency", in: root)
        guard ISO4217.minorUnit(of: currency) != nil else {
            throw fail(top["currency"] ?? root, "currency must be an ISO 4217 code such as USD")
        }
        var products: [ShopFile.Product] = []
        var variantIDs: Set<String> = []
        for node in try list(top["products"], "products", in: root, required: true) {
            let product = try self.product(node)
            guard !products.contains(where: { $0.id == product.id }) else {
                throw fail(node, "product id \(product.id) is used twice")
            }
            let variantNodes = node.mapping?["variants"]?.sequence.map(Array.init) ?? []
            for (index, variant) in product.variants.enumerated() where !variantIDs.insert(variant.id).inserted {
                // At the repeated variant's own line, not its product's.
                throw fail(
                    index < variantNodes.count ? variantNodes[index] : node,
                    "variant id \(variant.id) is used twice"
                )
            }
            products.append(product)
        }
        var discounts: [ShopFile.Discount] = []
        for node in try list(top["discounts"], "discounts", in: root) {
            let discount = try self.discount(node)
            guard !discounts.contains(where: { $0.code.caseInsensitiveCompare(discount.code) == .orderedSame }) else {
                throw fail(node, "discount code \(discount.code) is used twice")
            }
            discounts.append(discount)
        }
        var handlers: [ShopFile.PaymentHandler] = []
        for node in try list(top["payment_handlers"], "payment_handlers", in: root, required: true) {
            let handler = try paymentHandler(node)
            guard !handlers.contains(where: { $0.id == handler.id }) else {
                throw fail(node, "payment handler id \(handler.id) is used twice")
            }
            handlers.append(handler)
        }
        var customers: [ShopFile.Customer] = []
        for node in try list(top["customers"], "customers", in: root) {
            let customer = try self.customer(node)
            guard !customers.contains(where: { $0.id == customer.id || $0.email == customer.email }) else {
                throw fail(node, "customer \(customer.id) (\(customer.email)) is given twice")
            }
            customers.append(customer)
        }
        var clients: [OAuthClient] = []
        for node in try list(top["oauth_clients"], "oauth_clients", in: root) {
            let client = try oauthClient(node)
            guard !clients.contains(where: { $0.id == client.id }) else {
                throw fail(node, "OAuth client \(client.id) is given twice")
            }
            clients.append(client)
        }
        var links: [ShopFile.Link] = []
        for node in try list(top["links"], "links", in: root, required: true) {
            let fields = try mapping(node, "a link", allowed: ["type", "url", "title"], required: ["type", "url"])
            links.append(
                ShopFile.Link(
                    type: try string(fields["type"], "links[].type", in: node),
                    url: try url(fields["url"], "links[].url", in: node),
                    title: try optionalString(fields["title"], "links[].title")
                )
            )
        }
        return ShopFile(
            name: try string(top["name"], "name", in: root),
            currency: currency,
            products: products,
            fulfillment: try fulfillment(top["fulfillment"] ?? root),
            discounts: discounts,
            paymentHandlers: handlers,
            tax: try top["tax"].map { node throws(ShopFileError) in try tax(node) },
            customers: customers,
            oauthClients: clients,
            links: links
        )
    }

    func url(_ node: Node?, _ what: String, in parent: Node) throws(ShopFileError) -> String {
        let text = try string(node, what, in: parent)
        guard let url = URL(string: text), ["https", "http"].contains(url.scheme ?? ""), url.host != nil else {
            throw fail(node ?? parent, "\(what) must be an http(s) URL")
        }
        return text
    }

    func product(_ node: Node) throws(ShopFileError) -> ShopFile.Product {
        let fields = try mapping(
            node,
            "a product",
            allowed: ["id", "title", "description", "categories", "images", "variants"],
            required: ["id", "title", "description", "variants"]
        )
        var variants: [ShopFile.Variant] = []
        for item in try list(fields["variants"], "variants", in: node, required: true) {
            let variant = try mapping(
                item,
                "a variant",
                allowed: ["id", "title", "price", "member_price", "inventory", "options", "digital"],
                required: ["id", "title", "price", "inventory"]
            )
            var options: [String: String] = [:]
            if let optionNode = variant["options"] {
                guard let pairs = optionNode.mapping else { throw fail(optionNode, "options must be a mapping") }
                for (key, value) in pairs {
                    options[try string(key, "an option name", in: optionNode)] = try string(
                        value,
                        "an option value",
                        in: optionNode
                    )
                }
            }
            let price = try integer(variant["price"], "price", in: item, range: Self.money)
            // A member price is a reduction: at most the list price.
            let memberPrice = try variant["member_price"].map { node throws(ShopFileError) in
                let value = try integer(node, "member_price", in: item, range: Self.money)
                guard value <= price else {
                    throw fail(node, "member_price (\(value)) must not be more than price (\(price))")
                }
                return value
            }
            variants.append(
                ShopFile.Variant(
                    id: try string(variant["id"], "variants[].id", in: item),
                    title: try string(variant["title"], "variants[].title", in: item),
                    price: price,
                    inventory: try integer(variant["inventory"], "inventory", in: item, range: 0...1_000_000_000),
                    options: options,
                    digital: try bool(variant["digital"], "digital", default: false),
                    memberPrice: memberPrice
                )
            )
        }
        var images: [String] = []
        for image in try list(fields["images"], "images", in: node) {
            images.append(try url(image, "images[]", in: node))
        }
        return ShopFile.Product(
            id: try string(fields["id"], "products[].id", in: node),
            title: try string(fields["title"], "products[].title", in: node),
            description: try string(fields["description"], "products[].description", in: node),
            categories: try strings(fields["categories"], "categories", in: node),
            images: images,
            variants: variants
        )
    }

    func address(_ node: Node) throws(ShopFileError) -> ShopFile.Address {
        let fields = try mapping(
            node,
            "an address",
            allowed: ["street_address", "locality", "region", "postal_code", "country", "first_name", "last_name"],
            required: ["street_address", "locality", "postal_code", "country"]
        )
        return ShopFile.Address(
            streetAddress: try string(fields["street_address"], "street_address", in: node),
            locality: try string(fields["locality"], "locality", in: node),
            region: try optionalString(fields["region"], "region"),
            postalCode: try string(fields["postal_code"], "postal_code", in: node),
            country: try country(fields["country"], "country", in: node),
            firstName: try optionalString(fields["first_name"], "first_name"),
            lastName: try optionalString(fields["last_name"], "last_name")
        )
    }

    func fulfillment(_ node: Node) throws(ShopFileError) -> ShopFile.Fulfillment {
        let fields = try mapping(
            node,
            "fulfillment",
            allowed: ["countries", "free_shipping_threshold", "shipping", "pickup"],
            required: ["countries", "shipping"]
        )
        var shipping: [ShopFile.ShippingOption] = []
        for item in try list(fields["shipping"], "fulfillment.shipping", in: node, required: true) {
            let option = try mapping(
                item,
                "a shipping option",
                allowed: ["id", "title", "description", "carrier", "rate"],
                required: ["id", "title", "rate"]
            )
            let id = try string(option["id"], "shipping[].id", in: item)
            guard !shipping.contains(where: { $0.id == id }) else {
                throw fail(item, "shipping option id \(id) is used twice")
            }
            shipping.append(
                ShopFile.ShippingOption(
                    id: id,
                    title: try string(option["title"], "shipping[].title", in: item),
                    rate: try integer(option["rate"], "rate", in: item, range: Self.money),
                    description: try optionalString(option["description"], "description"),
                    carrier: try optionalString(option["carrier"], "carrier")
                )
            )
        }
        var pickup: [ShopFile.PickupLocation] = []
        for item in try list(fields["pickup"], "fulfillment.pickup", in: node) {
            let location = try mapping(
                item,
                "a pickup location",
                allowed: ["id", "name", "address"],
                required: ["id", "name", "address"]
            )
            pickup.append(
                ShopFile.PickupLocation(
                    id: try string(location["id"], "pickup[].id", in: item),
                    name: try string(location["name"], "pickup[].name", in: item),
                    address: try address(location["address"] ?? item)
                )
            )
        }
        var countries: [String] = []
        for item in try list(fields["countries"], "fulfillment.countries", in: node, required: true) {
            countries.append(try country(item, "fulfillment.countries[]", in: node))
        }
        return ShopFile.Fulfillment(
            shipping: shipping,
            freeShippingThreshold: try fields["free_shipping_threshold"].map { value throws(ShopFileError) in
                try integer(value, "free_shipping_threshold", in: node, range: Self.money)
            },
            countries: countries,
            pickup: pickup
        )
    }

    func discount(_ node: Node) throws(ShopFileError) -> ShopFile.Discount {
        let fields = try mapping(
            node,
            "a discount",
            allowed: ["code", "title", "kind", "value", "minimum_subtotal", "expires_at", "stackable"],
            required: ["code", "title", "kind", "value"]
        )
        let kindText = try string(fields["kind"], "kind", in: node)
        guard let kind = ShopFile.Discount.Kind(rawValue: kindText) else {
            throw fail(
                fields["kind"] ?? node,
                "kind must be one of: \(ShopFile.Discount.Kind.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        let value = try integer(
            fields["value"],
            "value",
            in: node,
            range: kind == .percentage ? 1...100 : 1...Self.money.upperBound
        )
        var expires: Date?
        if let expiresNode = fields["expires_at"] {
            let text = try string(expiresNode, "expires_at", in: node)
            guard let date = ISO8601DateFormatter().date(from: text) else {
                throw fail(expiresNode, "expires_at must be an RFC 3339 time such as 2027-01-01T00:00:00Z")
            }
            expires = date
        }
        return ShopFile.Discount(
            code: try string(fields["code"], "code", in: node),
            title: try string(fields["title"], "title", in: node),
            kind: kind,
            value: value,
            minimumSubtotal: try fields["minimum_subtotal"].map { item throws(ShopFileError) in
                try integer(item, "minimum_subtotal", in: node, range: Self.money)
            },
            expiresAt: expires,
            stackable: try bool(fields["stackable"], "stackable", default: false)
        )
    }

    func paymentHandler(_ node: Node) throws(ShopFileError) -> ShopFile.PaymentHandler {
        let fields = try mapping(
            node,
            "a payment handler",
            allowed: ["name", "id", "tokens"],
            required: ["name", "id", "tokens"]
        )
        let name = try string(fields["name"], "payment_handlers[].name", in: node)
        guard name.split(separator: ".").count >= 2,
            name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "_") })
        else {
            throw fail(
                fields["name"] ?? node,
                "payment_handlers[].name must be a reverse-domain name such as dev.ucpsim.mock_payment"
            )
        }
        var tokens: [String: ShopFile.TokenOutcome] = [:]
        guard let tokenNode = fields["tokens"], let pairs = tokenNode.mapping, !pairs.isEmpty else {
            throw fail(fields["tokens"] ?? node, "tokens must be a non-empty mapping of token to outcome")
        }
        for (key, value) in pairs {
            let token = try string(key, "a token", in: tokenNode)
            let outcomeText = try string(value, "a token's outcome", in: tokenNode)
            guard let outcome = ShopFile.TokenOutcome(rawValue: outcomeText) else {
                throw fail(
                    value,
                    "a token's outcome must be one of: \(ShopFile.TokenOutcome.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            tokens[token] = outcome
        }
        return ShopFile.PaymentHandler(
            name: name,
            id: try string(fields["id"], "payment_handlers[].id", in: node),
            tokens: tokens
        )
    }

    func tax(_ node: Node) throws(ShopFileError) -> ShopFile.TaxRule {
        let fields = try mapping(
            node,
            "tax",
            allowed: ["title", "rate_basis_points", "countries", "shipping_taxable"],
            required: ["title", "rate_basis_points"]
        )
        var countries: [String] = []
        for item in try list(fields["countries"], "tax.countries", in: node) {
            countries.append(try country(item, "tax.countries[]", in: node))
        }
        return ShopFile.TaxRule(
            title: try string(fields["title"], "tax.title", in: node),
            rateBasisPoints: try integer(fields["rate_basis_points"], "rate_basis_points", in: node, range: 0...10_000),
            countries: countries,
            shippingTaxable: try bool(fields["shipping_taxable"], "shipping_taxable", default: false)
        )
    }

    func customer(_ node: Node) throws(ShopFileError) -> ShopFile.Customer {
        let fields = try mapping(
            node,
            "a customer",
            allowed: ["id", "email", "first_name", "last_name", "password", "addresses"],
            required: ["id", "email", "first_name", "last_name", "password"]
        )
        var addresses: [ShopFile.Address] = []
        for item in try list(fields["addresses"], "addresses", in: node) { addresses.append(try address(item)) }
        return ShopFile.Customer(
            id: try string(fields["id"], "customers[].id", in: node),
            email: try string(fields["email"], "email", in: node),
            firstName: try string(fields["first_name"], "first_name", in: node),
            lastName: try string(fields["last_name"], "last_name", in: node),
            password: try string(fields["password"], "password", in: node),
            addresses: addresses
        )
    }

    func oauthClient(_ node: Node) throws(ShopFileError) -> OAuthClient {
        let fields = try mapping(
            node,
            "an OAuth client",
            allowed: ["id", "name", "secret", "redirect_uris", "token_endpoint_auth_method", "profile"],
            required: ["id", "redirect_uris"]
        )
        let id = try string(fields["id"], "oauth_clients[].id", in: node)
        let secret = try optionalString(fields["secret"], "secret")
        let uris = try strings(fields["redirect_uris"], "redirect_uris", in: node)
        guard !uris.isEmpty else {
            throw fail(fields["redirect_uris"] ?? node, "redirect_uris must list at least one URI")
        }
        for uri in uris {
            if let problem = OAuthClient.redirectProblem(uri) {
                throw fail(fields["redirect_uris"] ?? node, "redirect URI \(problem)")
            }
        }
        var method: OAuthClient.AuthMethod?
        if let text = try optionalString(fields["token_endpoint_auth_method"], "token_endpoint_auth_method") {
            guard let parsed = OAuthClient.AuthMethod(rawValue: text) else {
                let known = OAuthClient.AuthMethod.allCases.map(\.rawValue).joined(separator: ", ")
                throw fail(
                    fields["token_endpoint_auth_method"] ?? node,
                    "token_endpoint_auth_method must be one of \(known)"
                )
            }
            method = parsed
        }
        switch (method ?? (secret == nil ? .none : .clientSecretBasic), secret) {
        case (.none, .some):
            throw fail(node, "OAuth client \(id): a public client (token_endpoint_auth_method none) has no secret")
        case (.clientSecretBasic, nil), (.clientSecretPost, nil):
            throw fail(node, "OAuth client \(id): token_endpoint_auth_method \(method?.rawValue ?? "") needs a secret")
        default: break
        }
        return OAuthClient(
            id: id,
            secret: secret,
            redirectURIs: uris,
            authMethod: method,
            name: try optionalString(fields["name"], "name"),
            profile: try fields["profile"].map { profile throws(ShopFileError) in
                try url(profile, "oauth_clients[].profile", in: node)
            }
        )
    }
}
