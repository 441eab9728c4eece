import Foundation
import Testing

@testable import GatewayCore

@Suite("Encodings and time")
struct EncodingTests {
    @Test func hexRoundTripAndCase() {
        #expect(Hex.encode([0x00, 0xAB, 0xFF]) == "00abff")
        #expect(Hex.encode([0xAB], uppercase: true) == "AB")
        #expect(Hex.decode("00AbfF") == [0x00, 0xAB, 0xFF])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.decode("") == [])
        let all = (0...255).map { UInt8($0) }
        #expect(Hex.decode(Hex.encode(all)) == all)
        #expect(Hex.decode(Hex.encode(all, uppercase: true)) == all)
        // Every byte value, in either half: decoded exactly when it is a hex digit, to its value.
        for b in 0...255 {
            let c = UInt8(b)
            let expected = Hex.value(of: c)
            #expect(Hex.decode(utf8: [c, 0x30]) == expected.map { [$0 << 4] }, "high \(b)")
            #expect(Hex.decode(utf8: [0x30, c]) == expected.map { [$0] }, "low \(b)")
        }
        // A signature-sized text with one bad character anywhere, in either half of a byte.
        let good = Array(Hex.encode((0..<32).map { UInt8($0 * 7 & 0xFF) }).utf8)
        for i in good.indices {
            for bad in ["g", "G", "/", ":", "@", "`", " "] {
                var text = good
                text[i] = UInt8(ascii: Unicode.Scalar(bad)!)
                #expect(Hex.decode(utf8: text) == nil, "bad \(bad) at \(i)")
            }
        }
    }

    @Test func base64RoundTrip() {
        for n in 0..<20 {
            let bytes = (0..<n).map { UInt8(($0 * 37 + 11) & 0xFF) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.decode("Zm9vYg") == Array("foob".utf8))
        #expect(Base64.decode("Zm9v YmFy") == nil)
        #expect(Base64.decode("Z") == nil)
    }

    @Test func constantTimeEquals() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equalsIgnoringASCIICase(Array("AbC".utf8), Array("aBc".utf8)))
    }

    @Test func asciiLowering() {
        for c in UInt8(0)...UInt8(255) {
            let expected: UInt8 = (c >= 65 && c <= 90) ? c + 32 : c
            #expect(ASCII.lower(c) == expected)
        }
    }

    /// Token characters (RFC 9110 5.6.2: "!#$%&'*+-.^_`|~", digits, letters), every byte.
    @Test func tokenCharactersAreExactlyTheRFCs() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for b in 0...255 {
            #expect(ASCII.isTokenChar(UInt8(b)) == tchar.contains(UInt8(b)), "byte \(b)")
        }
        for b in 0...255 {
            let c = UInt8(b)
            #expect(ASCII.lower(c) == ((0x41...0x5A).contains(c) ? c + 0x20 : c), "byte \(b)")
        }
    }

    /// Case-insensitive comparison against a reference (ASCII lower-casing of both sides), for
    /// small (inline) and large (heap) strings, lengths that differ, and non-ASCII bytes, which
    /// compare only as themselves (`É` is not `é`: header names are ASCII tokens).
    @Test func equalsIgnoringCaseMatchesAReference() {
        let long = String(repeating: "X-Gateway-Long-Header-Name-", count: 3)
        let cases: [(String, String)] = [
            ("Authorization", "authorization"), ("SIGNTYPE", "signtype"), ("MsgID", "MsgId"), ("DateTime", "Date-Time"),
            ("", ""), ("a", ""), ("Content-Length", "Content-Lengtx"), (long, long.lowercased()), (long, long.uppercased() + "!"),
            ("Émile", "émile"), ("Émile", "Émile"), ("@[`{", "`{@["), ("A", "a"), ("Z", "z"), ("[", "{"),
        ]
        func reference(_ a: String, _ b: String) -> Bool {
            Array(a.utf8).map(ASCII.lower) == Array(b.utf8).map(ASCII.lower)
        }
        for (a, b) in cases {
            #expect(ASCII.equalsIgnoringCase(a, b) == reference(a, b), "\(a) vs \(b)")
            #expect(ASCII.equalsIgnoringCase(b, a) == reference(a, b), "\(b) vs \(a)")
        }
        #expect(ASCII.equalsIgnoringCase("Authorization", "AUTHORIZATION"))
        #expect(!ASCII.equalsIgnoringCase("Émile", "émile"))
    }

    /// A thread name longer than the kernel's 15 bytes is cut, on a character boundary.
    /// The word-at-a-time check agrees with a byte-by-byte one at every length around its
    /// 32- and 8-byte steps, with one high byte at every position (and at none).
    @Test func isASCIIFindsAHighByteAnywhere() {
        for n in 0...80 {
            let clean = (0..<n).map { UInt8(truncatingIfNeeded: 0x20 + $0 % 0x5F) }
            #expect(clean.withUnsafeBufferPointer(ASCII.isASCII), "length \(n)")
            for at in 0..<n {
                for high: UInt8 in [0x80, 0xC3, 0xFF] {
                    var bytes = clean
                    bytes[at] = high
                    #expect(!bytes.withUnsafeBufferPointer(ASCII.isASCII), "length \(n), 0x\(String(high, radix: 16)) at \(at)")
                }
            }
        }
        // Not aligned: a slice starting at an odd address.
        let bytes = Array(repeating: UInt8(ascii: "a"), count: 41) + [0xE9]
        bytes.withUnsafeBufferPointer { all in
            #expect(ASCII.isASCII(UnsafeBufferPointer(rebasing: all[1..<41])))
            #expect(!ASCII.isASCII(UnsafeBufferPointer(rebasing: all[3..<42])))
        }
    }

    @Test func threadNamesAreCutToFifteenBytes() {
        let done = DispatchSemaphore(value: 0)
        let seen = Locked<[String]>([])
        for name in ["gw-loop-1", "gw-r12-a-very-long-route-name", "gw-é-é-é-é-é-é-é"] {
            NamedThread.start(name) {
                seen.withLock { $0.append(NamedThread.current) }
                done.signal()
            }
            #expect(done.wait(timeout: .now() + 10) == .success)
        }
        #expect(seen.withLock { $0 } == ["gw-loop-1", "gw-r12-a-very-l", "gw-é-é-é-é-"])
    }

    @Test func civilTime() {
        #expect(CivilTime.daysFromCivil(year: 1970, month: 1, day: 1) == 0)
        #expect(CivilTime.daysFromCivil(year: 2000, month: 3, day: 1) == 11017)
        for d in stride(from: -800_000, through: 800_000, by: 997) {
            let (y, m, dd) = CivilTime.civilFromDays(d)
            #expect(CivilTime.daysFromCivil(year: y, month: m, day: dd) == d)
        }
        #expect(CivilTime.iso8601(epochMillis: 1_795_312_800_123) == "2026-11-22T02:00:00.123Z")
        // Expected values from Python's datetime (an independent implementation).
        let known: [(Int64, String)] = [
            (0, "1970-01-01T00:00:00.000Z"), (-1, "1969-12-31T23:59:59.999Z"), (1_796_032_812_345, "2026-11-30T10:00:12.345Z"),
            (951_782_400_999, "2000-02-29T00:00:00.999Z"), (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        ]
        for (ms, text) in known {
            var out: [UInt8] = [0x3C]  // appends after what is there
            CivilTime.writeISO8601(epochMillis: ms, into: &out)
            #expect(out == [0x3C] + Array(text.utf8), "\(ms)")
        }
        // Against Foundation's formatter (another independent implementation), at 3,000 seeded
        // instants from 1970 to 9999: every field's two-digit halves, and the milliseconds.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var rng = SplitMix(seed: 0x1508_601)
        var agreed = 0
        for _ in 0..<3000 {
            let ms = Int64(rng.next() % 253_402_300_800_000)
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(ms / 1000)).addingTimeInterval(Double(ms % 1000) / 1000 + 0.0001))
            let ours = CivilTime.iso8601(epochMillis: ms)
            #expect(ours == expected, "\(ms)")
            if ours == expected { agreed += 1 }
        }
        #expect(agreed == 3000)
        #expect(CivilTime.httpDate(epochSeconds: 1_795_312_800) == "Sun, 22 Nov 2026 02:00:00 GMT")
    }

    /// The preallocated fast path and the growing path write the same bytes, for every kind of
    /// value, with and without characters that need escapes (which force the growing path).
    @Test func bothJSONLinePathsAgree() throws {
        var g = SystemRandomNumberGenerator()
        let pieces = ["a", "Payment", "0123456789abcdef", "é", "日本", "\"", "\\", "\n", "\u{01}", "\u{7F}", " ", "=", "{}", "🙂"]
        func text() -> String { (0..<Int.random(in: 0...12, using: &g)).map { _ in pieces.randomElement(using: &g) ?? "" }.joined() }
        for _ in 0..<500 {
            var fields: [(String, LogValue)] = []
            for i in 0..<Int.random(in: 0...14, using: &g) {
                let key = "k\(i)" + text()  // distinct: the parser below refuses duplicate keys
                switch Int.random(in: 0...4, using: &g) {
                case 0: fields.append((key, .int(Int.random(in: Int.min...Int.max, using: &g))))
                case 1: fields.append((key, .bool(Bool.random(using: &g))))
                case 2: fields.append((key, .double([1.5, -0.25, .infinity, .nan, 1e300][Int.random(in: 0...4, using: &g)])))
                default: fields.append((key, .string(text())))
                }
            }
            let r = LogRecord(epochMillis: Int64.random(in: -1_000_000...4_000_000_000_000, using: &g), level: .warning, message: text(), fields: fields)
            let line = LogFormatter.json(r)
            #expect(line == LogFormatter.jsonGrowing(r))
            _ = try JSONParser.parse(Array(line.dropLast()))
        }
        // The extremes of `decimal`.
        let ints = LogRecord(epochMillis: 0, level: .info, message: "", fields: [("min", .int(.min)), ("max", .int(.max)), ("zero", 0)])
        #expect(String(decoding: LogFormatter.json(ints), as: UTF8.self).hasSuffix(#""min":-9223372036854775808,"max":9223372036854775807,"zero":0}"# + "\n"))
    }

    /// The one-pass path (no redaction needed) writes exactly what redacting and then
    /// formatting writes, and gives way whenever the redactor has something to do. Seeded
    /// random records mix plain identifiers with card numbers, secrets, sensitive field names,
    /// URLs with credentials, `key=value` text and characters that need escapes.
    @Test func theCleanLinePathWritesWhatRedactingThenFormattingWrites() {
        let secret = "s3cr3t-sign-key-0123"
        let redactor = Redactor(secrets: [secret])
        let pieces = [
            "a", "Payment", "0123456789abcdef", "MT7F3A1C000000000042", "4111 1111 1111 1111", "4111111111111111",
            "4222222222222", "ORD0000000000000042", "98765432109876543210", "23973397697605c6f4", "4111111111111112", "2026-11-22T09:50:13+08:00", "123456789012", "1", " ", "-", "=", ":", "://", "http://u:p@h/x", "\"", "\\", "\n", "é", secret, "token",
        ]
        let names = ["source", "msgID", "route", "holderName", "token", "amount", "n", "note:x"]
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33) % n
        }
        func text() -> String { (0..<next(6)).map { _ in pieces[next(pieces.count)] }.joined() }
        var clean = 0, redacted = 0
        for _ in 0..<5_000 {
            var fields: [(String, LogValue)] = []
            for i in 0..<next(8) {
                let key = names[next(names.count)] + (i == 0 ? "" : "\(i)")
                switch next(5) {
                case 0: fields.append((key, .int(next(1_000_000) - 500_000)))
                case 1: fields.append((key, .bool(next(2) == 0)))
                default: fields.append((key, .string(text())))
                }
            }
            let r = LogRecord(epochMillis: 1_795_312_800_123, level: .info, message: text(), fields: fields)
            var expected = r
            redactor.redact(&expected)
            if let line = LogFormatter.jsonIfClean(r, redactor: redactor) {
                clean += 1
                #expect(line == LogFormatter.format(expected, as: .json))
            } else {
                redacted += 1
            }
        }
        #expect(clean > 300)
        #expect(redacted > 500)
    }

    @Test func logLinesAreValidJSON() throws {
        let line = LogFormatter.format(
            LogRecord(epochMillis: 0, level: .warning, message: "a \"quoted\"\nline", fields: [("n", 1), ("b", true), ("s", "x")]),
            as: .json)
        #expect(line.last == 0x0A)
        let v = try JSONParser.parse(Array(line.dropLast()))
        #expect(v["msg"] == .string("a \"quoted\"\nline"))
        #expect(v["level"] == .string("warn"))
        #expect(v["n"] == .number("1"))
        let lf = String(decoding: LogFormatter.format(LogRecord(epochMillis: 0, level: .info, message: "hi there", fields: [("k", "v w")]), as: .logfmt), as: UTF8.self)
        #expect(lf == "ts=1970-01-01T00:00:00.000Z level=info msg=\"hi there\" k=\"v w\"\n")
    }
}

@Suite("String limits")
struct StringLimitTests {
    /// The byte-level scalar count agrees with `unicodeScalars.count` on each side of the limit,
    /// for ASCII, two-, three- and four-byte scalars and combining marks; the prefix agrees
    /// with `String(prefix(n))`.
    @Test func scalarLimitsAndPrefixesAgreeWithTheStandardLibrary() {
        let pieces = ["a", "é", "e\u{301}", "张", "😀", "🇸🇬", "-"]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var s = ""
            for _ in 0..<Int.random(in: 0..<40, using: &rng) { s += pieces.randomElement(using: &rng) ?? "a" }
            for limit in [0, 1, 5, 31, 32, 33, 64] {
                #expect(s.hasMoreScalars(than: limit) == (s.unicodeScalars.count > limit), "\(s) \(limit)")
                #expect(s.prefixCharacters(limit) == String(s.prefix(limit)), "\(s) \(limit)")
            }
        }
    }
}


@Suite("ByteWriter")
struct ByteWriterTests {
    /// Output that does not fit the estimate is written again into a larger buffer, whole: the
    /// caller's estimate is a guess (a transform's value can be longer than it allows for).
    @Test func outputLongerThanTheEstimateIsWrittenAgainWhole() {
        let chunk = Array("0123456789abcdef".utf8)
        var calls = 0
        let out = [UInt8].writing(estimate: 20) { w in
            calls += 1
            for _ in 0..<100 { chunk.withUnsafeBufferPointer { w.append(contentsOf: $0) } }
            w.append(UInt8(ascii: "!"))
        }
        #expect(out == Array(repeating: chunk, count: 100).flatMap { $0 } + [UInt8(ascii: "!")])
        #expect(calls == 8)  // 20, 40, ... 2560 bytes: the eighth fits 1,601
        // What fits the first time is written once, to the byte.
        var once = 0
        #expect([UInt8].writing(estimate: 64) { w in once += 1; w.append(UInt8(ascii: "x")) } == [UInt8(ascii: "x")])
        #expect(once == 1)
    }

    @Test func aWriterStopsAtItsCapacityAndSaysSo() {
        var storage = [UInt8](repeating: 0, count: 4)
        storage.withUnsafeMutableBufferPointer { buffer in
            var w = ByteWriter(buffer)
            w.append(1)
            Array<UInt8>([2, 3, 4, 5]).withUnsafeBufferPointer { w.append(contentsOf: $0) }  // does not fit: nothing written
            #expect(w.overflowed && w.count == 1)
        }
        #expect(storage == [1, 0, 0, 0])
    }
}
