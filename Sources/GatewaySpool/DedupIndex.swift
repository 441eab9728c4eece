import GatewayCore

/// The de-duplication window in memory: which notifications (by a 16-byte digest of source and
/// raw body) were accepted, and until when a copy of one is a duplicate.
///
/// Memory bounds it, so it holds only what it must: a set of digests (16 bytes a slot) and, per
/// window length, the digests with their expiry in the order they were accepted (24 bytes each,
/// in fixed-size chunks). Acceptance order is expiry order within one window length, so expiring
/// is popping from the front: constant work per notification and no periodic sweep over the
/// whole index (a sweep of a million entries under the spool's lock stalls every answer). About
/// 45-70 bytes per notification in the window. Not thread-safe: the spool guards it.
struct DedupIndex {
    struct Hash: Hashable {
        var a: UInt64
        var b: UInt64

        init(a: UInt64, b: UInt64) {
            self.a = a
            self.b = b
        }

        init(_ bytes: [UInt8]) {
            var a: UInt64 = 0
            var b: UInt64 = 0
            for i in 0..<8 where i < bytes.count { a = a << 8 | UInt64(bytes[i]) }
            for i in 8..<16 where i < bytes.count { b = b << 8 | UInt64(bytes[i]) }
            self.init(a: a, b: b)
        }

        var bytes: [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(16)
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: a >> UInt64(s))) }
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: b >> UInt64(s))) }
            return out
        }
    }

    /// One notification in its window.
    struct Item: Equatable {
        var hash: Hash
        var expiresMs: Int64
    }

    enum Found: Equatable {
        /// Stored and synced: a copy is a duplicate.
        case stored
        /// Its write has not been synced yet: a copy must wait for the original's answer.
        case unsynced
    }

    /// Digests in their window whose write is synced.
    private var live: Set<Hash> = []
    /// Accepted, write not synced yet: expiry and window length (to queue it once synced).
    private var unsynced: [Hash: (expiresMs: Int64, windowMs: Int64)] = [:]
    /// Per window length (restored entries: `restoredWindow`), `live` in expiry order.
    private var queues: [Int64: ExpiryQueue] = [:]
    /// The earliest expiry at the front of any queue: nothing to do before it.
    private var nextExpiryMs = Int64.max

    private static let restoredWindow: Int64 = -1

    /// Notifications in the window (synced or not).
    var count: Int { live.count + unsynced.count }

    mutating func lookup(_ h: Hash, now: Int64) -> Found? {
        expire(now: now)
        if live.contains(h) { return .stored }
        if unsynced[h] != nil { return .unsynced }
        return nil
    }

    /// A notification accepted now; its write is on the way.
    mutating func insertUnsynced(_ h: Hash, expiresMs: Int64, windowMs: Int64) {
        unsynced[h] = (expiresMs, windowMs)
    }

    /// Its write was synced: it now counts as stored.
    mutating func confirm(_ h: Hash) {
        // Nothing unsynced (sources without a window): no key to hash.
        guard !unsynced.isEmpty, let u = unsynced.removeValue(forKey: h), live.insert(h).inserted else { return }
        queues[u.windowMs, default: ExpiryQueue()].append(Item(hash: h, expiresMs: u.expiresMs))
        nextExpiryMs = min(nextExpiryMs, u.expiresMs)
    }

    /// Its write failed: nothing was stored, a copy is not a duplicate.
    mutating func discard(_ h: Hash) {
        if !unsynced.isEmpty { unsynced[h] = nil }
    }

    /// Adds the entries read back from disk at start (any order, repeats allowed; expired ones are
    /// ignored). Call it once, with everything: a second call's entries queue behind the first's
    /// and would expire late (never early).
    mutating func restore(_ items: [Item], now: Int64) {
        // Latest expiry first, so a digest seen twice keeps its latest; then back to ascending.
        let sorted = items.filter { $0.expiresMs > now }.sorted { $0.expiresMs > $1.expiresMs }
        var kept: [Item] = []
        kept.reserveCapacity(sorted.count)
        for item in sorted where live.insert(item.hash).inserted { kept.append(item) }
        guard !kept.isEmpty else { return }
        var q = queues[DedupIndex.restoredWindow] ?? ExpiryQueue()
        for item in kept.reversed() { q.append(item) }
        queues[DedupIndex.restoredWindow] = q
        nextExpiryMs = min(nextExpiryMs, kept[kept.count - 1].expiresMs)
    }

    /// Drops every entry whose window ended at `now`.
    mutating func expire(now: Int64) {
        guard now >= nextExpiryMs else { return }
        var next = Int64.max
        for key in Array(queues.keys) {
            guard var q = queues.removeValue(forKey: key) else { continue }
            while let front = q.front, front.expiresMs <= now {
                live.remove(front.hash)
                q.removeFront()
            }
            if let front = q.front {
                next = min(next, front.expiresMs)
                queues[key] = q
            }
        }
        nextExpiryMs = next
    }
}

/// A FIFO of dedup items in fixed-size chunks: memory follows the count (no doubling slack, no
/// copy of the whole queue when it grows) and popping the front is O(1).
struct ExpiryQueue {
    static let chunkSize = 4096
    private var chunks: [[DedupIndex.Item]] = []
    private var head = 0

    var front: DedupIndex.Item? { chunks.first.map { $0[head] } }

    mutating func append(_ item: DedupIndex.Item) {
        if chunks.isEmpty || chunks[chunks.count - 1].count == ExpiryQueue.chunkSize {
            var c: [DedupIndex.Item] = []
            c.reserveCapacity(ExpiryQueue.chunkSize)
            chunks.append(c)
        }
        chunks[chunks.count - 1].append(item)
    }

    mutating func removeFront() {
        guard !chunks.isEmpty else { return }
        head += 1
        if head == chunks[0].count {
            chunks.removeFirst()
            head = 0
        }
    }
}
