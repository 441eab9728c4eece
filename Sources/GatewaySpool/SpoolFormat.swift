import GatewayCore

// The spool: how accepted notifications survive until every route has them.
//
// Design constraints
// - A notification is acknowledged only after its record is on disk and synced (fdatasync of the
//   segment; fsync of the directory when a segment file is created). Requests arriving together
//   share one sync ("group commit").
// - Every record carries a CRC-32C: a torn or corrupt record is detected, reported and skipped.
//   The tail of the newest segment is where a crash tears a write; such a record was never
//   acknowledged (its sync had not returned), so nothing acknowledged is lost by dropping it.
// - Delivery progress (retries, outcomes) is appended to the same log, without waiting for a sync:
//   losing the last of these in a crash means a delivery is made again (at least once), never
//   that one is skipped.
// - Segments are deleted whole, once every delivery of every notification they hold has ended.
// - One gateway per spool directory (an flock on `LOCK`); files are created 0600, the directory
//   is 0700.
//
// Layout of `spool.dir`
//   LOCK                         flock'ed by the running gateway
//   ID                           the spool's id (8 hex), the first part of every delivery ID
//   NEXTID                       decimal: no record id below it may be handed out again; saved
//                                by compaction before it deletes segments (their ids would
//                                otherwise be reused once the segments with the highest are gone)
//   segments/<16 hex>.seg        the log; segments are numbered in the order they were created
//   dedup.idx                    de-duplication entries of deleted segments (DedupJournal.swift)
//   deadletters/<id>.json        one dead letter per file (list, replay, purge work on these)
//   replay/<id>.json             dead letters queued for replay (picked up by the gateway)
//   damaged/<segment>.<offset>.tail  bytes cut off a torn segment tail at start (never acknowledged)
//
// Segment file (format version 2; version 1 segments are still read)
//   header   "GWSPOOL\0" (8 bytes) | u32 version = 2 | u32 reserved = 0
//   record   u32 length of (type + payload) | u32 CRC-32C of (type + payload) | u8 type | payload
//   All integers little-endian. Strings and byte arrays: u32 length, then the bytes.
//
// Record types
//   1 accepted  u64 id | i64 received (ms since epoch) | str source | str msgID | str eventCode |
//               16 bytes dedup hash | i64 dedup expiry (ms) | u16 route count | str route... |
//               u16 header count | (str name | str value)... | bytes body
//               (version 1: no header count and headers)
//   2 outcome   u64 id | str route | u8 outcome (1 delivered, 2 dropped, 3 dead letter) | u32 attempts
//   3 retry     u64 id | str route | u32 attempts | i64 next attempt (ms) | u32 handler index |
//               u8 has body | [bytes body]   (the input of that handler, when an earlier one changed it)

enum SpoolFormat {
    static let magic: [UInt8] = Array("GWSPOOL\0".utf8)
    /// The version written. Readers accept `oldestReadable...version`.
    static let version: UInt32 = 2
    static let oldestReadable: UInt32 = 1
    static let headerSize = 16
    static let recordHeaderSize = 8
    /// Records larger than this are refused on read (a corrupt length must not allocate gigabytes).
    static let maxRecordSize = 64 << 20

    /// A segment's file name: its number in 16 hex digits, so names sort in log order.
    static func segmentName(number: UInt64) -> String {
        String(format: "%016llx.seg", number)
    }

    static func segmentNumber(_ name: String) -> UInt64? {
        guard name.hasSuffix(".seg"), name.utf8.count == 20 else { return nil }
        return UInt64(name.dropLast(4), radix: 16)
    }

    static var header: [UInt8] {
        var w = ByteWriter()
        w.bytes.append(contentsOf: magic)
        w.u32(version)
        w.u32(0)
        return w.bytes
    }
}

/// What the log holds.
public enum SpoolRecord: Sendable, Equatable {
    case accepted(AcceptedRecord)
    case outcome(id: UInt64, route: String, outcome: Outcome, attempts: UInt32)
    case retry(RetryRecord)

    public enum Outcome: UInt8, Sendable {
        case delivered = 1
        case dropped = 2
        case dead = 3
    }

    static let acceptedType: UInt8 = 1
    static let outcomeType: UInt8 = 2
    static let retryType: UInt8 = 3
}

public struct AcceptedRecord: Sendable, Equatable {
    public var id: UInt64
    public var receivedMs: Int64
    public var source: String
    public var msgID: String
    public var eventCode: String
    /// Identifies the notification for de-duplication (a digest of source and raw body).
    public var dedupHash: [UInt8]
    /// When the de-duplication window of this notification ends (ms since epoch).
    public var dedupExpiresMs: Int64
    /// The routes it was accepted for.
    public var routes: [String]
    /// The provider's headers kept with it (none in version-1 segments).
    public var headers: [KeptHeader]
    public var body: [UInt8]

    public init(
        id: UInt64, receivedMs: Int64, source: String, msgID: String, eventCode: String, dedupHash: [UInt8],
        dedupExpiresMs: Int64, routes: [String], headers: [KeptHeader] = [], body: [UInt8]
    ) {
        self.id = id
        self.receivedMs = receivedMs
        self.source = source
        self.msgID = msgID
        self.eventCode = eventCode
        self.dedupHash = dedupHash
        self.dedupExpiresMs = dedupExpiresMs
        self.routes = routes
        self.headers = headers
        self.body = body
    }
}

public struct RetryRecord: Sendable, Equatable {
    public var id: UInt64
    public var route: String
    public var attempts: UInt32
    public var nextAttemptMs: Int64
    public var handlerIndex: UInt32
    public var body: [UInt8]?

    public init(id: UInt64, route: String, attempts: UInt32, nextAttemptMs: Int64, handlerIndex: UInt32, body: [UInt8]?) {
        self.id = id
        self.route = route
        self.attempts = attempts
        self.nextAttemptMs = nextAttemptMs
        self.handlerIndex = handlerIndex
        self.body = body
    }
}

// MARK: - Encoding

/// Little-endian fields into a buffer sized exactly beforehand (`encodeAccepted`).
struct ScratchWriter {
    let buffer: UnsafeMutableRawBufferPointer
    var at: Int

    init(_ buffer: UnsafeMutableRawBufferPointer, at: Int) {
        self.buffer = buffer
        self.at = at
    }

    mutating func u8(_ v: UInt8) {
        buffer.storeBytes(of: v, toByteOffset: at, as: UInt8.self)
        at += 1
    }
    mutating func u16(_ v: UInt16) {
        buffer.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt16.self)
        at += 2
    }
    mutating func u32(_ v: UInt32) {
        buffer.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt32.self)
        at += 4
    }
    mutating func u64(_ v: UInt64) {
        buffer.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt64.self)
        at += 8
    }
    mutating func raw(_ src: UnsafeRawBufferPointer) {
        if let s = src.baseAddress, let d = buffer.baseAddress, src.count > 0 { (d + at).copyMemory(from: s, byteCount: src.count) }
        at += src.count
    }
    mutating func zeros(_ n: Int) {
        if n > 0, let d = buffer.baseAddress { (d + at).initializeMemory(as: UInt8.self, repeating: 0, count: n) }
        at += max(0, n)
    }
    /// A string's UTF-8 bytes with their length.
    mutating func str(_ s: String) {
        s.withUTF8Bytes { u in
            u32(UInt32(u.count))
            raw(UnsafeRawBufferPointer(u))
        }
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func data(_ d: [UInt8]) {
        u32(UInt32(d.count))
        bytes.append(contentsOf: d)
    }
    /// A string's UTF-8 bytes with their length (no intermediate array).
    mutating func str(_ s: String) {
        s.withUTF8Bytes { u in
            u32(UInt32(u.count))
            bytes.append(contentsOf: u)
        }
    }
}

extension SpoolRecord {
    /// The framed record: length, CRC, type, payload.
    ///
    /// Written into one buffer sized up front: the length and CRC are filled in once the payload
    /// is there (before, the payload was built in a growing array and then copied behind them).
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        encode(into: &bytes)
        return bytes
    }

    /// Appends the framed record to `bytes`. The spool encodes straight into its queue's one
    /// buffer: no array per record, so nothing a loop thread allocated for a record is freed
    /// by the thread that commits it (in glibc a cross-thread free of a large block takes the
    /// allocating thread's arena lock, which that thread contends for on its own next malloc).
    public func encode(into bytes: inout [UInt8]) {
        switch self {
        case .accepted(let a):
            Self.encodeAccepted(
                id: a.id, receivedMs: a.receivedMs, source: a.source, msgID: a.msgID, eventCode: a.eventCode, dedupHash: a.dedupHash,
                dedupExpiresMs: a.dedupExpiresMs, routes: a.routes, headers: a.headers, body: a.body, into: &bytes)
        case .outcome(let id, let route, let outcome, let attempts):
            Self.encodeOutcome(id: id, route: route, outcome: outcome, attempts: attempts, into: &bytes)
        case .retry(let r):
            Self.frame(into: &bytes, estimatedSize: 48 + r.route.utf8.count + (r.body?.count ?? 0)) { p in
                p.u8(SpoolRecord.retryType)
                p.u64(r.id)
                p.str(r.route)
                p.u32(r.attempts)
                p.i64(r.nextAttemptMs)
                p.u32(r.handlerIndex)
                if let b = r.body {
                    p.u8(1)
                    p.data(b)
                } else {
                    p.u8(0)
                }
            }
        }
    }

    /// Appends length, CRC and the payload `write` produces to `bytes`. `estimatedSize` (an
    /// upper bound of the framed size) makes it one allocation for the record; geometric growth
    /// keeps a buffer of many from being copied once per record.
    private static func frame(into bytes: inout [UInt8], estimatedSize: Int, _ write: (inout ByteWriter) -> Void) {
        let start = bytes.count
        var p = ByteWriter()
        swap(&p.bytes, &bytes)
        defer { swap(&p.bytes, &bytes) }
        let needed = start + estimatedSize
        if p.bytes.capacity < needed { p.bytes.reserveCapacity(Swift.max(needed, 2 * p.bytes.capacity)) }
        p.u32(0)  // length, then CRC: filled in below
        p.u32(0)
        write(&p)
        seal(&p.bytes, recordAt: start)
    }

    /// Fills in the length and CRC of the record that starts at `start` and runs to the end of
    /// `bytes` (its first 8 bytes are their place).
    private static func seal(_ bytes: inout [UInt8], recordAt start: Int) {
        let length = UInt32(bytes.count - start - 8)
        bytes.withUnsafeMutableBytes { b in
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[(start + 8)...]))
            b.storeBytes(of: length.littleEndian, toByteOffset: start, as: UInt32.self)
            b.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
        }
    }

    /// An accepted record from its fields. The spool stores each notification through this,
    /// from the values it was given: building an `AcceptedRecord` to encode retained its strings
    /// and arrays into the struct and released them after, a dozen atomic operations per
    /// notification for a value nothing else reads.
    static func encodeAccepted(
        id: UInt64, receivedMs: Int64, source: String, msgID: String, eventCode: String, dedupHash: [UInt8], dedupExpiresMs: Int64,
        routes: [String], headers: [KeptHeader], body: [UInt8], into bytes: inout [UInt8]
    ) {
        // Everything but the body's bytes is framed in a scratch buffer and appended whole, then
        // the body, then the length and CRC are filled in: written field by field, some 25
        // appends to the queue's array (each with its capacity and uniqueness checks) cost about
        // 2,000 instructions per notification (`anAcceptedRecordsFrameIsTheDocumentedOne` pins the
        // frame).
        let routeCount = min(routes.count, Int(UInt16.max))
        let headerCount = min(headers.count, Int(UInt16.max))
        var fixed = 8 + 1 + 8 + 8 + 12 + source.utf8.count + msgID.utf8.count + eventCode.utf8.count + 16 + 8 + 2 + 2 + 4
        for r in routes.prefix(routeCount) { fixed += 4 + r.utf8.count }
        for h in headers.prefix(headerCount) { fixed += 8 + h.name.utf8.count + h.value.utf8.count }
        let start = bytes.count
        let needed = start + fixed + body.count
        if bytes.capacity < needed { bytes.reserveCapacity(Swift.max(needed, 2 * bytes.capacity)) }
        appendHead(into: &bytes, size: fixed) { w in
            w.u8(SpoolRecord.acceptedType)
            w.u64(id)
            w.u64(UInt64(bitPattern: receivedMs))
            w.str(source)
            w.str(msgID)
            w.str(eventCode)
            // Always 16 bytes: the first 16 of the hash, zeros after a shorter one (none when
            // the source has no window), without a padded copy.
            let hashBytes = min(16, dedupHash.count)
            dedupHash.withUnsafeBytes { w.raw(UnsafeRawBufferPointer(rebasing: $0[..<hashBytes])) }
            w.zeros(16 - hashBytes)
            w.u64(UInt64(bitPattern: dedupExpiresMs))
            w.u16(UInt16(routeCount))
            for r in routes.prefix(routeCount) { w.str(r) }
            w.u16(UInt16(headerCount))
            for h in headers.prefix(headerCount) {
                w.str(h.name)
                w.str(h.value)
            }
            w.u32(UInt32(body.count))
        }
        bytes.append(contentsOf: body)
        seal(&bytes, recordAt: start)
    }

    /// An outcome record (one per delivery, 30-odd bytes) is framed in a scratch buffer on the
    /// stack and appended whole: field by field, seven appends to the queue's array cost more
    /// than the rest of recording an outcome (`anOutcomeRecordsFrameIsTheDocumentedOne` pins the
    /// frame).
    private static func encodeOutcome(id: UInt64, route: String, outcome: Outcome, attempts: UInt32, into bytes: inout [UInt8]) {
        // length u32, CRC u32 | type u8, id u64, route (u32 length, bytes), outcome u8, attempts u32
        let size = 26 + route.utf8.count
        let start = bytes.count
        appendHead(into: &bytes, size: size) { w in
            w.u8(outcomeType)
            w.u64(id)
            w.str(route)
            w.u8(outcome.rawValue)
            w.u32(attempts)
        }
        seal(&bytes, recordAt: start)
    }

    /// Appends `size` bytes that `write` fills after the 8 of the length and CRC (zeros until
    /// `seal`), framed in a scratch buffer on the stack and appended whole.
    private static func appendHead(into bytes: inout [UInt8], size: Int, _ write: (inout ScratchWriter) -> Void) {
        withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { b in
            b.storeBytes(of: UInt64(0), toByteOffset: 0, as: UInt64.self)
            var w = ScratchWriter(b, at: 8)
            write(&w)
            assert(w.at == size, "a record's fields must fill the scratch buffer exactly")
            bytes.append(contentsOf: UnsafeRawBufferPointer(b))
        }
    }
}

// MARK: - Decoding

struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset: Int

    mutating func take(_ n: Int) -> UnsafeRawBufferPointer? {
        guard n >= 0, offset + n <= bytes.count else { return nil }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }
    mutating func u8() -> UInt8? { take(1).map { $0[0] } }
    mutating func u16() -> UInt16? { take(2).map { UInt16(littleEndian: $0.loadUnaligned(as: UInt16.self)) } }
    mutating func u32() -> UInt32? { take(4).map { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) } }
    mutating func u64() -> UInt64? { take(8).map { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } }
    mutating func i64() -> Int64? { u64().map { Int64(bitPattern: $0) } }
    mutating func data() -> [UInt8]? {
        guard let n = u32(), let b = take(Int(n)) else { return nil }
        return Array(b)
    }
    /// Skips a length-prefixed field; false when it does not fit.
    mutating func skipData() -> Bool {
        guard let n = u32() else { return false }
        return take(Int(n)) != nil
    }
    mutating func str() -> String? {
        guard let d = data() else { return nil }
        return UTF8Validation.string(d)
    }
}

/// Why reading stopped before the end of a segment.
public enum SegmentDamage: Sendable, Equatable, CustomStringConvertible {
    /// The file ends inside a record (a write torn by a crash).
    case truncated(offset: Int)
    /// A record's checksum or content is wrong.
    case corrupt(offset: Int)
    /// Not a spool segment, or a newer format.
    case badHeader
    /// The file could not be read at all.
    case unreadable

    public var description: String {
        switch self {
        case .truncated(let o): "truncated record at byte \(o)"
        case .corrupt(let o): "corrupt record at byte \(o)"
        case .badHeader: "not a spool segment, or one of a newer format version"
        case .unreadable: "cannot be read"
        }
    }
}

/// Parses a segment's bytes (I/O-free). Returns the records up to the first damage, the damage
/// (if any) and the offset where the good part ends (where a torn tail is cut off).
public func decodeSegment(_ bytes: [UInt8]) -> (records: [SpoolRecord], damage: SegmentDamage?, validLength: Int) {
    bytes.withUnsafeBytes { decodeSegment($0) }
}

public func decodeSegment(_ raw: UnsafeRawBufferPointer) -> (records: [SpoolRecord], damage: SegmentDamage?, validLength: Int) {
    var records: [SpoolRecord] = []
    let (damage, valid) = walkSegment(raw) { payload, version in
        guard let record = decodeRecord(payload, version: version) else { return false }
        records.append(record)
        return true
    }
    return (records, damage, valid)
}

/// The de-duplication entries of a segment's accepted records, without decoding the rest
/// (compaction moves them to `dedup.idx` before it deletes the segment).
func dedupItems(inSegment bytes: UnsafeRawBufferPointer) -> [DedupIndex.Item] {
    var items: [DedupIndex.Item] = []
    _ = walkSegment(bytes) { payload, _ in
        // The fields up to the expiry are the same in every version.
        var r = ByteReader(bytes: payload, offset: 0)
        guard r.u8() == SpoolRecord.acceptedType else { return true }
        guard r.u64() != nil, r.i64() != nil, r.skipData(), r.skipData(), r.skipData(),
            let hash = r.take(16).map(Array.init), let expires = r.i64()
        else { return false }
        items.append(DedupIndex.Item(hash: DedupIndex.Hash(hash), expiresMs: expires))
        return true
    }
    return items
}

/// Walks a segment's records, checking framing and checksums; `visit` gets each payload (and
/// the segment's format version) and returns false when it cannot decode it (that is damage
/// too). Returns the first damage and where the good part ends.
func walkSegment(
    _ raw: UnsafeRawBufferPointer, _ visit: (UnsafeRawBufferPointer, UInt32) -> Bool
) -> (damage: SegmentDamage?, validLength: Int) {
    guard raw.count >= SpoolFormat.headerSize, Array(raw[0..<8]) == SpoolFormat.magic else { return (.badHeader, 0) }
    let version = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
    guard (SpoolFormat.oldestReadable...SpoolFormat.version).contains(version) else { return (.badHeader, 0) }
    var offset = SpoolFormat.headerSize
    while offset < raw.count {
        guard raw.count - offset >= SpoolFormat.recordHeaderSize else { return (.truncated(offset: offset), offset) }
        let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        let crc = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
        guard length >= 1, length <= SpoolFormat.maxRecordSize else { return (.corrupt(offset: offset), offset) }
        let start = offset + SpoolFormat.recordHeaderSize
        guard start + length <= raw.count else { return (.truncated(offset: offset), offset) }
        let payload = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
        guard CRC32C.checksum(payload) == crc, visit(payload, version) else { return (.corrupt(offset: offset), offset) }
        offset = start + length
    }
    return (nil, offset)
}

func decodeRecord(_ payload: UnsafeRawBufferPointer, version: UInt32 = SpoolFormat.version) -> SpoolRecord? {
    var r = ByteReader(bytes: payload, offset: 0)
    guard let type = r.u8() else { return nil }
    let record: SpoolRecord?
    switch type {
    case SpoolRecord.acceptedType:
        guard let id = r.u64(), let received = r.i64(), let source = r.str(), let msgID = r.str(), let code = r.str(),
            let hash = r.take(16).map(Array.init), let expires = r.i64(), let n = r.u16()
        else { return nil }
        var routes: [String] = []
        for _ in 0..<n {
            guard let route = r.str() else { return nil }
            routes.append(route)
        }
        var headers: [KeptHeader] = []
        if version >= 2 {
            guard let count = r.u16() else { return nil }
            for _ in 0..<count {
                guard let name = r.str(), let value = r.str() else { return nil }
                headers.append(KeptHeader(name, value))
            }
        }
        guard let body = r.data() else { return nil }
        record = .accepted(
            AcceptedRecord(
                id: id, receivedMs: received, source: source, msgID: msgID, eventCode: code, dedupHash: hash,
                dedupExpiresMs: expires, routes: routes, headers: headers, body: body))
    case SpoolRecord.outcomeType:
        guard let id = r.u64(), let route = r.str(), let o = r.u8().flatMap(SpoolRecord.Outcome.init), let attempts = r.u32()
        else { return nil }
        record = .outcome(id: id, route: route, outcome: o, attempts: attempts)
    case SpoolRecord.retryType:
        guard let id = r.u64(), let route = r.str(), let attempts = r.u32(), let next = r.i64(), let handler = r.u32(),
            let hasBody = r.u8()
        else { return nil }
        var body: [UInt8]? = nil
        if hasBody == 1 {
            guard let b = r.data() else { return nil }
            body = b
        }
        record = .retry(RetryRecord(id: id, route: route, attempts: attempts, nextAttemptMs: next, handlerIndex: handler, body: body))
    default:
        return nil
    }
    // Trailing bytes inside a checksummed record mean a format mismatch: refuse it.
    return r.offset == payload.count ? record : nil
}
