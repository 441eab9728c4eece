import Testing

@testable import GatewayCore

func doc(_ text: String) -> JSONRef {
    (try? JSONDocument.parse(Array(text.utf8)))?.root ?? JSONDocument.empty.root
}

extension JSONDocument {
    static let empty: JSONDocument = (try? JSONDocument.parse(Array("{}".utf8)))!
}

let payment = #"{"eventCode":"Payment","metadata":"tenant=acme","payment":{"status":"Success","amount":10.50,"merchantTransInfo":{"merchantTransID":"MT1"},"flag":true,"nothing":null},"paymentMethod":{"card":{"holderName":"JANE DOE","first6No":"411111","last4No":"1111"}},"items":[{"sku":"A"},{"sku":"B"}]}"#

func path(_ s: String) -> JSONPath { JSONPath(s) ?? JSONPath(segments: [s]) }

@Suite("Conditions")
struct ConditionTests {
    let event = doc(payment)

    @Test(arguments: [
        (ConditionOperator.equals("Success"), "payment.status", true),
        (.equals("success"), "payment.status", false),
        (.equals("10.50"), "payment.amount", true),
        (.equals("10.5"), "payment.amount", false),
        (.equals("true"), "payment.flag", true),
        (.equals("x"), "payment.missing", false),
        (.notEquals("Failure"), "payment.status", true),
        (.notEquals("x"), "payment.missing", true),
        (.notEquals("Success"), "payment.status", false),
        (.oneOf(["Failure", "Success"]), "payment.status", true),
        (.oneOf(["Failure"]), "payment.status", false),
        (.prefix("MT"), "payment.merchantTransInfo.merchantTransID", true),
        (.prefix("XX"), "payment.merchantTransInfo.merchantTransID", false),
        (.exists(true), "payment.nothing", true),
        (.exists(false), "payment.nothing", false),
        (.exists(false), "payment.missing", true),
        (.exists(true), "items.1.sku", true),
        (.equals("B"), "items.1.sku", true),
        (.equals("A"), "payment", false),
    ])
    func operators(_ op: ConditionOperator, _ p: String, _ expected: Bool) {
        #expect(Condition.match(path: path(p), op: op).holds(for: event) == expected)
    }

    /// Conditions compare a plain ASCII value (no escapes, a number) with an ASCII operand as
    /// bytes, and everything else as Strings: every answer must be the String comparison's.
    @Test func operatorsAnswerAsStringComparisons() {
        // JSON source of each value (escapes, non-ASCII, canonically equivalent spellings).
        let values = [
            #""abc""#, #""ab""#, #""abcd""#, #""""#, #""K""#, #""\u212A""#, "\"\u{212A}\"", #""e\u0301""#, "\"e\u{301}\"",
            #""\u00e9""#, "\"\u{e9}\"", #""a\r\nb""#, #""a\nb""#, #""a\"b""#, "12.50", "-0", "true", "null", #"{"x":1}"#,
        ]
        let operands = ["abc", "ab", "K", "\u{e9}", "e\u{301}", "a\r", "a\r\n", "a", "", "12.5", "12.50", "true", "null", "a\"b"]
        for v in values {
            let ref = doc(#"{"v":\#(v)}"#)
            let text = ref["v"]?.scalarText
            for o in operands {
                func holds(_ op: ConditionOperator) -> Bool { Condition.match(path: path("v"), op: op).holds(for: ref) }
                #expect(holds(.equals(o)) == (text == o), "\(v) equals \(o.debugDescription)")
                #expect(holds(.notEquals(o)) == (text != o), "\(v) notEquals \(o.debugDescription)")
                #expect(holds(.prefix(o)) == (text?.hasPrefix(o) ?? false), "\(v) prefix \(o.debugDescription)")
                #expect(holds(.oneOf(["zz", o])) == (text.map { ["zz", o].contains($0) } ?? false), "\(v) in \(o.debugDescription)")
            }
        }
        // The answers bytes alone would get wrong, and a value written with an escape.
        #expect(Condition.match(path: path("v"), op: .equals("K")).holds(for: doc(#"{"v":"\u212A"}"#)))
        #expect(Condition.match(path: path("v"), op: .equals("\u{e9}")).holds(for: doc(#"{"v":"e\u0301"}"#)))
        #expect(Condition.match(path: path("v"), op: .equals("ab")).holds(for: doc(#"{"v":"a\u0062"}"#)))
    }

    @Test func regexAndCombinations() throws {
        let re = Condition.match(path: path("payment.merchantTransInfo.merchantTransID"), op: .matches(try Pattern("^MT[0-9]+$")))
        #expect(re.holds(for: event))
        let notRe = Condition.match(path: path("payment.status"), op: .matches(try Pattern("^Fail")))
        #expect(!notRe.holds(for: event))
        #expect(Condition.any([notRe, re]).holds(for: event))
        #expect(!Condition.all([notRe, re]).holds(for: event))
        #expect(Condition.all([]).holds(for: event))
        #expect(!Condition.any([]).holds(for: event))
    }

    @Test func failuresNameThePathNotTheValue() {
        let c = Condition.match(path: path("paymentMethod.card.holderName"), op: .equals("JOHN ROE"))
        let f = c.failure(for: event)
        #expect(f == "paymentMethod.card.holderName does not equal \"JOHN ROE\"")
        #expect(f?.contains("JANE") == false)
        #expect(Condition.match(path: path("x.y"), op: .equals("1")).failure(for: event) == "x.y does not equal \"1\" (missing)")
    }

    @Test func routeRules() throws {
        let n = try Classifier().classify(source: "evo", msgID: "m", rawBody: Array(payment.utf8))
        #expect(RouteRule(name: "r", source: nil, events: ["*"], conditions: []).matches(n))
        #expect(RouteRule(name: "r", source: "evo", events: ["Payment", "Refund"], conditions: []).matches(n))
        let other = RouteRule(name: "r", source: "other", events: ["*"], conditions: [])
        #expect(!other.matches(n) && other.mismatch(n) == "source is not 'other'")
        let refunds = RouteRule(name: "r", source: nil, events: ["Refund"], conditions: [])
        #expect(refunds.mismatch(n) == "eventCode is not one of Refund")
        let failed = RouteRule(name: "r", source: nil, events: ["*"], conditions: [.match(path: path("payment.status"), op: .equals("Failure"))])
        #expect(failed.mismatch(n) == "condition failed: payment.status does not equal \"Failure\"")
    }
}

@Suite("Templates")
struct TemplateTests {
    let event = doc(payment)

    @Test func rendering() throws {
        #expect(try Template("ref-{{payment.merchantTransInfo.merchantTransID}}").render(event) == "ref-MT1")
        #expect(try Template("{{ payment.status }}/{{payment.amount}}/{{missing.path}}.").render(event) == "Success/10.50/.")
        #expect(try Template("{{items.0}}").render(event) == #"{"sku":"A"}"#)
        #expect(try Template("{{payment.nothing}}").render(event) == "")
        #expect(try Template("plain").isLiteral)
    }

    @Test func singlePlaceholderKeepsTheType() throws {
        #expect(try Template("{{payment.amount}}").value(event) == .number("10.50"))
        #expect(try Template("{{payment.flag}}").value(event) == .bool(true))
        #expect(try Template("{{missing}}").value(event) == .string(""))
        #expect(try Template("x{{payment.amount}}").value(event) == .string("x10.50"))
    }

    @Test func badTemplates() {
        #expect(throws: TemplateError.self) { try Template("{{open") }
        #expect(throws: TemplateError.self) { try Template("{{a..b}}") }
        #expect(throws: TemplateError.self) { try Template("{{}}") }
    }
}

@Suite("Transforms")
struct TransformTests {
    func run(_ transforms: [Transform], _ text: String = payment) -> JSONValue {
        let out = Transform.applyAll(transforms, to: doc(text))
        return (try? JSONParser.parse(out)) ?? .null
    }

    @Test func removeMaskSetRenameKeep() throws {
        let out = run([
            .remove([path("paymentMethod.card.holderName"), path("does.not.exist")]),
            .mask([path("paymentMethod.card.first6No"), path("payment.amount")]),
            .set([(path("gateway.route"), try Template("ledger")), (path("ref"), try Template("{{payment.merchantTransInfo.merchantTransID}}"))]),
            .rename([(path("metadata"), path("merchant.metadata"))]),
            .keep(["eventCode", "payment", "paymentMethod", "gateway", "ref", "merchant"]),
        ])
        #expect(out.value(at: "paymentMethod.card.holderName") == nil)
        #expect(out.value(at: "paymentMethod.card.first6No") == .string("**1111"))
        #expect(out.value(at: "payment.amount") == .string("*0.50"))
        #expect(out.value(at: "gateway.route") == .string("ledger"))
        #expect(out.value(at: "ref") == .string("MT1"))
        #expect(out.value(at: "merchant.metadata") == .string("tenant=acme"))
        #expect(out["metadata"] == nil)
        #expect(out["items"] == nil)
        #expect(out.objectValue?.keys == ["eventCode", "payment", "paymentMethod", "gateway", "ref", "merchant"])
    }

    @Test func templatesReadTheOriginalEvent() throws {
        // Even after the value is removed, `set` renders it from the event as received.
        let out = run([.remove([path("payment")]), .set([(path("ref"), try Template("{{payment.status}}"))])])
        #expect(out["payment"] == nil)
        #expect(out["ref"] == .string("Success"))
    }

    @Test func setReplacesScalarsOnTheWayAndEditsArrays() throws {
        let out = run([.set([(path("eventCode.deep"), try Template("x")), (path("items.1.sku"), try Template("Z")), (path("items.5.sku"), try Template("nope"))])])
        #expect(out.value(at: "eventCode.deep") == .string("x"))
        #expect(out.value(at: "items.1.sku") == .string("Z"))
        #expect(out.value(at: "items.5") == nil)
    }

    @Test func maskLeavesShortAndNonScalarValues() {
        #expect(Transform.masked(.string("1234")) == .string("1234"))
        #expect(Transform.masked(.string("张伟李四五")) == .string("*伟李四五"))
        #expect(Transform.masked(.string("😀😀😀😀😀😀")) == .string("**😀😀😀😀"))
        #expect(Transform.masked(.string("4111111111111111")) == .string("************1111"))
        #expect(Transform.masked(.string("e\u{301}abcd")) == .string("**abcd"))  // scalars, not characters
        #expect(Transform.masked(.bool(true)) == .bool(true))
        #expect(Transform.masked(.object(JSONObject())) == .object(JSONObject()))
        let out = run([.mask([path("payment.flag"), path("payment"), path("items.0.sku")])])
        #expect(out.value(at: "payment.flag") == .bool(true))
        #expect(out.value(at: "payment.status") == .string("Success"))
        #expect(out.value(at: "items.0.sku") == .string("A"))
    }

    @Test func untouchedPartsAreCopiedByteForByte() throws {
        // Odd spacing and escapes in untouched values survive exactly; only edits are re-encoded.
        let text = #"{"keep" : { "a" :  1.50e3 , "s":"\u00e9\n" },"drop":[1, 2],"n":1}"#
        let out = Transform.applyAll([.remove([path("drop")]), .set([(path("n"), try Template("two"))])], to: doc(text))
        #expect(String(decoding: out, as: UTF8.self) == #"{"keep":{ "a" :  1.50e3 , "s":"\u00e9\n" },"n":"two"}"#)
        // Keys of untouched members are copied as written too (escapes kept); keys written by a
        // transform (a rename, a set) and keys whose value was edited are encoded afresh.
        let escaped = #"{"caf\u00e9":1,"o":{"k\"q":2,"r":3},"m":"x"}"#
        let edited = Transform.applyAll([.remove([path("o.r")]), .rename([(path("m"), path("n\u{e9}"))])], to: doc(escaped))
        #expect(String(decoding: edited, as: UTF8.self) == #"{"caf\u00e9":1,"o":{"k\"q":2},"né":"x"}"#)
        // No transforms: the route passes the body through; with transforms that touch nothing,
        // the output is the same document.
        #expect(try JSONParser.parse(Transform.applyAll([.remove([path("zzz")])], to: doc(text))) == JSONParser.parse(text))
    }

    /// Differential: the same transforms applied to the event as original tape values (the fast
    /// path: untouched parts are copied as bytes) and to the event as written values (every part
    /// re-encoded) must give the same JSON, for every combination of a set of transforms.
    @Test func originalAndWrittenValuesTransformAlike() throws {
        let events = [
            #"{"a":{"b":{"c":"x\u00e9","d":[1,{"e":null}]},"f":true},"g":"4111111111111111","h":[{"i":2.50}]}"#,
            #"{"k\"q":1,"a":"scalar","list":[[],{}],"n":-0.0e+1}"#,
            #"[{"a":1},2]"#,
        ]
        let transforms: [Transform] = [
            .remove([path("a.b.c"), path("h.0.i"), path("missing.x")]),
            .mask([path("g"), path("a.f"), path("a.b.c")]),
            .set([(path("a.b.new"), try Template("v")), (path("a.scalar.deep"), try Template("{{g}}")), (path("h.0.j"), try Template("{{a.b}}"))]),
            .rename([(path("a.f"), path("moved.f")), (path("k\"q"), path("kq"))]),
            .keep(["a", "h", "moved", "kq", "list"]),
        ]
        for text in events {
            let d = try JSONDocument.parse(Array(text.utf8))
            for mask in 1..<(1 << transforms.count) {
                let chosen = transforms.indices.filter { mask & (1 << $0) != 0 }.map { transforms[$0] }
                var fast = EditableJSON(d.root)
                var slow = EditableJSON(storage: d.root.storage, node: .value(d.root.materialize()))
                for t in chosen {
                    t.apply(to: &fast, original: d.root)
                    t.apply(to: &slow, original: d.root)
                }
                let a = try JSONParser.parse(fast.serialized())
                let b = try JSONParser.parse(slow.serialized())
                #expect(a == b, "\(text) with transforms \(mask)")
            }
        }
    }

    /// Which paths a transform can change: exactly those on the way to or inside its paths
    /// (array indices compared as numbers), and for `keep` every top-level key it does not list.
    @Test func touchesIsTheTransformsReach() throws {
        let t: [Transform] = [
            .remove([path("a.b")]), .mask([path("m.0")]), .set([(path("s.t"), try Template("x"))]),
            .rename([(path("r.from"), path("r2.to"))]), .keep(["a", "m", "s", "r", "r2", "u", "v"]),
        ]
        for (p, expected) in [
            ("a", true), ("a.b", true), ("a.b.c", true), ("a.c", false), ("m.0", true), ("m.00", true), ("m.1", false),
            ("m.0.x", true), ("s", true), ("s.t.u", true), ("s.u", false), ("r.from", true), ("r.other", false), ("r2", true),
            ("u", false), ("u.v", false), ("w", true), ("w.x", true),
        ] {
            #expect(Transform.touches(t, path(p)) == expected, "\(p)")
            #expect(TransformReach(t).touches(path(p)) == expected, "\(p)")
        }
        #expect(!Transform.touches([], path("a")))
        #expect(!TransformReach([]).touches(path("a")))
    }

    /// The route's precomputed reach answers exactly what walking the transforms answers, for
    /// every combination of transforms (first segments named by a transform or not, kept or
    /// not, array-index-like ones such as `0` and `00`, two `keep`s).
    @Test func aRoutesReachAnswersLikeTheTransforms() throws {
        let transforms: [Transform] = [
            .remove([path("a.b"), path("0.x")]), .mask([path("m.0")]), .set([(path("s.t"), try Template("x"))]),
            .rename([(path("r.from"), path("r2.to"))]), .keep(["a", "m", "s", "r2", "u", "0", "K"]), .keep(["a", "u", "w", "K", "\u{e9}"]),
        ]
        // Non-ASCII segments, also canonically equivalent spellings of kept names (U+212A is
        // "K"; "e" + U+0301 is "\u{e9}"): compared as Strings, never as bytes.
        let paths = [
            "a", "a.b", "a.c", "m", "m.1", "s.t", "s.u", "r", "r.x", "r2", "u", "u.v", "w", "v", "0", "00", "00.x", "1", "metadata",
            "K", "\u{212A}", "\u{e9}", "e\u{301}",
        ]
        for mask in 0..<(1 << transforms.count) {
            let chosen = transforms.indices.filter { mask & (1 << $0) != 0 }.map { transforms[$0] }
            let reach = TransformReach(chosen)
            for p in paths {
                #expect(reach.touches(path(p)) == Transform.touches(chosen, path(p)), "\(p) with transforms \(mask)")
            }
        }
    }

    /// The lazy form gives, for every path, what the transformed view gives, and runs the
    /// transforms only for a path they touch.
    @Test func aTransformedEventAnswersLikeItsViewAndRunsOnlyWhenTouched() throws {
        let events = [
            #"{"a":{"b":{"c":"x\u00e9","d":[1,{"e":null}]},"f":true},"g":"4111111111111111","h":[{"i":2.50}],"k\"q":{"z":1}}"#,
            #"[{"a":1},2]"#,
        ]
        let transforms: [Transform] = [
            .remove([path("a.b.c"), path("h.0.i")]), .mask([path("g")]), .set([(path("a.b.new"), try Template("v"))]),
            .rename([(path("a.f"), path("moved.f"))]), .keep(["a", "h", "moved", "k\"q", "0"]),
        ]
        let paths = ["a", "a.b", "a.b.c", "a.b.d.1.e", "a.b.new", "a.f", "g", "h.0", "h.0.i", "moved.f", "k\"q.z", "0.a", "1", "none"]
        for text in events {
            let d = try JSONDocument.parse(Array(text.utf8))
            for mask in 1..<(1 << transforms.count) {
                let chosen = transforms.indices.filter { mask & (1 << $0) != 0 }.map { transforms[$0] }
                let eager = Transform.applyAllToView(chosen, to: d.root)
                for p in paths {
                    let lazy = TransformedEvent(d.root, transforms: chosen)
                    let got = lazy.value(at: path(p)).map { $0.serialized() }
                    #expect(got == eager.get(path(p)).map { $0.serialized() }, "\(text) \(p) with transforms \(mask)")
                    #expect(lazy.isApplied == Transform.touches(chosen, path(p)), "\(p) with transforms \(mask)")
                }
                #expect(TransformedEvent(d.root, transforms: chosen).serialized() == eager.serialized())
            }
        }
    }

    /// A member whose value a `set` replaces by a value of the event keeps its own key: the
    /// key used to be copied from the source bytes before the new value's position, which is
    /// another member's key (or no key at all, for an array element).
    @Test func aMemberSetToAnotherValueOfTheEventKeepsItsKey() throws {
        let text = #"{"a":1,"b":{"c":2},"l":[true,"x"]}"#
        let out = Transform.applyAll([.set([(path("a"), try Template("{{b.c}}")), (path("b"), try Template("{{l.1}}"))])], to: doc(text))
        #expect(String(decoding: out, as: UTF8.self) == #"{"a":2,"b":"x","l":[true,"x"]}"#)
    }

    /// The edits kept beside the original bytes write exactly what the edited tree writes, for
    /// every combination of a set of transforms over documents with escapes, spacing, arrays
    /// and a scalar root; and they cover the common shapes (remove, mask, set of new and
    /// nested keys, a top-level rename, keep) instead of leaving them to the tree.
    @Test func splicedEditsWriteWhatTheEditedTreeWrites() throws {
        let events = [
            #"{"a":{"b":{"c":"x\u00e9","d":[1,{"e":null}]},"f":true},"g":"4111111111111111","h":[{"i":2.50}],"k\"q":{"z":1}}"#,
            #"{ "a" : { "b" : { "c" : 7 , "d" : [ 1 , 2 ] } } , "g" : 12345678 , "sp\u0061ce" : "v" , "del\u007f" : { "x" : 1 } }"#,
            #"{"k\"q":1,"a":"scalar","list":[[],{}],"n":-0.0e+1,"g":false}"#,
            #"{"g":"4111111111111111", "h":[{"i":2.50}],"k\"q":{"z":1} ,"list":[1],"n":2,"a":{"b":{}}}"#,
            #"[{"a":1},2]"#,
            #""just a string""#,
        ]
        let transforms: [Transform] = [
            .remove([path("a.b.c"), path("h.0.i"), path("missing.x"), path("k\"q.z")]),
            .mask([path("g"), path("a.f"), path("a.b.c"), path("gateway.route"), path("a.b.d.0")]),
            .set([(path("a.b.new"), try Template("v")), (path("gateway.route"), try Template("r-{{g}}")), (path("ref"), try Template("{{a.b}}")), (path("a.scalar.deep"), try Template("{{g}}"))]),
            .rename([(path("g"), path("gg")), (path("a.f"), path("moved.f")), (path("del\u{7f}"), path("a.b.del"))]),
            .set([(path("gateway.team"), try Template("pay")), (path("a"), try Template("{{h}}")), (path("list.0"), try Template("{{n}}"))]),
            .keep(["a", "h", "moved", "kq", "list", "gateway", "ref", "gg", "space"]),
            .remove([path("a.b.d.0"), path("list.1")]),  // array elements: the tree's
        ]
        var covered = 0
        var combinations = 0
        var uncovered: [String] = []
        for text in events {
            let d = try JSONDocument.parse(Array(text.utf8))
            for mask in 1..<(1 << transforms.count) {
                let chosen = transforms.indices.filter { mask & (1 << $0) != 0 }.map { transforms[$0] }
                let tree = Transform.applyAll(chosen, to: d.root)
                let common = mask < 1 << 6  // without the array-element removal
                if common { combinations += 1 }
                guard let spliced = SplicedEdits.apply(chosen, to: d.root) else {
                    if d.root.kind == .object && common && mask & (mask - 1) == 0 { uncovered.append("\(text) with transform \(mask)") }
                    continue
                }
                if common { covered += 1 }
                #expect(String(decoding: spliced, as: UTF8.self) == String(decoding: tree, as: UTF8.self), "\(text) with transforms \(mask)")
                #expect(TransformedEvent(d.root, transforms: chosen).serialized() == tree)
            }
        }
        // Over an object, each transform but the array-element removal is covered alone; most
        // combinations of them are (the rest need the tree: see `SplicedEdits`).
        #expect(uncovered.isEmpty, "\(uncovered)")
        #expect(covered * 2 > combinations, "\(covered) of \(combinations)")
        // The benchmark route's shape is covered.
        let payment = try JSONDocument.parse(Array(#"{"eventCode":"Payment","metadata":"t=a","payment":{"id":"MT1"},"paymentMethod":{"type":"card","card":{"first6No":"411111","holderName":"A B","last4No":"1111"}},"result":{}}"#.utf8))
        let route: [Transform] = [
            .remove([path("paymentMethod.card.holderName")]), .mask([path("paymentMethod.card.first6No")]),
            .set([(path("gateway.route"), try Template("ledger")), (path("ref"), try Template("{{payment.id}}"))]),
            .rename([(path("metadata"), path("merchantMetadata"))]),
            .keep(["eventCode", "merchantMetadata", "payment", "paymentMethod", "gateway", "ref"]),
        ]
        let spliced = try #require(SplicedEdits.apply(route, to: payment.root))
        #expect(String(decoding: spliced, as: UTF8.self) == #"{"eventCode":"Payment","payment":{"id":"MT1"},"paymentMethod":{"type":"card","card":{"first6No":"**1111","last4No":"1111"}},"gateway":{"route":"ledger"},"ref":"MT1","merchantMetadata":"t=a"}"#)
    }

    /// The same comparison over random documents and random lists of transforms (seeded, so a
    /// failure can be run again): keys that repeat across levels, escapes, spacing, arrays,
    /// templates of every shape.
    @Test func splicedEditsWriteWhatTheEditedTreeWritesForRandomInputs() throws {
        var rng = SplitMix(seed: 0x5_91CE)
        let keys = ["a", "b", "c", #"k\"q"#, #"sp\u0061ce"#, "0"]
        let decodedKeys = ["a", "b", "c", "k\"q", "space", "0", "1", "new"]
        func space() -> String { Int.random(in: 0..<6, using: &rng) == 0 ? " " : "" }
        func value(_ depth: Int) -> String {
            switch Int.random(in: 0..<(depth < 3 ? 9 : 6), using: &rng) {
            case 0: return "null"
            case 1: return Bool.random(using: &rng) ? "true" : "false"
            case 2: return ["0", "-1.50e3", "4111111111111111", "12"][Int.random(in: 0..<4, using: &rng)]
            case 3, 4: return ["\"x\"", "\"x\\u00e9\\n\"", "\"4111111111111111\"", "\"\""][Int.random(in: 0..<4, using: &rng)]
            case 5: return "\"v\\\"q\""
            case 6: return "[" + (0..<Int.random(in: 0..<3, using: &rng)).map { _ in space() + value(depth + 1) }.joined(separator: ",") + "]"
            default: return object(depth + 1)
            }
        }
        func object(_ depth: Int) -> String {
            let chosen = keys.shuffled(using: &rng).prefix(Int.random(in: 0...4, using: &rng))
            return "{" + chosen.map { space() + "\"\($0)\"" + space() + ":" + space() + value(depth) }.joined(separator: ",") + space() + "}"
        }
        func randomPath() -> JSONPath {
            JSONPath(segments: (0..<Int.random(in: 1...3, using: &rng)).map { _ in decodedKeys[Int.random(in: 0..<decodedKeys.count, using: &rng)] })
        }
        func template() throws -> Template {
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: return try Template("lit")
            case 1: return try Template("{{\(randomPath().description)}}")
            default: return try Template("x-{{\(randomPath().description)}}")
            }
        }
        func transform() throws -> Transform {
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: return .remove([randomPath()])
            case 1: return .mask([randomPath()])
            case 2: return .set([(randomPath(), try template()), (randomPath(), try template())])
            case 3: return .rename([(randomPath(), randomPath())])
            default: return .keep(Array(decodedKeys.shuffled(using: &rng).prefix(Int.random(in: 0...5, using: &rng))))
            }
        }
        var covered = 0
        let cases = 3000
        for n in 0..<cases {
            let text = object(0)
            let d = try JSONDocument.parse(Array(text.utf8))
            let chosen = try (0..<Int.random(in: 1...4, using: &rng)).map { _ in try transform() }
            let tree = Transform.applyAll(chosen, to: d.root)
            guard let spliced = SplicedEdits.apply(chosen, to: d.root) else { continue }
            covered += 1
            #expect(spliced == tree, "case \(n): \(text) with \(chosen): \(String(decoding: spliced, as: UTF8.self)) vs \(String(decoding: tree, as: UTF8.self))")
        }
        #expect(covered * 2 > cases, "\(covered) of \(cases) covered")
    }

    /// Keys are the same key when their bytes are (escapes decoded), in every transform and both
    /// ways of applying them, as in lookups on the received event: a canonically equivalent
    /// spelling (the Kelvin sign U+212A for "K"; "é" as one scalar or as "e" and a combining
    /// accent) is another key. The tree compared the members of an object it had opened as
    /// Strings (which equates them), and the edits compared the event's keys as bytes: the two
    /// kept and set different members.
    @Test func keysAreTheSameKeyWhenTheirBytesAre() throws {
        let events = [#"{"\u212A":1,"b":2,"caf\u00e9":3,"x":4}"#, #"{"K":1,"cafe\u0301":3,"x":4}"#]
        let lists: [[Transform]] = [
            [.keep(["K", "café"])],
            [.keep(["\u{212A}", "cafe\u{301}"])],
            [.set([(path("\u{212A}v"), try Template("1")), (path("Kv"), try Template("2"))]), .keep(["Kv", "x"])],
            [.set([(path("caf\u{e9}.n"), try Template("1"))]), .keep(["cafe\u{301}"])],
            [.set([(path("x"), try Template("1"))]), .set([(path("K"), try Template("k")), (path("caf\u{e9}"), try Template("c"))])],
        ]
        for text in events {
            let d = try JSONDocument.parse(Array(text.utf8))
            for transforms in lists {
                let tree = Transform.applyAll(transforms, to: d.root)
                let spliced = try #require(SplicedEdits.apply(transforms, to: d.root), "\(text) with \(transforms)")
                #expect(String(decoding: spliced, as: UTF8.self) == String(decoding: tree, as: UTF8.self), "\(text) with \(transforms)")
            }
        }
        let kelvin = try JSONDocument.parse(Array(#"{"\u212A":1,"b":2}"#.utf8))
        #expect(String(decoding: Transform.applyAll([.keep(["K"])], to: kelvin.root), as: UTF8.self) == "{}")
        #expect(String(decoding: Transform.applyAll([.keep(["\u{212A}"])], to: kelvin.root), as: UTF8.self) == #"{"\u212A":1}"#)
        // An object the tree has opened (by the first `set`) answers as the event does.
        let opened = Transform.applyAll([.set([(path("b"), try Template("0"))]), .set([(path("K"), try Template("k"))])], to: kelvin.root)
        #expect(String(decoding: opened, as: UTF8.self) == #"{"\u212A":1,"b":"0","K":"k"}"#)
        #expect(JSONObject([JSONObject.Member(key: "\u{212A}", value: .null)])["K"] == nil)
    }

    /// A `keep` that drops more top-level members than the edits' bound leaves the work to the
    /// tree (whose cost is linear in the members): the edits' lookups scan them, and a 1 MiB body
    /// can hold a hundred thousand members. The output is the same either way.
    @Test func manyDroppedMembersAreLeftToTheTree() throws {
        let members = (0..<2_000).map { #""m\#($0)":\#($0)"# }.joined(separator: ",")
        let d = try JSONDocument.parse(Array("{\"eventCode\":\"Payment\",\(members)}".utf8))
        let transforms: [Transform] = [.keep(["eventCode"])]
        #expect(SplicedEdits.apply(transforms, to: d.root) == nil)
        #expect(String(decoding: TransformedEvent(d.root, transforms: transforms).serialized(), as: UTF8.self) == #"{"eventCode":"Payment"}"#)
        // Under the bound, the edits cover it.
        let few = try JSONDocument.parse(Array(#"{"eventCode":"Payment","a":1,"b":2}"#.utf8))
        #expect(SplicedEdits.apply(transforms, to: few.root).map { String(decoding: $0, as: UTF8.self) } == #"{"eventCode":"Payment"}"#)
    }

    @Test func removingMissingPathsChangesNothing() {
        let text = #"{"a" : 1}"#
        #expect(String(decoding: Transform.applyAll([.remove([path("b.c"), path("a.x")])], to: doc(text)), as: UTF8.self) == text)
    }

    @Test func transformsNeverChangeTheOriginal() {
        let d = doc(payment)
        _ = Transform.applyAll([.remove([path("payment")]), .keep(["x"])], to: d)
        #expect(d["payment"] != nil)
    }
}

@Suite("Retry backoff")
struct BackoffTests {
    @Test func exponentialWithJitterAndCap() {
        let p = RetryPolicy(maxAttempts: 10, initialDelayMs: 200, maxDelayMs: 30_000)
        #expect(p.delayMs(afterAttempt: 1, random: 0) == 100)
        #expect(p.delayMs(afterAttempt: 1, random: 0.999999) == 199)
        #expect(p.delayMs(afterAttempt: 2, random: 0) == 200)
        #expect(p.delayMs(afterAttempt: 3, random: 0.5) == 600)
        #expect(p.delayMs(afterAttempt: 20, random: 0) == 15_000)
        #expect(p.delayMs(afterAttempt: 20, random: 0.999999) <= 30_000)
        #expect(p.delayMs(afterAttempt: 10_000, random: 0.5) <= 30_000)
        for attempt in 1...40 {
            for r in [0.0, 0.3, 0.99] {
                let d = p.delayMs(afterAttempt: attempt, random: r)
                #expect(d >= 100 && d <= 30_000)
            }
        }
    }
}
