extension ShopFile {
    /// The shop `ucpsim serve` runs without `--shop`: the YAML format by example (README § Shop file).
    public static let embeddedYAML = """
        # ucpsim's embedded shop (serve --shop FILE replaces it). Money is integer minor units of `currency`.
        name: ucpsim Demo Shop
        currency: USD
        links:
          - type: terms_of_service
            url: https://shop.example.com/terms
            title: Terms of Service
          - type: privacy_policy
            url: https://shop.example.com/privacy
            title: Privacy Policy
        products:
          - id: prod_mug
            title: Ceramic Mug
            description: A 350 ml stoneware mug, dishwasher safe.
            categories: [Kitchen, Mugs]
            images: [https://shop.example.com/images/mug.jpg]
            variants:
              - id: var_mug_white
                title: Ceramic Mug - White
                price: 1500
                member_price: 1200  # what a signed-in customer pays (a checkout with a buyer token)
                inventory: 100
                options: {color: White}
              - id: var_mug_black
                title: Ceramic Mug - Black
                price: 1500
                inventory: 0
                options: {color: Black}
          - id: prod_tee
            title: Organic Cotton T-Shirt
            description: A heavyweight organic cotton tee.
            categories: [Apparel, T-Shirts]
            images: [https://shop.example.com/images/tee.jpg]
            variants:
              - id: var_tee_m
                title: Organic Cotton T-Shirt - M
                price: 2800
                inventory: 50
                options: {size: M}
              - id: var_tee_l
                title: Organic Cotton T-Shirt - L
                price: 2800
                inventory: 3
                options: {size: L}
          - id: prod_beans
            title: Single-Origin Coffee Beans
            description: 500 g of whole beans, roasted to order.
            categories: [Kitchen, Coffee]
            images: [https://shop.example.com/images/beans.jpg]
            variants:
              - id: var_beans_500g
                title: Single-Origin Coffee Beans 500 g
                price: 1899
                inventory: 200
          - id: prod_ebook
            title: The Home Barista (e-book)
            description: A guide to espresso at home, as EPUB and PDF.
            categories: [Books]
            images: [https://shop.example.com/images/ebook.jpg]
            variants:
              - id: var_ebook
                title: The Home Barista (e-book)
                price: 999
                inventory: 1000000
                digital: true
        fulfillment:
          countries: [US, CA]
          free_shipping_threshold: 5000
          shipping:
            - id: standard
              title: Standard Shipping
              description: Arrives in 5-7 business days
              carrier: USPS
              rate: 599
            - id: express
              title: Express Shipping
              description: Arrives in 1-2 business days
              carrier: UPS
              rate: 1499
          pickup:
            - id: store_downtown
              name: ucpsim Downtown Store
              address:
                street_address: 1 Market St
                locality: San Francisco
                region: CA
                postal_code: "94105"
                country: US
        discounts:
          - code: WELCOME10
            title: 10% off your first order
            kind: percentage
            value: 10
            stackable: false
          - code: SAVE5
            title: $5 off orders over $30
            kind: fixed_amount
            value: 500
            minimum_subtotal: 3000
            stackable: true
          - code: SHIPFREE
            title: $2 off, combinable
            kind: fixed_amount
            value: 200
            stackable: true
          - code: EXPIRED20
            title: 20% off (expired)
            kind: percentage
            value: 20
            expires_at: 2026-01-01T00:00:00Z
        payment_handlers:
          - name: dev.ucpsim.mock_payment
            id: mock_payment
            tokens:
              tok_success: success
              tok_decline: decline
              tok_3ds: escalate
              tok_pending: pending
        tax:
          title: Sales tax
          rate_basis_points: 825
          countries: [US]
          shipping_taxable: false
        customers:
          - id: cus_alice
            email: alice@example.com
            first_name: Alice
            last_name: Jones
            password: alice-password
            addresses:
              - street_address: 123 Main St
                locality: Springfield
                region: IL
                postal_code: "62701"
                country: US
                first_name: Alice
                last_name: Jones
          - id: cus_bob
            email: bob@example.com
            first_name: Bob
            last_name: Smith
            password: bob-password
            addresses:
              - street_address: 42 Queen St W
                locality: Toronto
                region: ON
                postal_code: M5H 2N2
                country: CA
                first_name: Bob
                last_name: Smith
        # Platforms registered with the shop's OAuth 2.0 authorization server (identity linking; serve --oauth-client adds
        # more). A client without a secret is public (token_endpoint_auth_method none: PKCE S256 is its proof); one with a
        # secret authenticates with client_secret_basic unless it names client_secret_post. Loopback redirect URIs
        # (127.0.0.1, [::1]) match on any port. `profile: URL` (the platform's UCP profile) binds a client to a platform:
        # its access tokens are then accepted only on requests that platform signed.
        oauth_clients:
          - id: demo-agent
            name: Demo Agent
            redirect_uris: [http://127.0.0.1/callback]
          - id: sample-platform
            name: Sample Platform
            secret: sample-platform-secret
            redirect_uris: [http://127.0.0.1/callback, https://platform.example/oauth/callback]
        """
}
