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
        // Fast path: the line written with plain stores into a buffer sized up front. A value
        // that needs escapes (rare in log fields) sends the line to the growing path below.
        preallocated(r, checkingWith: nil) ?? jsonGrowing(r)
    }

    /// The JSON line of a record the redactor would leave as it is, written in one pass per
    /// string that copies and checks at once; nil when the redactor has work to do (a sensitive
    /// field name, a secret, a card-like digit run, a `=` or `:`) or a string needs escapes.
    /// The caller then redacts and formats as before, so the output is the same either way.
    ///
    /// Why: redacting first walked every string once, and formatting walked it again (the
    /// escape check, then the copy); the accepted line of every notification paid for both.
    static func jsonIfClean(_ r: LogRecord, redactor: Redactor) -> [UInt8]? {
        preallocated(r, checkingWith: redactor)
    }

    /// The line written with plain stores into a buffer sized up front, or nil when a string
    /// needs escapes or, given a redactor, when it would change something.
    private static func preallocated(_ r: LogRecord, checkingWith redactor: Redactor?) -> [UInt8]? {
        var fits = false
        let line = Redactor.scanClasses.withUnsafeBufferPointer { table in
            [UInt8](unsafeUninitializedCapacity: estimatedSize(r)) { buf, count in
                var w = LineWriter(buf)
                func value(_ s: String) {
                    if let redactor { w.cleanString(s, table: table, redactor: redactor) } else { w.string(s) }
                }
                w.raw("{\"ts\":\"")
                var ts = CivilTime.iso8601Bytes(epochMillis: r.epochMillis)
                withUnsafeBytes(of: &ts) { w.bytes($0) }
                w.raw("\",\"level\":\"")
                w.plain(r.level.name)
                w.raw("\",\"msg\":")
                value(r.message)
                for i in r.fields.indices where w.fits {  // by index: no copy of each field
                    w.byte(UInt8(ascii: ","))
                    if let redactor, redactor.isSensitive(r.fields[i].0) { w.fits = false }
                    w.string(r.fields[i].0)
                    w.byte(UInt8(ascii: ":"))
                    switch r.fields[i].1 {
                    case .string(let s): value(s)
                    case .int(let i): w.decimal(i)
                    case .bool(let b): b ? w.raw("true") : w.raw("false")
                    case .double(let d): w.plain(d.isFinite ? String(d) : "null")
                    }
                }
                w.raw("}\n")
                fits = w.fits
                count = w.fits ? w.pos : 0
            }
        }
        return fits ? line : nil
    }

    static func jsonGrowing(_ r: LogRecord) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimatedSize(r) * 2)
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

    /// Room for the line without escapes, so it is allocated once (UTF-8 counts of native
    /// strings are stored, not counted).
    static func estimatedSize(_ r: LogRecord) -> Int {
        var n = 64 + r.message.utf8.count
        for i in r.fields.indices {
            n += r.fields[i].0.utf8.count + 4
            switch r.fields[i].1 {
            case .string(let s): n += s.utf8.count + 2
            case .int, .double: n += 24
            case .bool: n += 5
            }
        }
        return n + n / 8
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

/// A cursor over a buffer sized up front. Every write checks the room left; when something does
/// not fit, or a string needs escapes, `fits` turns false and the rest is skipped (the caller
/// formats the line again on the growing path).
struct LineWriter {
    let buf: UnsafeMutableBufferPointer<UInt8>
    var pos = 0
    var fits = true

    init(_ buf: UnsafeMutableBufferPointer<UInt8>) { self.buf = buf }

    @inline(__always) mutating func byte(_ b: UInt8) {
        guard fits, pos < buf.count else { return fits = false }
        buf[pos] = b
        pos += 1
    }

    @inline(__always) mutating func bytes(_ src: UnsafeRawBufferPointer) {
        guard fits, src.count <= buf.count - pos, let dst = buf.baseAddress else { return fits = false }
        if let s = src.baseAddress, src.count > 0 { UnsafeMutableRawPointer(dst + pos).copyMemory(from: s, byteCount: src.count) }
        pos += src.count
    }

    mutating func raw(_ s: StaticString) {
        bytes(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Text known to need no escapes (level names, numbers).
    mutating func plain(_ s: String) {
        s.withUTF8Bytes { bytes(UnsafeRawBufferPointer($0)) }
    }

    /// A JSON string literal, when `s` needs no escapes; otherwise gives up (`fits = false`).
    mutating func string(_ s: String) {
        s.withUTF8Bytes { u in
            guard JSONValue.isPlainString(u) else { return fits = false }
            byte(0x22)
            bytes(UnsafeRawBufferPointer(u))
            byte(0x22)
        }
    }

    /// A JSON string literal of `s`, copied and checked in the same pass: gives up (`fits =
    /// false`) when the redactor would change `s` or it needs escapes (see `jsonIfClean`).
    mutating func cleanString(_ s: String, table: UnsafeBufferPointer<UInt8>, redactor: Redactor) {
        guard fits else { return }
        s.withUTF8Bytes { u in
            guard u.count + 2 <= buf.count - pos, let dst = buf.baseAddress, !redactor.containsSecret(u) else { return fits = false }
            dst[pos] = 0x22
            var o = pos + 1
            var scan = Redactor.QuickScan()
            for b in u {
                dst[o] = b
                o &+= 1
                scan.add(table[Int(b)])
            }
            guard !scan.needsEscape else { return fits = false }  // escapes: the growing path
            // Values that need the exact rules are mostly left alone by them (a numeric order
            // ID glued to its prefix, a time with colons, a long numeric message ID): only when
            // a rule applies (a card number the masking rule would mask, not just 13 digits in
            // a row) does the whole line go the long way.
            if scan.needsExactScan {
                let (cardLike, url, keyed) = Redactor.exactScan(u)
                guard !url, !keyed, !(cardLike && Redactor.hasCardNumber(u)) else { return fits = false }
            }
            dst[o] = 0x22
            pos = o + 1
        }
    }

    mutating func decimal(_ value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for Int.min
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            var v = value.magnitude
            repeat {
                d[23 - n] = UInt8(0x30 + v % 10)
                v /= 10
                n += 1
            } while v > 0
            if value < 0 {
                d[23 - n] = UInt8(ascii: "-")
                n += 1
            }
            bytes(UnsafeRawBufferPointer(rebasing: d[(24 - n)...]))
        }
    }
}
