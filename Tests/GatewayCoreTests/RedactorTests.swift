import Testing

@testable import GatewayCore

@Suite("Redaction")
struct RedactorTests {
    let r = Redactor(extraNames: ["customerEmail"], secrets: ["s3cr3t-sign-key"])

    func redacted(_ fields: [(String, LogValue)], message: String = "m") -> LogRecord {
        var rec = LogRecord(epochMillis: 0, level: .info, message: message, fields: fields)
        r.redact(&rec)
        return rec
    }

    @Test func sensitiveFieldNamesAreHidden() {
        let rec = redacted([("Authorization", "abc"), ("holderName", "JANE DOE"), ("customerEmail", "a@b.c"), ("ok", "fine")])
        #expect(rec.fields.map(\.1) == [.string("[REDACTED]"), .string("[REDACTED]"), .string("[REDACTED]"), .string("fine")])
    }

    /// The byte-level check agrees with the set of lower-cased names, for every sensitive name
    /// in several cases, extra names, near misses of the same length and names of other lengths.
    @Test func isSensitiveAgreesWithTheNameSet() {
        let r = Redactor(extraNames: ["X-Api-Secret", "pin"])
        var names: [String] = ["", "a", "amount", "msgID", "eventCode", "tokens", "toke", "tokem", "pim", "bearer1", "cvc2"]
        for n in r.sensitiveNames {
            names += [n, n.uppercased(), String(n.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.uppercased()) : $0.element })]
            if let last = n.unicodeScalars.last, last.value < 0x7A {
                names.append(String(n.dropLast()) + String(UnicodeScalar(last.value + 1).map(Character.init) ?? "z"))
            }
        }
        for n in names {
            #expect(r.isSensitive(n) == r.sensitiveNames.contains(n.lowercased()), "\(n)")
        }
        #expect(r.isSensitive("Authorization") && r.isSensitive("x-api-secret") && r.isSensitive("PIN"))
        #expect(!r.isSensitive("amount") && !r.isSensitive("tokens"))
    }

    @Test func secretsAreHiddenWherever() {
        let rec = redacted([("error", "bad key s3cr3t-sign-key here")], message: "key=s3cr3t-sign-key")
        #expect(rec.message == "key=[REDACTED]")
        #expect(rec.fields[0].1 == .string("bad key [REDACTED] here"))
    }

    @Test func secretsAreFoundAtTheEdgesAndAfterNearMisses() {
        #expect(r.scrub("s3cr3t-sign-key") == "[REDACTED]")
        #expect(r.scrub("xs3cr3t-sign-key") == "x[REDACTED]")
        #expect(r.scrub("s3cr3t-sign-kex s3cr3t-sign-key") == "s3cr3t-sign-kex [REDACTED]")
        #expect(r.scrub("sss3cr3t-sign-keyy") == "ss[REDACTED]y")
        #expect(r.scrub("s3cr3t-sign-ke") == "s3cr3t-sign-ke")
    }

    /// The memchr-driven search against a naive one, on random text over a small alphabet (many
    /// near misses), for every start offset.
    @Test func byteSearchAgreesWithANaiveSearch() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let hay = (0..<Int.random(in: 0...40, using: &g)).map { _ in UInt8(ascii: "a") + UInt8.random(in: 0...2, using: &g) }
            let needle = (0..<Int.random(in: 1...4, using: &g)).map { _ in UInt8(ascii: "a") + UInt8.random(in: 0...2, using: &g) }
            let from = Int.random(in: 0...max(0, hay.count), using: &g)
            var naive: Int? = nil
            if hay.count >= needle.count {
                for i in stride(from: from, through: hay.count - needle.count, by: 1) where Array(hay[i..<(i + needle.count)]) == needle {
                    naive = i
                    break
                }
            }
            let found = hay.withUnsafeBufferPointer { h in needle.withUnsafeBufferPointer { ByteSearch.firstOffset(of: $0, in: h, from: from) } }
            #expect(found == naive, "\(hay) \(needle) from \(from)")
        }
    }

    /// Redaction leaves the caller's fields as they were (it writes only into the record).
    @Test func theCallersFieldsAreNotChanged() {
        let fields: [(String, LogValue)] = [("token", "t"), ("note", "key s3cr3t-sign-key"), ("ok", "fine")]
        var rec = LogRecord(epochMillis: 0, level: .info, message: "m", fields: fields)
        r.redact(&rec)
        #expect(rec.fields.map(\.1) == [.string("[REDACTED]"), .string("key [REDACTED]"), .string("fine")])
        #expect(fields.map(\.1) == [.string("t"), .string("key s3cr3t-sign-key"), .string("fine")])
    }

    @Test func cardNumbersAreMaskedToTheLastFour() {
        #expect(r.scrub("card 4111111111111111 ok") == "card ************1111 ok")
        #expect(r.scrub("card 4111 1111 1111 1111") == "card **** **** **** 1111")
        #expect(r.scrub("card 5555-5555-5555-4444.") == "card ****-****-****-4444.")
        // Not Luhn-valid or too short: left alone (order numbers, timestamps).
        #expect(r.scrub("order 1234567890123456") == "order 1234567890123456")
        #expect(r.scrub("id 411111111111") == "id 411111111111")
        // Digits glued to letters are identifiers, not card numbers (this one passes Luhn).
        #expect(r.scrub("MT4111111111111111") == "MT4111111111111111")
        #expect(r.scrub("ref MT1234 4111 1111 1111 1111") == "ref MT1234 **** **** **** 1111")
        #expect(r.scrub("x4111111111111111y") == "x4111111111111111y")
    }

    @Test func urlCredentialsAreMasked() {
        #expect(r.scrub("posting to http://user:pa55@h.example:9000/x failed") == "posting to http://***@h.example:9000/x failed")
        #expect(r.scrub("mail a@b.c is fine") == "mail a@b.c is fine")
    }

    @Test func shortSecretsAreIgnored() {
        let short = Redactor(secrets: ["abc"])
        #expect(short.scrub("abc def") == "abc def")
    }

    @Test func valuesOfSensitiveKeysInFreeTextAreHidden() {
        // A script echoing the notification to stderr.
        let body = #"{"paymentMethod":{"card":{"first6No":"411111","last4No":"1111","holderName":"JANE \"J\" DOE","expiryDate":"1230"}},"#
            + #""token":{"value":"tok_abc123","tokenCryptogram":"AAAB"},"cvc" : 123, "status":"ok"}"#
        let out = r.scrub("shell hook failed: stderr=" + body)
        #expect(!out.contains("411111"))
        #expect(!out.contains("JANE"))
        #expect(!out.contains("tok_abc123"))
        #expect(!out.contains("AAAB"))
        #expect(!out.contains("123,"))
        #expect(!out.contains("1230"))
        #expect(out.contains(#""last4No":"1111""#))
        #expect(out.contains(#""status":"ok""#))
        #expect(out.contains(#""holderName":"[REDACTED]""#))
        #expect(out.contains(#""token":"[REDACTED]""#))
        // key=value text (environment dumps, query strings).
        #expect(r.scrub("env password=hunter2 PATH=/bin") == "env password=[REDACTED] PATH=/bin")
        #expect(r.scrub("a=1&token=xyz;b=2") == "a=1&token=[REDACTED];b=2")
        #expect(r.scrub(#"stderr=done\nTOKEN=abc\n"#) == #"stderr=done\nTOKEN=[REDACTED]\n"#)
        // Ordinary text with colons and equals signs stays as it is.
        #expect(r.scrub("retry in 5s: status=503 reason=timeout") == "retry in 5s: status=503 reason=timeout")
        #expect(r.scrub("the token: expired") == "the token: expired")
    }

    /// The quick pass may only skip text that none of the rules touch: on 20,000 seeded random
    /// strings, whenever the exact scan finds a card-like run, a URL or a keyed value, the quick
    /// pass must have asked for it. The strings are mostly digits and separators, so runs of
    /// exactly 13 digits (the boundary) come up often.
    @Test func quickPassNeverSkipsWhatTheExactScanFinds() {
        let alphabet = Array("0123456789012345678901234567890123456789  --aZ=:/\"".utf8)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var found = 0, skipped = 0, thirteen = 0
        for _ in 0..<20_000 {
            let bytes = (0..<(next() % 40)).map { _ in alphabet[next() % alphabet.count] }
            bytes.withUnsafeBufferPointer { u in
                let exact = Redactor.exactScan(u)
                let needed = Redactor.needsExactScan(u)
                if exact.cardLike || exact.url || exact.keyed {
                    found += 1
                    #expect(needed, "skipped: \(String(decoding: bytes, as: UTF8.self))")
                }
                if !needed { skipped += 1 }
            }
            // A run of exactly 13 digits on its own: the boundary of the card rule.
            var maxRun = 0, run = 0
            for b in bytes { run = b >= 0x30 && b <= 0x39 ? run + 1 : 0; maxRun = max(maxRun, run) }
            if maxRun == 13 { thirteen += 1 }
        }
        #expect(found > 2_000)
        #expect(skipped > 2_000)
        #expect(thirteen > 20)
    }
    /// `maskCardNumbers` and `hasCardNumber` (one scanner, with the Luhn sums kept both ways on
    /// the fly) agree with the rule written out plainly (the digit positions collected, Luhn
    /// computed on them) on 20,000 seeded strings: digit runs of 11 to 21 with spaces and dashes,
    /// letters before and after, and runs made Luhn-valid on purpose.
    @Test func cardNumberScanAgreesWithThePlainRule() {
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) }
        func luhn(_ d: [UInt8]) -> Bool {
            var sum = 0
            for (k, c) in d.reversed().enumerated() {
                var v = Int(c - 0x30)
                if k % 2 == 1 { v = v * 2 > 9 ? v * 2 - 9 : v * 2 }
                sum += v
            }
            return sum % 10 == 0
        }
        func reference(_ s: String) -> String {
            var b = Array(s.utf8)
            var i = 0
            while i < b.count {
                guard isDigit(b[i]) else { i += 1; continue }
                if i > 0 && isAlnum(b[i - 1]) {
                    while i < b.count && isDigit(b[i]) { i += 1 }
                    continue
                }
                var pos: [Int] = []
                var j = i
                while j < b.count {
                    if isDigit(b[j]) {
                        pos.append(j)
                        j += 1
                    } else if (b[j] == 0x20 || b[j] == 0x2D), j + 1 < b.count, isDigit(b[j + 1]), !pos.isEmpty {
                        j += 1
                    } else {
                        break
                    }
                }
                let glued = j < b.count && isAlnum(b[j])
                if !glued, (13...19).contains(pos.count), luhn(pos.map { b[$0] }) {
                    for p in pos.dropLast(4) { b[p] = UInt8(ascii: "*") }
                }
                i = max(j, i + 1)
            }
            return String(decoding: b, as: UTF8.self)
        }
        var state: UInt64 = 0x1234_5678_9ABC_DEF1
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33) % n
        }
        func digits(_ count: Int, luhnValid: Bool) -> [UInt8] {
            var d = (0..<count).map { _ in UInt8(0x30 + next(10)) }
            if luhnValid {
                // Fix the last digit so that the whole run passes.
                for c in 0..<10 {
                    d[count - 1] = UInt8(0x30 + c)
                    if luhn(d) { break }
                }
            }
            return d
        }
        var masked = 0, plain = 0
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<(1 + next(3)) {
                switch next(4) {
                case 0: bytes += Array(["x", "MT", " ", "-", "ab", ":", "9"][next(7)].utf8)
                default:
                    var run = digits(11 + next(11), luhnValid: next(2) == 0)
                    if next(3) == 0, run.count > 8 {
                        run.insert(next(2) == 0 ? 0x20 : 0x2D, at: 4 + next(4))  // a separator inside
                    }
                    bytes += run
                }
            }
            let s = String(decoding: bytes, as: UTF8.self)
            let expected = reference(s)
            #expect(Redactor.maskCardNumbers(s) == expected, "\(s)")
            let has = bytes.withUnsafeBufferPointer { Redactor.hasCardNumber($0) }
            #expect(has == (expected != s), "\(s)")
            if expected != s { masked += 1 } else { plain += 1 }
        }
        #expect(masked > 2_000)
        #expect(plain > 2_000)
    }

    /// Identifiers that only look like card numbers to the quick passes (13 digits or more in a
    /// row) keep the log line on its one-pass path, unchanged: a numeric message ID too long to
    /// be a card, hex IDs whose digits run on into letters, a run failing Luhn. A real card
    /// number still sends the line the long way, and is masked there.
    @Test func identifiersThatOnlyLookLikeCardNumbersKeepTheFastPath() {
        let redactor = Redactor()
        for id in ["12345678000000000000000000001234", "23973397697605c6f4d5e08387d8bec5", "4111111111111112", "2026-11-22 1234567"] {
            let r = LogRecord(epochMillis: 0, level: .info, message: "delivered", fields: [("msgID", .string(id)), ("attempt", .int(1))])
            let line = LogFormatter.jsonIfClean(r, redactor: redactor)
            #expect(line != nil, "\(id)")
            #expect(line.map { String(decoding: $0, as: UTF8.self).contains(id) } == true)
        }
        let card = LogRecord(epochMillis: 0, level: .info, message: "m", fields: [("note", .string("paid with 4111111111111111"))])
        #expect(LogFormatter.jsonIfClean(card, redactor: redactor) == nil)
        var masked = card
        redactor.redact(&masked)
        #expect(String(decoding: LogFormatter.format(masked, as: .json), as: UTF8.self).contains("************1111"))
    }
}
