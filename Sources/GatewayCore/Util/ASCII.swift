/// Byte-level ASCII helpers used by the HTTP parser and header lookups.
public enum ASCII {
    /// Lower-cases an ASCII letter without branching; other bytes are returned unchanged.
    @inlinable @inline(__always)
    public static func lower(_ c: UInt8) -> UInt8 {
        // Adds 0x20 exactly when c is in 'A'...'Z'.
        let isUpper = UInt8(truncatingIfNeeded: (Int(c) &- 0x41) >> 63 ^ -1) & UInt8(truncatingIfNeeded: (0x5A &- Int(c)) >> 63 ^ -1) & 1
        return c | (isUpper << 5)
    }

    /// Case-insensitive ASCII comparison, as header names need. Inlinable: a header lookup then
    /// reads the field's name in place instead of retaining it for the call.
    @inlinable
    public static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        let ua = a.utf8
        let ub = b.utf8
        guard ua.count == ub.count else { return false }
        // Borrowed views, no copies of the strings (the old `var x = a; x.withUTF8` retained and
        // released both on every call). Native strings always have contiguous UTF-8.
        if let r = ua.withContiguousStorageIfAvailable({ pa in
            ub.withContiguousStorageIfAvailable { pb in equalsIgnoringCase(pa, pb) }
        }), let r { return r }
        return zip(ua, ub).allSatisfy { $0 == $1 || lower($0) == lower($1) }
    }

    /// The same over bytes.
    @inlinable
    public static func equalsIgnoringCase(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] && lower(a[i]) != lower(b[i]) { return false }
        return true
    }

    /// A byte a header value (or a chunk extension) may not hold: a control character other than
    /// tab, or DEL (RFC 9110 5.5). CR and LF among them: one in a value would end the line.
    @inlinable @inline(__always)
    public static func isControlInFieldValue(_ b: UInt8) -> Bool {
        (b < 0x20 && b != 0x09) || b == 0x7F
    }

    /// A letter or a digit.
    @inline(__always)
    public static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }

    /// Token characters of RFC 9110 section 5.6.2 (header names, methods).
    @inline(__always)
    @inlinable
    public static func isTokenChar(_ c: UInt8) -> Bool {
        // Two 64-bit masks (bytes 0-63 and 64-127) instead of a table: the parser calls this for
        // every byte of every header name, across modules, and a lazily built global table
        // cost a call and a once-check each time.
        c < 64 ? (0x03FF_6CFA_0000_0000 as UInt64) >> c & 1 == 1 : c < 128 ? (0x57FF_FFFF_C7FF_FFFE as UInt64) >> (c &- 64) & 1 == 1 : false
    }

    /// Whether every byte is below 0x80: 32 bytes a round, OR-ed together, checked once per
    /// round. (Text that is all ASCII compares as bytes exactly as it does as Strings, apart from
    /// a CR LF pair, which is one Character.)
    public static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        let high = SWAR.highs
        var i = 0
        let n = bytes.count
        while i &+ 32 <= n {
            let w =
                raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) | raw.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
                | raw.loadUnaligned(fromByteOffset: i &+ 16, as: UInt64.self) | raw.loadUnaligned(fromByteOffset: i &+ 24, as: UInt64.self)
            if w & high != 0 { return false }
            i &+= 32
        }
        while i &+ 8 <= n {
            if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & high != 0 { return false }
            i &+= 8
        }
        while i < n {
            if base[i] >= 0x80 { return false }
            i &+= 1
        }
        return true
    }
}
