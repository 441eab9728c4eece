/// Formats a record as one line: a JSON object, or logfmt (`key=value`, quoted when needed).
///
/// JSON keys: `ts` (RFC 3339 UTC, milliseconds), `level`, `msg`, then the fields in call order.
public enum LogFormatter {
    public static func format(_ r: LogRecord, as format: LogFormat) -> [UInt8] {
        switch format {
        case .json: json(r)
        case .logfmt: logfmt(r)
        }
    }

    static func json(_ r: LogRecord) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out.append(contentsOf: "{\"ts\":\"".utf8)
        CivilTime.writeISO8601(epochMillis: r.epochMillis, into: &out)
        out.append(contentsOf: "\",\"level\":\"".utf8)
        out.append(contentsOf: r.level.name.utf8)
        out.append(contentsOf: "\",\"msg\":".utf8)
        JSONValue.writeString(r.message, to: &out)
        for (k, v) in r.fields {
            out.append(UInt8(ascii: ","))
            JSONValue.writeString(k, to: &out)
            out.append(UInt8(ascii: ":"))
            switch v {
            case .string(let s): JSONValue.writeString(s, to: &out)
            case .int(let i): appendDecimal(i, to: &out)
            case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
            case .double(let d): out.append(contentsOf: (d.isFinite ? String(d) : "null").utf8)
            }
        }
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    static func logfmt(_ r: LogRecord) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160)
        out.append(contentsOf: "ts=".utf8)
        CivilTime.writeISO8601(epochMillis: r.epochMillis, into: &out)
        out.append(contentsOf: " level=".utf8)
        out.append(contentsOf: r.level.name.utf8)
        out.append(contentsOf: " msg=".utf8)
        writeLogfmtValue(r.message, to: &out)
        for (k, v) in r.fields {
            out.append(UInt8(ascii: " "))
            for b in k.utf8 where b > 0x20 && b != UInt8(ascii: "=") && b != UInt8(ascii: "\"") { out.append(b) }
            out.append(UInt8(ascii: "="))
            writeLogfmtValue(v.description, to: &out)
        }
        out.append(0x0A)
        return out
    }

    private static func writeLogfmtValue(_ s: String, to out: inout [UInt8]) {
        let needsQuotes = s.isEmpty || s.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") || $0 == 0x7F }
        if needsQuotes {
            JSONValue.writeString(s, to: &out)
        } else {
            out.append(contentsOf: s.utf8)
        }
    }
}

/// Appends a decimal integer without building a String.
public func appendDecimal(_ value: Int, to out: inout [UInt8]) {
    if value == 0 {
        out.append(0x30)
        return
    }
    var v = value.magnitude
    if value < 0 { out.append(UInt8(ascii: "-")) }
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var n = 0
    withUnsafeMutableBytes(of: &digits) { d in
        while v > 0 {
            d[n] = UInt8(0x30 + v % 10)
            v /= 10
            n += 1
        }
        while n > 0 {
            n -= 1
            out.append(d[n])
        }
    }
}
