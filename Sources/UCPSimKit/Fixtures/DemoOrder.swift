/// The order `ucpsim demo` sends, built into the binary so the demo runs from any directory: the bytes of
/// `fixtures/order-created.json` (a test checks they are equal, so the two never drift apart).
public enum DemoOrder {
    /// The snapshot's exact bytes.
    public static var bytes: [UInt8] { Array(text.utf8) }

    /// `fixtures/order-created.json`, byte for byte (no final newline, like the file). Regenerate with
    /// `python3 Tests/tools/embed_demo_order.py`.
    static let text = #"""
        {
          "ucp": {
            "version": "2026-08-25",
            "capabilities": {
              "dev.ucp.shopping.order": [
                {
                  "version": "2026-08-25"
                }
              ]
            }
          },
          "id": "ord_7Kq2mX9pLw4R",
          "checkout_id": "chk_3Vn8Tb1Qz6Yd",
          "label": "Order #1001",
          "permalink_url": "http://127.0.0.1:8080/orders/ord_7Kq2mX9pLw4R",
          "currency": "USD",
          "line_items": [
            {
              "id": "li_1",
              "item": {
                "id": "sku_dripper_ceramic_white",
                "title": "Ceramic Pour-Over Coffee Dripper",
                "price": 2800
              },
              "quantity": {
                "original": 1,
                "total": 1,
                "fulfilled": 0
              },
              "totals": [
                {
                  "type": "subtotal",
                  "amount": 2800
                },
                {
                  "type": "total",
                  "amount": 2800
                }
              ],
              "status": "processing"
            },
            {
              "id": "li_2",
              "item": {
                "id": "sku_filters_unbleached_100",
                "title": "Unbleached Paper Filters (100 pack)",
                "price": 650
              },
              "quantity": {
                "original": 2,
                "total": 2,
                "fulfilled": 0
              },
              "totals": [
                {
                  "type": "subtotal",
                  "amount": 1300
                },
                {
                  "type": "total",
                  "amount": 1300
                }
              ],
              "status": "processing"
            },
            {
              "id": "li_3",
              "item": {
                "id": "sku_beans_yirgacheffe_340g",
                "title": "Ethiopia Yirgacheffe Whole Bean Coffee, 340 g",
                "price": 1900
              },
              "quantity": {
                "original": 1,
                "total": 1,
                "fulfilled": 0
              },
              "totals": [
                {
                  "type": "subtotal",
                  "amount": 1900
                },
                {
                  "type": "total",
                  "amount": 1900
                }
              ],
              "status": "processing"
            }
          ],
          "fulfillment": {
            "expectations": [
              {
                "id": "exp_1",
                "line_items": [
                  {
                    "id": "li_1",
                    "quantity": 1
                  },
                  {
                    "id": "li_2",
                    "quantity": 2
                  },
                  {
                    "id": "li_3",
                    "quantity": 1
                  }
                ],
                "method_type": "shipping",
                "destination": {
                  "first_name": "Jane",
                  "last_name": "Doe",
                  "street_address": "123 Main St",
                  "extended_address": "Apt 4B",
                  "address_locality": "Austin",
                  "address_region": "TX",
                  "postal_code": "78701",
                  "address_country": "US"
                },
                "description": "Arrives in 3-5 business days",
                "fulfillable_on": "now"
              }
            ],
            "events": []
          },
          "adjustments": [],
          "totals": [
            {
              "type": "subtotal",
              "amount": 6000
            },
            {
              "type": "fulfillment",
              "display_text": "Standard Shipping",
              "amount": 599
            },
            {
              "type": "tax",
              "display_text": "Sales Tax",
              "amount": 495
            },
            {
              "type": "total",
              "amount": 7094
            }
          ]
        }

        """#
}
