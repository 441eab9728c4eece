import Glibc
/// UTF-8 validation without the generic `String(validating:as:)` (which is not specialized for
/// our buffers and costs a runtime metadata lookup on every call).
public enum UTF8Validation {
    /// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
    public static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var i = 0
        let n = bytes.count
        while i < n {
            // ASCII fast path, 8 bytes at a time when aligned enough to matter.
            while i + 8 <= n {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            guard i < n else { return true }
            let b0 = bytes[i]
            if b0 < 0x80 {
                i += 1
                continue
            }
            if b0 >= 0xC2 && b0 <= 0xDF {
                guard i + 1 < n, bytes[i + 1] & 0xC0 == 0x80 else { return false }
                i += 2
            } else if b0 >= 0xE0 && b0 <= 0xEF {
                guard i + 2 < n else { return false }
                let b1 = bytes[i + 1]
                let lo: UInt8 = b0 == 0xE0 ? 0xA0 : 0x80
                let hi: UInt8 = b0 == 0xED ? 0x9F : 0xBF
                guard b1 >= lo && b1 <= hi, bytes[i + 2] & 0xC0 == 0x80 else { return false }
                i += 3
            } else if b0 >= 0xF0 && b0 <= 0xF4 {
                guard i + 3 < n else { return false }
                let b1 = bytes[i + 1]
                let lo: UInt8 = b0 == 0xF0 ? 0x90 : 0x80
                let hi: UInt8 = b0 == 0xF4 ? 0x8F : 0xBF
                guard b1 >= lo && b1 <= hi, bytes[i + 2] & 0xC0 == 0x80, bytes[i + 3] & 0xC0 == 0x80 else { return false }
                i += 4
            } else {
                return false
            }
        }
        return true
    }

    /// A String from validated UTF-8, or nil when it is not valid.
    public static func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard isValid(bytes) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func string(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBufferPointer { string($0) }
    }
}

/// Substring search on UTF-8 bytes (no Foundation, no locale).
public enum ByteSearch {
    public static func contains(_ haystack: String, _ needle: String) -> Bool {
        firstOffset(of: needle, in: haystack) != nil
    }

    /// Byte offset of the first occurrence of `needle` in `haystack`.
    public static func firstOffset(of needle: String, in haystack: String) -> Int? {
        haystack.withUTF8Bytes { hb in
            needle.withUTF8Bytes { nb in firstOffset(of: nb, in: hb) }
        }
    }

    /// Whether `a` holds exactly the bytes of `b` (one memcmp; the generic `elementsEqual`
    /// compared byte by byte through iterators).
    public static func equal(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBufferPointer { hasPrefix(b, $0) }
    }

    /// The same for two borrowed buffers.
    public static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        a.count == b.count && hasPrefix(b, a)
    }

    /// Whether `bytes` begins with `prefix`.
    public static func hasPrefix(_ bytes: UnsafeBufferPointer<UInt8>, _ prefix: UnsafeBufferPointer<UInt8>) -> Bool {
        guard prefix.count <= bytes.count else { return false }
        guard let b = bytes.baseAddress, let p = prefix.baseAddress else { return prefix.isEmpty }
        return same(b, p, prefix.count)
    }

    /// Whether `n` bytes at `a` and `b` are the same. Keys and condition operands are short:
    /// up to 32 bytes are compared here a word at a time, without a call to memcmp (about 20
    /// instructions a call, for keys that mostly differ in their first word).
    @inline(__always)
    public static func same(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        guard n <= 32 else { return memcmp(a, b, n) == 0 }
        @inline(__always) func word(_ p: UnsafePointer<UInt8>, _ i: Int) -> UInt64 { UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) }
        @inline(__always) func half(_ p: UnsafePointer<UInt8>, _ i: Int) -> UInt32 { UnsafeRawPointer(p + i).loadUnaligned(as: UInt32.self) }
        if n >= 8 {
            // Words from the front, then the last word (overlapping the one before).
            var i = 0
            while i &+ 8 < n {
                if word(a, i) != word(b, i) { return false }
                i &+= 8
            }
            return word(a, n &- 8) == word(b, n &- 8)
        }
        if n >= 4 { return half(a, 0) == half(b, 0) && half(a, n &- 4) == half(b, n &- 4) }
        var i = 0
        while i < n {
            if a[i] != b[i] { return false }
            i &+= 1
        }
        return true
    }

    public static func firstOffset(of needle: UnsafeBufferPointer<UInt8>, in hay: UnsafeBufferPointer<UInt8>, from: Int = 0) -> Int? {
        let n = needle.count
        guard n > 0, hay.count >= n, let h = hay.baseAddress, let nb = needle.baseAddress else { return nil }
        let first = Int32(nb[0])
        var i = max(0, from)
        let last = hay.count - n
        // memchr (vectorised in glibc) finds candidates for the first byte; memcmp checks the rest.
        while i <= last {
            guard let p = memchr(h + i, first, last - i + 1) else { return nil }
            let at = UnsafeRawPointer(h).distance(to: UnsafeRawPointer(p))
            if n == 1 || memcmp(h + at + 1, nb + 1, n - 1) == 0 { return at }
            i = at + 1
        }
        return nil
    }

    /// Replaces every occurrence of `needle` with `replacement`.
    public static func replacingAll(_ needle: String, with replacement: String, in text: String) -> String {
        text.withUTF8Bytes { hb -> String in
            needle.withUTF8Bytes { nb -> String in
                var out: [UInt8] = []
                var start = 0
                while let at = firstOffset(of: nb, in: hb, from: start) {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: hb[start..<at]))
                    out.append(contentsOf: replacement.utf8)
                    start = at + nb.count
                }
                if start == 0 { return text }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: hb[start...]))
                return String(decoding: out, as: UTF8.self)
            }
        }
    }
}
