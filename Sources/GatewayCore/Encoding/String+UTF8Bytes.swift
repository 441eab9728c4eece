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
}
