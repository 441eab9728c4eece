import GatewayCore
import Glibc

/// `dedup.idx`: the de-duplication entries of notifications whose segments were deleted.
///
/// A segment's accepted records carry their dedup digest and expiry, so while a segment exists
/// its entries need no other copy. Compaction deletes delivered segments; before it does, it
/// appends their entries that are still in their window here and syncs. Appending only what
/// leaves keeps the cost proportional to the traffic (a full snapshot per compaction is
/// proportional to the whole window: tens of megabytes per segment at a million entries). When
/// most of the file has expired it is rewritten, atomically, with what is left.
///
/// Format (version 2)
///   header  "GWDEDUP\0" (8 bytes) | u32 version = 2 | u32 reserved = 0
///   entry   16 bytes digest | i64 expiry (ms since epoch) | u32 CRC-32C of the 24 bytes before it
///   A damaged entry is skipped (its notification may then be delivered twice, never lost); a
///   torn tail is cut when the file is opened. Little-endian.
/// Version 1 (a snapshot: "GWDEDUP1" | u32 count | count x (digest | i64 expiry)) is still read.
enum DedupJournalFormat {
    static let magic: [UInt8] = Array("GWDEDUP\0".utf8)
    static let magicV1: [UInt8] = Array("GWDEDUP1".utf8)
    static let version: UInt32 = 2
    static let headerSize = 16
    static let entrySize = 28

    static var header: [UInt8] {
        var w = ByteWriter()
        w.bytes.append(contentsOf: magic)
        w.u32(version)
        w.u32(0)
        return w.bytes
    }

    static func encode(_ items: [DedupIndex.Item]) -> [UInt8] {
        var w = ByteWriter()
        w.bytes.reserveCapacity(items.count * entrySize)
        for item in items {
            let start = w.bytes.count
            w.u64(item.hash.a)
            w.u64(item.hash.b)
            w.i64(item.expiresMs)
            let crc = w.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + 24)])) }
            w.u32(crc)
        }
        return w.bytes
    }

    struct Decoded: Equatable {
        var items: [DedupIndex.Item]
        /// Entries whose checksum failed (skipped).
        var damaged: Int
        /// Where the whole entries end: a shorter tail is torn.
        var validLength: Int
        /// The file is in an older format (rewrite it before appending).
        var isOldFormat: Bool
    }

    /// Parses a dedup file (I/O-free); nil when it is not one.
    static func decode(_ bytes: [UInt8]) -> Decoded? {
        bytes.withUnsafeBytes { decode($0) }
    }

    static func decode(_ raw: UnsafeRawBufferPointer) -> Decoded? {
        guard raw.count >= 12 else { return nil }
        if Array(raw[0..<8]) == magicV1 { return decodeV1(raw) }
        guard raw.count >= headerSize, Array(raw[0..<8]) == magic,
            UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) == version
        else { return nil }
        var items: [DedupIndex.Item] = []
        items.reserveCapacity((raw.count - headerSize) / entrySize)
        var damaged = 0
        var offset = headerSize
        while offset + entrySize <= raw.count {
            let entry = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + 24)])
            let crc = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 24, as: UInt32.self))
            if CRC32C.checksum(entry) == crc {
                let a = UInt64(littleEndian: entry.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
                let b = UInt64(littleEndian: entry.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                let exp = Int64(bitPattern: UInt64(littleEndian: entry.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
                items.append(DedupIndex.Item(hash: DedupIndex.Hash(a: a, b: b), expiresMs: exp))
            } else {
                damaged += 1
            }
            offset += entrySize
        }
        return Decoded(items: items, damaged: damaged, validLength: offset, isOldFormat: false)
    }

    private static func decodeV1(_ raw: UnsafeRawBufferPointer) -> Decoded? {
        var r = ByteReader(bytes: raw, offset: 8)
        guard let n = r.u32(), raw.count == 12 + Int(n) * 24 else { return nil }
        var items: [DedupIndex.Item] = []
        for _ in 0..<n {
            guard let h = r.take(16).map(Array.init), let exp = r.i64() else { return nil }
            items.append(DedupIndex.Item(hash: DedupIndex.Hash(h), expiresMs: exp))
        }
        return Decoded(items: items, damaged: 0, validLength: raw.count, isOldFormat: true)
    }
}

/// The open `dedup.idx`, used by one thread at a time (opening, then the compactor).
final class DedupJournal {
    let path: String
    private var fd: Int32 = -1
    /// Bytes in the file (header included).
    private(set) var size = 0

    init(path: String) {
        self.path = path
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Reads what the file holds and leaves it ready for appending: a torn tail is cut, an
    /// unreadable or old-format file is rewritten. Returns the entries and how many were damaged.
    func open(now: Int64) throws(SpoolError) -> (items: [DedupIndex.Item], damaged: Int, unreadable: Bool) {
        var st = stat()
        if stat(path, &st) != 0 && errno == ENOENT {
            try rewrite([])
            return ([], 0, false)
        }
        guard let bytes = SpoolFiles.readFile(path), let d = DedupJournalFormat.decode(bytes) else {
            // Unreadable or not a dedup file: keep it aside for a human and start a fresh one
            // (its notifications may be delivered again if the provider resends them; none is lost).
            rename(path, path + ".unreadable")
            try rewrite([])
            return ([], 0, true)
        }
        let live = d.items.filter { $0.expiresMs > now }
        if d.isOldFormat || d.damaged > 0 || live.count * 2 < d.items.count {
            try rewrite(live)
        } else {
            if d.validLength < bytes.count { truncate(path, off_t(d.validLength)) }
            try reopen()
            size = d.validLength
        }
        return (live, d.damaged, false)
    }

    /// Appends entries and syncs: once it returns, they survive a crash.
    func append(_ items: [DedupIndex.Item]) throws(SpoolError) {
        guard !items.isEmpty else { return }
        if fd < 0 { try reopen() }
        let bytes = DedupJournalFormat.encode(items)
        try SpoolFiles.writeAll(fd, bytes)
        try SpoolFiles.sync(fd)
        size += bytes.count
    }

    /// Replaces the file with `items` (atomically: temp file, sync, rename, directory sync).
    func rewrite(_ items: [DedupIndex.Item]) throws(SpoolError) {
        try SpoolFiles.writeAtomically(path, DedupJournalFormat.header + DedupJournalFormat.encode(items))
        try reopen()
        size = DedupJournalFormat.headerSize + items.count * DedupJournalFormat.entrySize
    }

    /// Rewrites the file without the entries that expired by `now`.
    func dropExpired(now: Int64) throws(SpoolError) {
        guard let decoded = SpoolFiles.withMappedFile(path, { DedupJournalFormat.decode($0) }), let d = decoded else {
            throw SpoolError("cannot read \(path) back")
        }
        try rewrite(d.items.filter { $0.expiresMs > now })
    }

    private func reopen() throws(SpoolError) {
        if fd >= 0 { close(fd) }
        fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw SpoolError.errno("open \(path)") }
    }
}
