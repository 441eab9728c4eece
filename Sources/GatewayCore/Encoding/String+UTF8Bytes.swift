extension String {
    /// Calls `body` with the string's UTF-8 bytes, without copying the string.
    ///
    /// Why not `withUTF8`: it is `mutating` (it may have to make a bridged or lazy string
    /// contiguous first), so a caller holding a `let` writes `var copy = s; copy.withUTF8 {...}`,
    /// and that copy is a retain and a release on every call. On the request path (header lookups,
    /// log lines, spool records) those pairs added up to hundreds per notification. Native Swift
    /// strings, which is all the gateway makes, always have contiguous UTF-8, so the borrowed view
    /// answers; the copy remains only as the fallback for the others.
    @inlinable @inline(__always)
    public func withUTF8Bytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let r = try utf8.withContiguousStorageIfAvailable(body) { return r }
        var copy = self
        return try copy.withUTF8(body)
    }

    /// Whether the string has more than `limit` Unicode scalars, counted on its UTF-8 bytes
    /// (bytes that do not continue a scalar), and not at all when the bytes alone are few enough:
    /// `unicodeScalars.count` walked the scalars one by one (500 instructions per limit check).
    public func hasMoreScalars(than limit: Int) -> Bool {
        withUTF8Bytes { u in
            u.count > limit && u.count - JSONDocument.continuationBytes(u) > limit
        }
    }

    /// `String(prefix(n))` (the first `n` characters), without the grapheme-cluster walk when
    /// the string has no more than `n` UTF-8 bytes, and so no more than `n` characters.
    public func prefixCharacters(_ n: Int) -> String {
        utf8.count <= n ? self : String(prefix(n))
    }
}
