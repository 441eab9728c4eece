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

    @Test func civilTime() {
        #expect(CivilTime.daysFromCivil(year: 1970, month: 1, day: 1) == 0)
        #expect(CivilTime.daysFromCivil(year: 2000, month: 3, day: 1) == 11017)
        for d in stride(from: -800_000, through: 800_000, by: 997) {
            let (y, m, dd) = CivilTime.civilFromDays(d)
            #expect(CivilTime.daysFromCivil(year: y, month: m, day: dd) == d)
        }
        #expect(CivilTime.iso8601(epochMillis: 1_795_312_800_123) == "2026-11-22T02:00:00.123Z")
        #expect(CivilTime.httpDate(epochSeconds: 1_795_312_800) == "Sun, 22 Nov 2026 02:00:00 GMT")
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
