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
}
