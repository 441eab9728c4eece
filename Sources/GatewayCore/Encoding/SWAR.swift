/// Word-at-a-time byte tests ("SIMD within a register").
public enum SWAR {
    public static let ones: UInt64 = 0x0101_0101_0101_0101
    public static let highs: UInt64 = 0x8080_8080_8080_8080

    /// True when some byte of `w` is zero (the classic haszero test).
    @inlinable @inline(__always) public static func hasZeroByte(_ w: UInt64) -> Bool {
        (w &- ones) & ~w & highs != 0
    }

    /// True when some byte of `w` equals `b`.
    @inlinable @inline(__always) public static func hasByte(_ w: UInt64, _ b: UInt8) -> Bool {
        hasZeroByte(w ^ (ones &* UInt64(b)))
    }

    /// High bit set in each byte that a JSON string scanner must look at (below 0x20, at or
    /// above 0x80, quote, backslash). Bits above the lowest one may be false positives (borrow
    /// propagation), the lowest one is exact, which is all the scanner uses.
    @inlinable @inline(__always) public static func attentionMask(_ w: UInt64) -> UInt64 {
        let below = (w &- ones &* 0x20) & ~w & highs
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        return (w & highs) | below | ((quote &- ones) & ~quote & highs) | ((backslash &- ones) & ~backslash & highs)
    }

    /// High bit set in each byte equal to `b` (lowest one exact).
    @inlinable @inline(__always) public static func byteMask(_ w: UInt64, _ b: UInt8) -> UInt64 {
        let x = w ^ (ones &* UInt64(b))
        return (x &- ones) & ~x & highs
    }

    /// High bit set in each byte below 0x20 or equal to 0x7F (control characters); the lowest
    /// one is exact.
    @inlinable @inline(__always) public static func controlMask(_ w: UInt64) -> UInt64 {
        ((w &- ones &* 0x20) & ~w & highs) | byteMask(w, 0x7F)
    }
}
