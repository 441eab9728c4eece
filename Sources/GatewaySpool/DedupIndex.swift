import GatewayCore

/// De-duplication entries: a 16-byte digest of (source, raw body) and when its window ends.
/// About 40 bytes per notification in the window. Not thread-safe: the spool guards it.
struct DedupIndex {
    struct Hash: Hashable {
        var a: UInt64
        var b: UInt64

        init(_ bytes: [UInt8]) {
            var a: UInt64 = 0
            var b: UInt64 = 0
            for i in 0..<8 where i < bytes.count { a = a << 8 | UInt64(bytes[i]) }
            for i in 8..<16 where i < bytes.count { b = b << 8 | UInt64(bytes[i]) }
            self.a = a
            self.b = b
        }

        var bytes: [UInt8] {
            var out: [UInt8] = []
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: a >> UInt64(s))) }
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: b >> UInt64(s))) }
            return out
        }
    }

    struct Entry {
        var expiresMs: Int64
        /// The write that stores it has not been synced yet.
        var pending: Bool
    }

    var entries: [Hash: Entry] = [:]

    func lookup(_ h: Hash, now: Int64) -> Entry? {
        guard let e = entries[h], e.expiresMs > now else { return nil }
        return e
    }

    mutating func removeExpired(now: Int64) {
        entries = entries.filter { $0.value.expiresMs > now }
    }

    // MARK: Snapshot file: "GWDEDUP1" | u32 count | count x (16 bytes hash | i64 expiry)

    static let magic: [UInt8] = Array("GWDEDUP1".utf8)

    func snapshot(now: Int64) -> [UInt8] {
        var w = ByteWriter()
        w.bytes.append(contentsOf: DedupIndex.magic)
        let live = entries.filter { $0.value.expiresMs > now && !$0.value.pending }
        w.u32(UInt32(live.count))
        for (h, e) in live {
            w.bytes.append(contentsOf: h.bytes)
            w.i64(e.expiresMs)
        }
        return w.bytes
    }

    /// Loads a snapshot; returns false when the file is not one (it is then ignored).
    mutating func load(_ bytes: [UInt8], now: Int64) -> Bool {
        bytes.withUnsafeBytes { raw in
            guard raw.count >= 12, Array(raw[0..<8]) == DedupIndex.magic else { return false }
            var r = ByteReader(bytes: raw, offset: 8)
            guard let n = r.u32(), raw.count == 12 + Int(n) * 24 else { return false }
            for _ in 0..<n {
                guard let h = r.take(16).map(Array.init), let exp = r.i64() else { return false }
                if exp > now { entries[Hash(h)] = Entry(expiresMs: exp, pending: false) }
            }
            return true
        }
    }
}
