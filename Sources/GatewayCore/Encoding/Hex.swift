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

    /// A hex digit's value and 0, or anything and 1 when `c` is not a hex digit; no branches.
    @inline(__always)
    static func nibble(_ c: UInt8) -> (UInt8, UInt8) {
        let digit = c &- 0x30  // '0'...'9' -> 0...9
        let letter = (c | 0x20) &- 0x61  // 'a'...'f' and 'A'...'F' -> 0...5 (nothing else maps there)
        let isDigit = UInt8(truncatingIfNeeded: (Int(digit) &- 10) >> 8) & 1  // 1 when digit < 10
        let isLetter = UInt8(truncatingIfNeeded: (Int(letter) &- 6) >> 8) & 1  // 1 when letter < 6
        let value = isDigit &* digit | (1 &- isDigit) &* (letter &+ 10)
        return (value & 0x0F, 1 &- (isDigit | isLetter))
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
        // Written in place (an append per byte costs a capacity and a uniqueness check each),
        // and without a branch per digit: in a signature, digits and letters alternate at
        // random, and a mispredicted branch on every other character cost more than the rest
        // of the decoding (0.8% of a request's CPU for 64 characters).
        var bad: UInt8 = 0
        let out = [UInt8](unsafeUninitializedCapacity: chars.count / 2) { buffer, count in
            for i in 0..<buffer.count {
                let (hi, hiBad) = nibble(chars[2 * i])
                let (lo, loBad) = nibble(chars[2 * i + 1])
                bad |= hiBad | loBad
                buffer[i] = hi << 4 | lo
            }
            count = buffer.count
        }
        return bad == 0 ? out : nil
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
