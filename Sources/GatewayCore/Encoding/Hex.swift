/// Hexadecimal encoding and decoding (either case accepted on input).
public enum Hex {
    private static let lower = Array("0123456789abcdef".utf8)
    private static let upper = Array("0123456789ABCDEF".utf8)

    @inline(__always)
    public static func value(of c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c &- 0x30
        case 0x41...0x46: return c &- 0x41 &+ 10
        case 0x61...0x66: return c &- 0x61 &+ 10
        default: return nil
        }
    }

    public static func encode(_ bytes: some Sequence<UInt8>, uppercase: Bool = false) -> String {
        let digits = uppercase ? upper : lower
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex text; `nil` when the length is odd or a character is not a hex digit.
    public static func decode(_ text: String) -> [UInt8]? {
        return text.withUTF8Bytes { decode(buffer: $0) }
    }

    public static func decode(utf8 chars: [UInt8]) -> [UInt8]? {
        chars.withUnsafeBufferPointer { decode(buffer: $0) }
    }

    static func decode(buffer chars: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard chars.count % 2 == 0 else { return nil }
        // Written in place (an append per byte costs a capacity and a uniqueness check each:
        // a third of a microsecond for the signature of every request).
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: chars.count / 2) { buffer, count in
            var i = 0
            while i < buffer.count {
                guard let hi = value(of: chars[2 * i]), let lo = value(of: chars[2 * i + 1]) else {
                    valid = false
                    break
                }
                buffer[i] = hi << 4 | lo
                i += 1
            }
            count = i
        }
        return valid ? out : nil
    }

    /// True when every character is a hex digit and the length is even.
    public static func isHex(_ text: some StringProtocol) -> Bool {
        var n = 0
        for c in text.utf8 {
            guard value(of: c) != nil else { return false }
            n += 1
        }
        return n > 0 && n % 2 == 0
    }
}
