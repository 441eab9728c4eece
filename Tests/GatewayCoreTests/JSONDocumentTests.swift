import CByteScan
import Foundation
import Testing

@testable import GatewayCore

/// Foundation's decoding of the string member `s` of `json`: an oracle that shares no code with
/// ours (the tree parser is built from `JSONDocument` now, so it cannot check its unescaping).
func foundationString(_ json: [UInt8]) -> String? {
    (try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])?["s"] as? String
}

@Suite("JSON document (tape)")
struct JSONDocumentTests {
    let text = #"{"eventCode":"Payment","metadata":"{\"orderNo\":\"SO-1\",\"note\":\"caf\u00e9 \ud83d\ude00\"}","payment":{"items":[{"sku":"A"},{"sku":"B"}],"status":"Success","amount":10.50,"flag":false,"none":null}}"#

    @Test func lookupsDecodeOnlyWhatIsAsked() throws {
        let doc = try JSONDocument.parse(Array(text.utf8))
        let root = doc.root
        #expect(root.kind == .object && root.count == 3)
        #expect(root["eventCode"]?.stringValue == "Payment")
        #expect(root["metadata"]?.stringValue == #"{"orderNo":"SO-1","note":"café 😀"}"#)
        #expect(root[path: JSONPath("payment.items.1.sku")!]?.stringValue == "B")
        #expect(root[path: JSONPath("payment.amount")!]?.scalarText == "10.50")
        #expect(root[path: JSONPath("payment.flag")!]?.scalarText == "false")
        #expect(root[path: JSONPath("payment.none")!]?.kind == .null)
        #expect(root[path: JSONPath("payment.items.2")!] == nil)
        #expect(root["missing"] == nil)
        #expect(root["payment"]?["items"]?[0]?["sku"]?.stringValue == "A")
    }

    @Test func scalarCountMatchesTheDecodedString() throws {
        let doc = try JSONDocument.parse(Array(text.utf8))
        let m = try #require(doc.root["metadata"])
        #expect(m.scalarCount == m.stringValue?.unicodeScalars.count)
        let cjk = try JSONDocument.parse(Array(#"{"s":"张伟\u5f20\t"}"#.utf8))
        #expect(cjk.root["s"]?.scalarCount == 4)
    }

    @Test func materializeEqualsATreeParse() throws {
        let doc = try JSONDocument.parse(Array(text.utf8))
        let tree = doc.root.materialize()
        #expect(tree["payment"]?["items"] == .array([.object(JSONObject(["sku": .string("A")])), .object(JSONObject(["sku": .string("B")]))]))
        #expect(try JSONParser.parse(tree.serialized()) == tree)
    }

    @Test func scalarCountMatchesDecodingForEscapesAndMultibyteAtEveryOffset() throws {
        let pieces = [#"\""#, #"\\"#, #"\n"#, #"\u0041"#, #"\u00e9"#, #"\ud83d\ude00"#, "é", "张", "😀", "a", "bc", #"\/"#]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<400 {
            var content = ""
            for _ in 0..<Int.random(in: 0...24, using: &generator) { content += pieces.randomElement(using: &generator) ?? "a" }
            let d = try JSONDocument.parse(Array(#"{"s":"\#(content)"}"#.utf8))
            let s = try #require(d.root["s"])
            #expect(s.scalarCount == s.stringValue?.unicodeScalars.count, "\(content)")
        }
    }

    @Test func dottedKeysReadEveryWayANameCanHoldDots() throws {
        let doc = try JSONDocument.parse(Array(#"""
            {"a":{"b":{"c":1},"1":{"b":"deep"}},"a.b":{"c":2},"a.1":{"b":"z"},"n":null,"o":{},
             "arr":[{"b":"y"},{"b":"w"},3],"t\u0065nant":"acme","é":"e","x.":"dot"}
            """#.utf8))
        func value(_ key: String) -> String? {
            var k = key
            guard let v = k.withUTF8({ doc.root.scalar(atDottedKey: $0) }) else { return nil }
            return v.kind == .null ? "null" : v.scalarText
        }
        #expect(value("a.b.c") == "2")  // `a` then `b.c`, then `a.b` then `c`: the last wins
        #expect(value("a.1.b") == "z")
        #expect(value("arr.1.b") == "w")
        #expect(value("arr.2") == "3")
        #expect(value("arr.01.b") == nil)  // an index is written without a leading zero
        #expect(value("arr.3") == nil)
        #expect(value("arr.99999999999") == nil)
        #expect(value("arr") == nil)  // containers are never the answer
        #expect(value("o") == nil)
        #expect(value("n") == "null")
        #expect(value("tenant") == "acme")  // names compared decoded
        #expect(value("é") == "e")
        #expect(value("x.") == "dot")
        #expect(value("a.") == nil)
        #expect(value("") == nil)
        #expect(value("a.b.c.d") == nil)  // below a scalar
    }

    @Test func duplicateKeysAreFoundThroughEscapes() {
        #expect(throws: JSONParser.ParseError.self) { try JSONDocument.parse(Array(#"{"a":1,"\u0061":2}"#.utf8)) }
        #expect(throws: JSONParser.ParseError.self) { try JSONDocument.parse(Array(#"{"x":{"k":1,"k":2}}"#.utf8)) }
        #expect(throws: JSONParser.ParseError.self) { try JSONDocument.parse(Array(#"{"\u0061":1,"a":2}"#.utf8)) }
        #expect(throws: JSONParser.ParseError.self) { try JSONDocument.parse(Array(#"{"b":0,"\u0061":1,"c":3,"a":2}"#.utf8)) }
        // Same key in different objects is fine.
        #expect(throws: Never.self) { try JSONDocument.parse(Array(#"{"a":{"k":1},"b":{"k":2}}"#.utf8)) }
    }

    /// Random small objects whose keys often repeat, some written with escapes: the parser
    /// refuses exactly those with a repeated (decoded) key, whatever fingerprints collide.
    @Test func duplicateKeysAreFoundInRandomObjects() {
        var rng = SplitMix(seed: 0x5EED)
        let plain = ["a", "b", "ab", "ba", "aa", "abc", "cba", "acb", "x", "xy", "yx", "status", "statvs", "value", "valve", ""]
        var refused = 0
        for _ in 0..<4000 {
            let n = Int(rng.next() % 12) + 1
            var keys: [String] = []
            var written: [String] = []
            for _ in 0..<n {
                let k = plain[Int(rng.next() % UInt64(plain.count))]
                keys.append(k)
                // A quarter of the keys spell their first character as a \u escape.
                if let first = k.unicodeScalars.first, rng.next() % 4 == 0 {
                    written.append(String(format: "\\u%04x", first.value) + String(k.unicodeScalars.dropFirst()))
                } else {
                    written.append(k)
                }
            }
            let text = "{" + written.enumerated().map { "\"\($0.element)\":\($0.offset)" }.joined(separator: ",") + "}"
            let hasDuplicate = Set(keys).count != keys.count
            let parsed = (try? JSONDocument.parse(Array(text.utf8))) != nil
            #expect(parsed == !hasDuplicate, "\(text)")
            if hasDuplicate { refused += 1 }
        }
        #expect(refused > 1000)
    }

    @Test func keysWithEscapesAreLookedUpUnescaped() throws {
        let doc = try JSONDocument.parse(Array(#"{"a\"b":1,"\u00e9":2}"#.utf8))
        #expect(doc.root["a\"b"]?.scalarText == "1")
        #expect(doc.root["é"]?.scalarText == "2")
    }

    @Test func everyEscapeDecodesLikeFoundationAtAnyOffset() throws {
        let escapes = [#"\""#, #"\\"#, #"\/"#, #"\b"#, #"\f"#, #"\n"#, #"\r"#, #"\t"#, #"\u0041"#, #"\u00e9"#, #"\u5f20"#, #"\ud83d\ude00"#]
        for offset in 0..<10 {
            let pad = String(repeating: "x", count: offset)
            for e in escapes {
                let text = #"{"s":"\#(pad)\#(e)\#(pad)\#(e)é"}"#
                let expected = try #require(foundationString(Array(text.utf8)))
                let doc = try JSONDocument.parse(Array(text.utf8))
                #expect(doc.root["s"]?.stringValue == expected, "\(text)")
            }
        }
    }

    /// Strings of random plain runs (0-19 characters, ASCII and not) and escapes, so that
    /// backslashes fall at every position of an 8-byte word, in runs, and near the end: the
    /// word-at-a-time unescape (through `stringValue` and through `copyScalarText` into an
    /// exact-size buffer) agrees with Foundation's decoder.
    @Test func unescapingAgreesWithFoundationForRandomStrings() throws {
        var rng = SystemRandomNumberGenerator()
        let escapes = [#"\""#, #"\\"#, #"\/"#, #"\n"#, #"\t"#, #"\u0041"#, #"\u00e9"#, #"\ud83d\ude00"#]
        let plain = ["a", "b", "{", ":", "é", "张", "x"]
        for _ in 0..<2000 {
            var text = ""
            for _ in 0..<Int.random(in: 0..<12, using: &rng) {
                for _ in 0..<Int.random(in: 0..<(Bool.random(using: &rng) ? 4 : 20), using: &rng) { text += plain.randomElement(using: &rng) ?? "a" }
                if Int.random(in: 0..<4, using: &rng) != 0 { text += escapes.randomElement(using: &rng) ?? #"\n"# }
            }
            let json = Array(#"{"s":"\#(text)"}"#.utf8)
            let expected = try #require(foundationString(json), "\(text)")
            let doc = try JSONDocument.parse(json)
            let ref = try #require(doc.root["s"])
            #expect(ref.stringValue == expected, "\(text)")
            var kept: UnsafeMutableBufferPointer<UInt8>? = nil
            let copied = ref.copyScalarText { n in
                let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: n)
                kept = b
                return b
            }
            #expect(copied.map { String(decoding: $0, as: UTF8.self) } == expected, "\(text)")
            kept?.deallocate()
        }
    }

    /// The bulk decoder (`gw_unescape_quotes`, 16 bytes a round) takes blocks whose backslashes
    /// all start `\"` or `\/`: escapes at every position of a block (the 16th byte too, where
    /// the escape is split across blocks), at every spacing, with a `\\` or another escape
    /// now and then that hands the block back to the one-escape loop, and non-ASCII runs.
    @Test func quoteEscapesDecodeInBulkAtEveryPositionAndSpacing() throws {
        for offset in 0..<17 {
            for gap in 0..<19 {
                for interruption in ["", #"\\"#, #"\n"#, "é", #"\u00e9"#] {
                    var text = String(repeating: "x", count: offset)
                    var k = 0
                    while text.utf8.count < 140 {
                        text += k % 2 == 0 ? #"\""# : #"\/"#
                        text += String(repeating: k % 3 == 0 ? "a" : "b", count: gap)
                        if k == 5 { text += interruption }
                        k += 1
                    }
                    let json = Array(#"{"s":"\#(text)"}"#.utf8)
                    let expected = try #require(foundationString(json), "\(text)")
                    let doc = try JSONDocument.parse(json)
                    #expect(doc.root["s"]?.stringValue == expected, "\(text)")
                }
            }
        }
        // What the bulk decoder itself reports: it stops before a block it does not take.
        let src = Array(#"ab\"cd\/ef\"gh\"ijklmnopqrstuvwxyz\\0123456789ABCDEFGHIJ"#.utf8)
        var dst = [UInt8](repeating: 0, count: src.count)
        var consumed = 0
        let written = src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in gw_unescape_quotes(s.baseAddress!, s.count, d.baseAddress!, &consumed) }
        }
        if consumed > 0 {  // (0 on a CPU without SSSE3: all left to the Swift loop)
            #expect(consumed == 32 && written == 28, "consumed \(consumed), wrote \(written)")
            #expect(String(decoding: dst[0..<written], as: UTF8.self) == #"ab"cd/ef"gh"ijklmnopqrstuvwxyz"#.prefix(28).description)
        }
    }

    /// A document with many more values than bytes / 8 (the tape's first guess): the tape grows
    /// and keeps every node (its array, numbers, strings and objects all readable).
    @Test func aDenseDocumentGrowsTheTape() throws {
        let items = (0..<3000).map { i in i % 3 == 0 ? "\(i % 10)" : i % 3 == 1 ? "\"\(i % 7)\"" : "{\"k\":\(i % 5)}" }
        let doc = try JSONDocument.parse(Array(("[" + items.joined(separator: ",") + "]").utf8))
        #expect(doc.root.count == 3000)
        for i in [0, 1, 2, 1499, 2997, 2998, 2999] {
            let v = try #require(doc.root[i])
            switch i % 3 {
            case 0: #expect(v.scalarText == "\(i % 10)")
            case 1: #expect(v.stringValue == "\(i % 7)")
            default: #expect(v["k"]?.scalarText == "\(i % 5)")
            }
        }
    }

    @Test func longPlainStringsUseTheFastScan() throws {
        // Crosses the 16-byte and the 8-byte strides with a quote, a backslash, a control byte
        // and non-ASCII at every offset.
        for offset in 0..<34 {
            let pad = String(repeating: "a", count: offset)
            _ = try JSONDocument.parse(Array("[\"\(pad)\\\"\(pad)\"]".utf8))
            _ = try JSONDocument.parse(Array("[\"\(pad)é\(pad)\"]".utf8))
            #expect(throws: JSONParser.ParseError.self) { try JSONDocument.parse(Array("[\"\(pad)\u{1}\(pad)\"]".utf8)) }
            #expect(throws: JSONParser.ParseError.self) { try JSONDocument.parse(Array("[\"\(pad)".utf8) + [0xFF] + Array("\(pad)\"]".utf8)) }
        }
    }
}

@Suite("JSON document limits")
struct JSONDocumentLimitTests {
    @Test func hugeObjectsAreCheckedInLinearTime() throws {
        // 100,000 distinct keys: a quadratic duplicate check would take minutes.
        let members = (0..<100_000).map { "\"k\($0)\":1" }.joined(separator: ",")
        let doc = try JSONDocument.parse(Array("{\(members)}".utf8))
        #expect(doc.root.count == 100_000)
        #expect(doc.root["k99999"]?.scalarText == "1")
        #expect(throws: JSONParser.ParseError.self) { try JSONDocument.parse(Array("{\(members),\"k5\":2}".utf8)) }
        #expect(throws: JSONParser.ParseError.self) { try JSONDocument.parse(Array("{\(members),\"k\\u0035\":2}".utf8)) }
    }
}

/// A seeded generator (SplitMix64): a failing random case can be run again.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("JSON string scan, 16 bytes at a time")
struct StringScanTests {
    /// The SSE2 mask equals the byte-by-byte one for blocks of every byte value, mixed so that
    /// each class (quote, backslash, control, DEL, 0x1F/0x20 and 0x7F/0x80 edges, non-ASCII,
    /// plain) lands at every position.
    @Test func vectorMasksEqualTheBytewiseOnes() {
        var rng = SplitMix(seed: 0x5ca1_ab1e)
        let edges: [UInt8] = [0x00, 0x1F, 0x20, 0x21, 0x22, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0xC3, 0xFF, 0x61]
        var checked = 0
        for round in 0..<20_000 {
            var block = [UInt8](repeating: 0, count: 16)
            for k in 0..<16 {
                block[k] = round % 2 == 0 ? edges[Int(rng.next() % UInt64(edges.count))] : UInt8(truncatingIfNeeded: rng.next())
            }
            let vector = block.withUnsafeBufferPointer { gw_json_string_attention16($0.baseAddress!) }
            let bytewise = block.withUnsafeBufferPointer { gw_json_string_attention16_portable($0.baseAddress!) }
            #expect(vector == bytewise, "\(block)")
            if vector != bytewise { break }
            checked += 1
        }
        #expect(checked == 20_000)
    }

    /// Random strings of plain runs, escapes, raw control bytes and non-ASCII text (valid and
    /// not), placed so that every stop falls at every offset of a 16-byte block, short ones
    /// through the one-load path and the general scan both: the tape's verdict (accepted or
    /// not), decoded value and scalar count agree with Foundation's.
    @Test func randomStringsParseLikeFoundation() throws {
        var rng = SplitMix(seed: 0xfeed_0016)
        let pieces: [[UInt8]] = [
            Array("a".utf8), Array("xyz".utf8), Array("0123456789abcdef".utf8), Array(#"\""#.utf8), Array(#"\\"#.utf8),
            Array(#"\n"#.utf8), Array(#"\u00e9"#.utf8), Array(#"\ud83d\ude00"#.utf8), Array("é".utf8), Array("张".utf8),
            Array("😀".utf8), [0x01], [0x1F], [0x7F], [0xC3], [0xFF],
        ]
        var agreed = 0
        for _ in 0..<4000 {
            var content: [UInt8] = []
            for _ in 0..<Int(rng.next() % 10) {
                let p = pieces[Int(rng.next() % UInt64(pieces.count))]
                // Mostly plain and valid, so that most strings are accepted.
                if p.count == 1 && (p[0] < 0x20 || p[0] >= 0x80) && rng.next() % 4 != 0 { continue }
                content += p
            }
            // Half with a member after it, so that 16 bytes follow every short string and the
            // parser's one-load path for them is taken (it needs the 16 bytes in the input).
            let tail = Array((rng.next() % 2 == 0 ? #""}"# : #"","pad":"0123456789abcdef0123"}"#).utf8)
            let json: [UInt8] = Array(#"{"s":""#.utf8) + content + tail
            let expected = foundationString(json)
            let doc = try? JSONDocument.parse(json)
            let s = doc?.root["s"]
            #expect(s?.stringValue == expected, "\(content)")
            if let s, let expected {
                #expect(s.scalarCount == expected.unicodeScalars.count, "\(content)")
            }
            if s?.stringValue == expected { agreed += 1 }
        }
        #expect(agreed == 4000)
    }
}

@Suite("JSON validity against Foundation")
struct JSONValidityTests {
    /// A random document: objects, arrays, strings, numbers and literals, with whitespace (or
    /// none, as providers send it) between every pair of tokens. Keys are distinct.
    private static func document(_ rng: inout SplitMix, depth: Int = 0) -> String {
        let ws = ["", "", "", " ", "\n", "\t ", "\r\n  "]
        func w(_ rng: inout SplitMix) -> String { ws[Int(rng.next() % UInt64(ws.count))] }
        switch rng.next() % (depth > 3 ? 4 : 6) {
        case 0: return "\"s\(rng.next() % 1000)\""
        case 1: return ["0", "-12", "3.5", "1e3", "-0.25E-2"][Int(rng.next() % 5)]
        case 2: return ["true", "false", "null"][Int(rng.next() % 3)]
        case 3: return "\"a b\\\"c\""
        case 4:
            let n = Int(rng.next() % 5)
            let members = (0..<n).map { i in "\(w(&rng))\"k\(i)\"\(w(&rng)):\(w(&rng))\(document(&rng, depth: depth + 1))\(w(&rng))" }
            return "{" + members.joined(separator: ",") + w(&rng) + "}"
        default:
            let n = Int(rng.next() % 5)
            let items = (0..<n).map { _ in "\(w(&rng))\(document(&rng, depth: depth + 1))\(w(&rng))" }
            return "[" + items.joined(separator: ",") + w(&rng) + "]"
        }
    }

    /// A comma before a closing bracket, whitespace between (anywhere, strings included: such
    /// variants are left out). Foundation's parser on Linux takes trailing commas; RFC 8259, and
    /// the gateway, do not.
    private static func hasTrailingComma(_ v: [UInt8]) -> Bool {
        var last: UInt8 = 0
        for b in v where b != 0x20 && b != 0x0A && b != 0x0D && b != 0x09 {
            if last == UInt8(ascii: ",") && (b == UInt8(ascii: "]") || b == UInt8(ascii: "}")) { return true }
            last = b
        }
        return false
    }

    /// The tape parser says valid exactly when Foundation's JSONSerialization (no code in
    /// common) does, for random documents and for each with one byte deleted, replaced or
    /// inserted (a separator, a bracket, a quote, a space, a letter) at a random place:
    /// whatever shortcut the parser takes for compact JSON must not change what it accepts.
    @Test func acceptsExactlyWhatFoundationAccepts() throws {
        var rng = SplitMix(seed: 0x150A)
        let inserts = Array(",:{}[]\" \n0ax".utf8)
        var checked = 0
        var refused = 0
        for _ in 0..<3000 {
            let base = Array(Self.document(&rng).utf8)
            var variants = [base]
            for _ in 0..<4 where !base.isEmpty {
                var v = base
                let at = Int(rng.next() % UInt64(v.count))
                switch rng.next() % 3 {
                case 0: v.remove(at: at)
                case 1: v[at] = inserts[Int(rng.next() % UInt64(inserts.count))]
                default: v.insert(inserts[Int(rng.next() % UInt64(inserts.count))], at: at)
                }
                variants.append(v)
            }
            for v in variants where !Self.hasTrailingComma(v) {
                let ours: Bool
                do {
                    _ = try JSONDocument.parse(v)
                    ours = true
                } catch {
                    // Foundation takes repeated keys (the last wins); the gateway refuses them.
                    if error.reason.contains("duplicate key") { continue }
                    ours = false
                }
                let theirs = (try? JSONSerialization.jsonObject(with: Data(v), options: [.fragmentsAllowed])) != nil
                #expect(ours == theirs, "\(String(decoding: v, as: UTF8.self))")
                checked += 1
                if !ours { refused += 1 }
            }
        }
        // Both kinds were seen in numbers.
        #expect(checked > 14_000 && refused > 3_000 && checked - refused > 3_000, "\(checked) checked, \(refused) refused")
    }
}
