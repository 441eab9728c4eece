import Testing

@testable import GatewayCore

@Suite("JSON parser")
struct JSONParserTests {
    @Test func parsesDocumentsKeepingOrderAndNumberText() throws {
        let v = try JSONParser.parse(#"{"b":1,"a":[true,false,null,"x"],"amount":0.10,"big":12345678901234567890123}"#)
        guard case .object(let o) = v else {
            Issue.record("not an object")
            return
        }
        #expect(o.keys == ["b", "a", "amount", "big"])
        #expect(o["amount"] == .number("0.10"))
        #expect(o["big"] == .number("12345678901234567890123"))
        #expect(o["a"] == .array([.bool(true), .bool(false), .null, .string("x")]))
    }

    @Test func decodesEscapesAndUnicode() throws {
        let v = try JSONParser.parse(#"{"s":"a\"b\\c\/d\n\u00e9\u4e2d\ud83d\ude00","raw":"张伟"}"#)
        #expect(v["s"] == .string("a\"b\\c/d\né中😀"))
        #expect(v["raw"] == .string("张伟"))
    }

    @Test func roundTripsThroughTheSerializer() throws {
        let text = #"{"eventCode":"Payment","n":-1.5e+10,"s":"q\"\u0001\n","a":[],"o":{},"u":"Müller"}"#
        let v = try JSONParser.parse(text)
        let again = try JSONParser.parse(v.serialized())
        #expect(v == again)
        #expect(v.jsonText == #"{"eventCode":"Payment","n":-1.5e+10,"s":"q\"\u0001\n","a":[],"o":{},"u":"Müller"}"#)
    }

    @Test(arguments: [
        ("", "unexpected end"),
        ("{", "string key"),
        ("{\"a\":1,}", "string key"),
        ("[1,]", "unexpected character"),
        ("01", "after the JSON value"),
        ("1.", "invalid number"),
        ("-", "invalid number"),
        ("+1", "unexpected character"),
        ("NaN", "unexpected character"),
        ("\"\u{1}\"", "control character"),
        ("\"\\x\"", "invalid escape"),
        ("\"\\ud800\"", "surrogate"),
        ("\"\\udc00x\"", "surrogate"),
        ("{\"a\":1,\"a\":2}", "duplicate key"),
        ("tru", "literal"),
        ("{} {}", "after the JSON value"),
    ])
    func refusesInvalidDocuments(_ text: String, _ reason: String) {
        #expect {
            try JSONParser.parse(text)
        } throws: { error in
            guard let e = error as? JSONParser.ParseError else { return false }
            return e.reason.contains(reason)
        }
    }

    @Test func refusesInvalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]  // "\xC3(" : a broken two-byte sequence
        #expect(throws: JSONParser.ParseError.self) { try JSONParser.parse(bytes) }
        let overlong: [UInt8] = [0x22, 0xC0, 0xAF, 0x22]
        #expect(throws: JSONParser.ParseError.self) { try JSONParser.parse(overlong) }
        let escaped: [UInt8] = Array(#"{"k\u00e9":"\"#.utf8) + [0xFF] + Array(#""}"#.utf8)
        #expect(throws: JSONParser.ParseError.self) { try JSONParser.parse(escaped) }
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try JSONParser.parse(ok)
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParser.ParseError.self) { try JSONParser.parse(deep) }
        // A hostile nesting far beyond the limit fails fast instead of exhausting the stack.
        let hostile = String(repeating: "{\"a\":", count: 100_000)
        #expect(throws: JSONParser.ParseError.self) { try JSONParser.parse(hostile) }
    }

    @Test func numberLengthLimit() throws {
        _ = try JSONParser.parse(String(repeating: "9", count: 64))
        #expect(throws: JSONParser.ParseError.self) { try JSONParser.parse(String(repeating: "9", count: 65)) }
        #expect(throws: JSONParser.ParseError.self) { try JSONParser.parse("1e" + String(repeating: "9", count: 100)) }
    }

    @Test func largeObjectsStillRefuseDuplicates() {
        let members = (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(throws: JSONParser.ParseError.self) { try JSONParser.parse("{\(members),\"k7\":1}") }
    }

    @Test func pathsIntoObjectsAndArrays() throws {
        let v = try JSONParser.parse(#"{"payment":{"items":[{"sku":"A"},{"sku":"B"}],"status":"Success"}}"#)
        #expect(v.value(at: "payment.status") == .string("Success"))
        #expect(v.value(at: "payment.items.1.sku") == .string("B"))
        #expect(v.value(at: "payment.items.2.sku") == nil)
        #expect(v.value(at: "payment.missing") == nil)
        #expect(JSONPath("a..b") == nil)
        #expect(JSONPath("") == nil)
        #expect(JSONPath(".a") == nil)
        #expect(JSONPath("a.") == nil)
        #expect(JSONPath(".") == nil)
        #expect(JSONPath("metadata")?.segments == ["metadata"])
        #expect(JSONPath("a.b.0.c")?.segments == ["a", "b", "0", "c"])
        #expect(JSONPath("caf\u{e9}.\u{5f20}")?.segments == ["caf\u{e9}", "\u{5f20}"])
    }
}
