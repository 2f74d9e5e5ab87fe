import Foundation
import Testing
import Yams
@testable import UCPSimKit

/// The control API's JSON and a scenario's YAML are read by the same types, so the same fields get the same verdict.
@Suite struct OrderRequestTests {
    /// JSON text is YAML too: each input is read both ways.
    static let orders = [
        #"{"id":"o","currency":"EUR","shipping":499,"items":[{"sku":"m","price":1500,"quantity":2}]}"#,
        #"{"id":"o","items":[{"sku":"m","price":1500}],"destination":{"postal_code":"12345"}}"#,
        #"{"id":"o","items":[{"sku":"m","price":1500,"quantity":0}]}"#,
        #"{"id":"o","items":[{"sku":"m","price":-5}]}"#,
        #"{"id":"o","items":[{"sku":"m","price":"1500"}]}"#,
        #"{"id":"o","items":[{"sku":"m","price":1500,"quantity":true}]}"#,
        #"{"id":"o","items":[{"sku":"m","price":1500,"size":"L"}]}"#,
        #"{"id":"o","currency":"DOLLARS","items":[{"sku":"m","price":1}]}"#,
        #"{"id":"o","items":[{"price":1}]}"#,
        #"{"id":"o","items":{"sku":"m"}}"#,
        #"{"id":"o","count":0,"items":[{"sku":"m","price":1}]}"#,
        #"{"id":"o","count":3,"items":[{"sku":"m","price":1}]}"#,
    ]

    @Test(arguments: orders)
    func orderFieldsGetTheSameVerdictInJSONAndYAML(_ text: String) throws {
        try Self.expectSameVerdict(text, OrderRequest.self) { bytes throws(FieldError) in
            try OrderRequest.decode(json: bytes)
        }
    }

    static let parameters = [
        #"{"lines":[{"id":"li_1","quantity":2}],"carrier":"UPS","tracking_number":"1Z"}"#,
        #"{"lines":[{"id":"li_1"}]}"#,
        #"{"lines":[{"id":"li_1","quantity":0}]}"#,
        #"{"lines":[{"quantity":1}]}"#,
        #"{"lines":[]}"#,
        #"{"amount":1,"completed":false}"#,
        #"{"amount":0}"#,
        #"{"amount":2.5}"#,
        #"{"completed":"yes please"}"#,
        #"{"speed":"fast"}"#,
    ]

    @Test(arguments: parameters)
    func transitionParametersGetTheSameVerdictInJSONAndYAML(_ text: String) throws {
        try Self.expectSameVerdict(text, TransitionParameters.self) { bytes throws(FieldError) in
            try TransitionParameters.decode(json: bytes)
        }
    }

    /// `text` read as JSON (by `decodeJSON`) and as YAML gives the same value, or the same error.
    static func expectSameVerdict<T: Decodable & Equatable>(
        _ text: String,
        _ type: T.Type,
        decodeJSON: ([UInt8]) throws(FieldError) -> T
    ) throws {
        let json = Result { () throws(FieldError) in try decodeJSON(Array(text.utf8)) }
        let node = try #require(try Yams.compose(yaml: text))
        let yaml = Result { try YAMLDecoder().decode(T.self, from: node) }
        switch (json, yaml) {
        case (.success(let fromJSON), .success(let fromYAML)):
            #expect(fromJSON == fromYAML)
        case (.failure(let fromJSON), .failure(let fromYAML)):
            #expect(fromJSON.description == "\(fromYAML)")
        default:
            Issue.record("JSON: \(json), YAML: \(yaml)")
        }
    }

    @Test func theCurrencyListIsISO4217ListOneWithMinorUnits() {
        #expect(ISO4217.codes.count == 178)
        #expect(ISO4217.minorUnit(of: "USD") == 2 && ISO4217.minorUnit(of: "JPY") == 0)
        #expect(ISO4217.minorUnit(of: "KWD") == 3 && ISO4217.minorUnit(of: "CLF") == 4)
        #expect(ISO4217.codes.contains("XAU") && ISO4217.minorUnit(of: "XAU") == nil)
        #expect(!ISO4217.codes.contains("HRK") && ISO4217.codes.contains("XCG") && ISO4217.codes.contains("ZWG"))
        #expect(ISO4217.minorUnit(of: "DOLLARS") == nil && ISO4217.minorUnit(of: "usd") == nil)
    }
}
