/// Compact JSON output (no insignificant whitespace), members in stored order.
///
/// Strings are escaped minimally: `"`, `\` and control characters; everything else is written as
/// UTF-8. Numbers are written as their preserved source text.
extension JSONValue {
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    public var jsonText: String { String(decoding: serialized(), as: UTF8.self) }

    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                v.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, m) in o.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(m.key, to: &out)
                out.append(UInt8(ascii: ":"))
                m.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Whether `u` can go between quotes as it is: no control byte, quote, backslash or DEL.
    /// Eight bytes at a time.
    @inline(__always)
    public static func isPlainString(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        if let base = u.baseAddress {
            while i + 8 <= u.count {
                let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if SWAR.attentionMask(w) & ~(w & SWAR.highs) != 0 || SWAR.byteMask(w, 0x7F) != 0 { return false }
                i += 8
            }
        }
        while i < u.count {
            let b = u[i]
            if b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F { return false }
            i += 1
        }
        return true
    }

    public static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let plain = s.withUTF8Bytes { u -> Bool in
            guard isPlainString(u) else { return false }
            out.append(contentsOf: u)
            return true
        }
        if plain {
            out.append(UInt8(ascii: "\""))
            return
        }
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(0x5C); out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0..<0x20, 0x7F:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `s` as a JSON string literal (with quotes), encoded.
    public static func quotedBytes(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        writeString(s, to: &out)
        return out
    }

    /// A JSON string literal for `s` (with quotes), for building small documents by hand.
    public static func quoted(_ s: String) -> String {
        String(decoding: quotedBytes(s), as: UTF8.self)
    }
}
