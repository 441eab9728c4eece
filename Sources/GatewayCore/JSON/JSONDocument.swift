internal import CByteScan
import Glibc
/// A validated JSON document kept as its raw bytes plus a flat index ("tape") of its values.
///
/// Why: the ingress path must check every notification's JSON (syntax, UTF-8, depth, number
/// length, duplicate keys) but reads only a handful of fields. Building a tree of Swift strings
/// for a 2 KB body costs a hundred allocations; the tape costs one. Values are decoded only when
/// asked for, and `materialize()` builds the full `JSONValue` tree when a route needs to change
/// the document.
///
/// Tape layout: one `Node` per value in document order (an object's members are key, value, key,
/// value...). `next` is the index just past a node's subtree, so siblings are found by jumping.
public struct JSONDocument: Sendable {
    public enum Kind: UInt8, Sendable {
        case object, array, string, number, bool, null
    }

    struct Node: Sendable {
        var kind: Kind
        /// Strings: the content has escapes to decode. Bools: the value.
        var flag: Bool
        /// Byte range of the value (for strings, the content between the quotes).
        var start: Int32
        var end: Int32
        /// Index just past this node's subtree.
        var next: Int32
        /// Containers: number of elements (members for objects). Strings: number of Unicode
        /// scalars after unescaping (what length limits such as "metadata <= 512" count).
        var count: Int32
    }

    /// One reference-counted box for the bytes and the tape: a `JSONRef` is then one retain to
    /// copy. The tape is the parser's own buffer, owned here and freed with the box: copying it
    /// into an array cost an allocation and a copy of some 5 KB per notification, and every
    /// lookup through an array property retained and released the array.
    final class Storage: Sendable {
        let bytes: [UInt8]
        let nodes: Tape
        init(bytes: [UInt8], nodes: Tape) {
            self.bytes = bytes
            self.nodes = nodes
        }
        deinit { nodes.deallocate() }
    }

    /// The nodes of a tape, in memory the `Storage` holding them owns: a pointer and a count,
    /// copied without reference counting; reads check the index, as an array's do.
    struct Tape: @unchecked Sendable {
        // Unchecked: the nodes are written once, by the parser, before the tape is shared.
        private let base: UnsafeMutablePointer<Node>
        let count: Int

        /// Takes over `count` nodes at `base` (allocated with `UnsafeMutablePointer.allocate`).
        fileprivate init(adopting base: UnsafeMutablePointer<Node>, count: Int) {
            self.base = base
            self.count = count
        }

        @inline(__always)
        subscript(i: Int) -> Node {
            precondition(i >= 0 && i < count, "tape index out of range")
            return base[i]
        }

        func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Node>) throws(E) -> R) throws(E) -> R {
            try body(UnsafeBufferPointer(start: base, count: count))
        }

        /// Nodes are plain values: nothing to deinitialize.
        fileprivate func deallocate() { base.deallocate() }
    }

    let storage: Storage

    /// Bytes of `u` that continue a UTF-8 sequence (10xxxxxx), 8 at a time: one scalar starts
    /// at every other byte.
    static func continuationBytes(_ u: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = u.baseAddress else { return 0 }
        var count = 0
        var i = 0
        while i + 8 <= u.count {
            let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            count += (w & ~(w << 1) & SWAR.highs).nonzeroBitCount  // bit 7 set, bit 6 clear
            i += 8
        }
        while i < u.count {
            if base[i] & 0xC0 == 0x80 { count += 1 }
            i += 1
        }
        return count
    }
    public var bytes: [UInt8] { storage.bytes }
    var nodes: Tape { storage.nodes }

    init(bytes: [UInt8], nodes: Tape) {
        storage = Storage(bytes: bytes, nodes: nodes)
    }

    /// Parses and validates `bytes` under `limits` (same rules and errors as `JSONParser`).
    public static func parse(_ bytes: [UInt8], limits: JSONParser.Limits = JSONParser.Limits()) throws(JSONParser.ParseError) -> JSONDocument {
        // Offsets and node indices are kept as Int32 (a node is 20 bytes): a larger text is
        // refused here, so that every conversion while parsing is exact without a check.
        guard bytes.count < Int(Int32.max) else { throw JSONParser.ParseError(reason: "JSON text larger than 2 GiB", offset: 0) }
        let nodes = try bytes.withUnsafeBufferPointer { buf throws(JSONParser.ParseError) -> Tape in
            var t = TapeBuilder(bytes: buf, limits: limits)
            do throws(JSONParser.ParseError) {
                t.skipWhitespace()
                try t.parseValue(depth: 0)
                t.skipWhitespace()
                if t.index != buf.count { throw t.fail("unexpected data after the JSON value") }
            } catch {
                t.nodes.deallocate()
                throw error
            }
            return t.nodes.tape()
        }
        return JSONDocument(bytes: bytes, nodes: nodes)
    }

    /// The top-level value.
    public var root: JSONRef { JSONRef(storage: storage, index: 0) }
}

/// A value inside a `JSONDocument`.
public struct JSONRef: Sendable {
    let storage: JSONDocument.Storage
    let index: Int

    init(storage: JSONDocument.Storage, index: Int) {
        self.storage = storage
        self.index = index
    }

    var document: JSONDocument.Storage { storage }
    /// The document this value belongs to.
    public var owner: JSONDocument { JSONDocument(storage: storage) }

    var node: JSONDocument.Node { storage.nodes[index] }

    public var kind: JSONDocument.Kind { node.kind }

    /// Member lookup for objects (keys compared after unescaping).
    public subscript(key: String) -> JSONRef? {
        let n = node
        guard n.kind == .object else { return nil }
        var i = index + 1
        let end = Int(n.next)
        let s = storage
        let nodes = s.nodes
        let found = key.withUTF8Bytes { keyBytes -> Int? in
            while i < end {
                if s.keyEquals(nodes[i], keyBytes) { return i + 1 }
                i = Int(nodes[i + 1].next)
            }
            return nil
        }
        return found.map { JSONRef(storage: s, index: $0) }
    }

    /// Element lookup for arrays.
    public subscript(position: Int) -> JSONRef? {
        let n = node
        guard n.kind == .array, position >= 0, position < Int(n.count) else { return nil }
        var i = index + 1
        for _ in 0..<position { i = Int(document.nodes[i].next) }
        return JSONRef(storage: storage, index: i)
    }

    /// The value at a dotted path (object keys; digit segments also index arrays).
    public subscript(path path: JSONPath) -> JSONRef? {
        var current: JSONRef? = self
        for seg in path.segments {
            guard let c = current else { return nil }
            switch c.kind {
            case .object: current = c[seg]
            case .array: current = Int(seg).flatMap { c[$0] }
            default: return nil
            }
        }
        return current
    }

    /// The decoded string, when this is a JSON string.
    public var stringValue: String? {
        let n = node
        guard n.kind == .string else { return nil }
        return document.decodeString(n)
    }

    /// `scalarText` as UTF-8 bytes, written into a buffer from `allocate(capacity)` (capacity is
    /// enough), without building a String: nil for objects, arrays and null. For handing values
    /// to plugins, which take bytes: the content was validated when parsed.
    public func copyScalarText(_ allocate: (Int) -> UnsafeMutableBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        document.copyScalarText(node, allocate)
    }

    /// `body` over the value's source bytes when they are its `scalarText` and all ASCII: a
    /// number, or a string without escapes whose scalars are one byte each (its scalar count,
    /// taken while parsing, equals its length). Nil otherwise, `body` not called. Against an
    /// ASCII operand these bytes compare as the Strings would: ASCII has no canonical
    /// equivalents, and such a string holds no CR (JSON escapes control characters), so no CR LF
    /// pair is one Character. Conditions read values this way without making a String of them.
    public func withPlainASCIIText<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        let n = node
        switch n.kind {
        case .number: break
        case .string: guard !n.flag, Int(n.count) == Int(n.end &- n.start) else { return nil }
        default: return nil
        }
        return storage.bytes.withUnsafeBufferPointer { b in body(UnsafeBufferPointer(rebasing: b[Int(n.start)..<Int(n.end)])) }
    }

    /// Scalar text as `JSONValue.scalarText` defines it.
    public var scalarText: String? {
        let n = node
        switch n.kind {
        case .string: return document.decodeString(n)
        case .number: return document.text(n)
        case .bool: return n.flag ? "true" : "false"
        default: return nil
        }
    }

    /// For strings: the number of Unicode scalars after unescaping, counted without decoding.
    /// (Length limits such as "metadata <= 512 characters" use this.)
    public var scalarCount: Int? {
        let n = node
        guard n.kind == .string else { return nil }
        return Int(n.count)  // counted while parsing (see `TapeBuilder.parseString`)
    }

    /// Number of members or elements (0 for scalars).
    public var count: Int {
        let n = node
        return n.kind == .object || n.kind == .array ? Int(n.count) : 0
    }

    /// Calls `body` with each member of an object, in document order, keys unescaped (nothing
    /// for other kinds).
    public func forEachMember(_ body: (String, JSONRef) throws -> Void) rethrows {
        let n = node
        guard n.kind == .object else { return }
        var i = index + 1
        let end = Int(n.next)
        while i < end {
            try body(document.decodeString(document.nodes[i]), JSONRef(storage: storage, index: i + 1))
            i = Int(document.nodes[i + 1].next)
        }
    }

    /// The scalar (or null) at `key` read as a dotted path whose member names may hold dots
    /// themselves: `a.b.c` is member `a` then `b.c`, or `a.b` then `c`, or a member named
    /// `a.b.c`; a segment of digits written without a leading zero indexes an array. Where
    /// several readings lead to a scalar or null, the last in document order wins; objects and
    /// arrays are never the answer. (The metadata filter's keys: people write them over
    /// merchants' data, where `{"a.b":1}` and `{"a":{"b":1}}` both occur.)
    ///
    /// Why here, on the tape: walked through `JSONRef`s and a closure, each member passed cost
    /// a retain and a release of the document, some 40% of the filter's call.
    public func scalar(atDottedKey key: UnsafeBufferPointer<UInt8>) -> JSONRef? {
        let s = storage
        let found = s.bytes.withUnsafeBufferPointer { b in
            s.nodes.withUnsafeBufferPointer { nodes in JSONRef.dotted(index, key, b, nodes, s) }
        }
        return found.map { JSONRef(storage: s, index: $0) }
    }

    private static func dotted(
        _ i: Int, _ key: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>,
        _ nodes: UnsafeBufferPointer<JSONDocument.Node>, _ s: JSONDocument.Storage
    ) -> Int? {
        var found: Int? = nil
        /// The member or element `v` under a name of `length` bytes that begins `key`.
        func visit(_ length: Int, _ v: Int) {
            if length == key.count {
                switch nodes[v].kind {
                case .object, .array: break
                default: found = v
                }
            } else if key[length] == UInt8(ascii: "."), length + 1 < key.count {
                if let r = dotted(v, UnsafeBufferPointer(rebasing: key[(length + 1)...]), b, nodes, s) { found = r }
            }
        }
        let n = nodes[i]
        switch n.kind {
        case .object:
            var k = i + 1
            for _ in 0..<Int(n.count) {
                let name = nodes[k]
                let length = Int(name.end &- name.start)
                if name.flag {
                    let decoded = s.unescaped(name)
                    if decoded.count <= key.count && decoded.withUnsafeBufferPointer({ ByteSearch.hasPrefix(key, $0) }) { visit(decoded.count, k + 1) }
                } else if length <= key.count && ByteSearch.hasPrefix(key, UnsafeBufferPointer(rebasing: b[Int(name.start)..<Int(name.end)])) {
                    visit(length, k + 1)
                }
                k = Int(nodes[k + 1].next)
            }
        case .array:
            // Only the element whose index, written in decimal, is the key's first segment.
            var digits = 0
            var position = 0
            while digits < key.count, key[digits] != UInt8(ascii: "."), digits < 10 {
                let d = key[digits] &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                position = position * 10 + Int(d)
                digits += 1
            }
            guard digits > 0, digits == key.count || key[digits] == UInt8(ascii: "."),
                digits == 1 || key[0] != UInt8(ascii: "0"), position < Int(n.count)
            else { return nil }
            var e = i + 1
            for _ in 0..<position { e = Int(nodes[e].next) }
            visit(digits, e)
        default:
            break
        }
        return found
    }

    /// Calls `body` with each element of an array, in order (nothing for other kinds).
    public func forEachElement(_ body: (JSONRef) throws -> Void) rethrows {
        let n = node
        guard n.kind == .array else { return }
        var i = index + 1
        for _ in 0..<Int(n.count) {
            try body(JSONRef(storage: storage, index: i))
            i = Int(document.nodes[i].next)
        }
    }

    /// Builds the full tree for this value.
    public func materialize() -> JSONValue {
        var i = index
        return document.materialize(&i)
    }
}

extension JSONDocument {
    init(storage: Storage) {
        self.storage = storage
    }
}

extension JSONDocument.Storage {
    typealias Node = JSONDocument.Node

    func text(_ n: Node) -> String {
        bytes.withUnsafeBufferPointer { b in
            String(decoding: UnsafeBufferPointer(rebasing: b[Int(n.start)..<Int(n.end)]), as: UTF8.self)
        }
    }

    /// Decodes a string node (content validated during parsing).
    func decodeString(_ n: Node) -> String {
        bytes.withUnsafeBufferPointer { Self.decodeString(n, in: $0) }
    }

    /// The same over the document's bytes already borrowed (`SplicedEdits` holds them for a
    /// whole application of a route's transforms).
    static func decodeString(_ n: Node, in b: UnsafeBufferPointer<UInt8>) -> String {
        let (start, end) = (Int(n.start), Int(n.end))
        if !n.flag { return String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self) }
        return String(unsafeUninitializedCapacity: max(1, end - start)) { out in unescape(b, start, end, into: out) }
    }

    func copyScalarText(_ n: Node, _ allocate: (Int) -> UnsafeMutableBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        switch n.kind {
        case .string, .number:
            let (start, end) = (Int(n.start), Int(n.end))
            let out = allocate(max(1, end - start))
            let count = bytes.withUnsafeBufferPointer { b -> Int in
                if n.kind == .string && n.flag { return JSONDocument.Storage.unescape(b, start, end, into: out) }
                guard let src = b.baseAddress, let dst = out.baseAddress, end > start else { return 0 }
                dst.update(from: src + start, count: end - start)
                return end - start
            }
            return UnsafeBufferPointer(start: out.baseAddress, count: count)
        case .bool:
            let text: StaticString = n.flag ? "true" : "false"
            let out = allocate(text.utf8CodeUnitCount)
            guard let dst = out.baseAddress else { return nil }
            dst.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
            return UnsafeBufferPointer(start: dst, count: text.utf8CodeUnitCount)
        default:
            return nil
        }
    }

    func unescaped(_ n: Node) -> [UInt8] {
        bytes.withUnsafeBufferPointer { JSONDocument.Storage.unescape($0, Int(n.start), Int(n.end)) }
    }

    /// Decodes the escapes of an already validated string's content `bytes[start..<end]`.
    static func unescape(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: max(1, end - start)) { out, count in
            count = unescape(bytes, start, end, into: out)
        }
    }

    /// The same into `out` (at least `end - start` bytes: escapes only ever shrink); returns the
    /// length written. Runs without a backslash are copied whole (the metadata of a notification
    /// is often JSON in a string, hundreds of bytes between escapes): appending byte by byte
    /// to an array cost a capacity and uniqueness check per byte.
    static func unescape(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        guard let src = bytes.baseAddress, let dst = out.baseAddress, end > start else { return 0 }
        func hex4(at i: Int) -> UInt32 {
            var v: UInt32 = 0
            for k in 0..<4 { v = v << 4 | UInt32(Hex.value(of: src[i + k]) ?? 0) }
            return v
        }
        var o = 0
        var i = start
        // Sixteen, then eight bytes at a time: each block is stored whole, then the output
        // advances only past the bytes before a backslash. Safe because escapes only shrink
        // (o <= i - start), so o + 16 <= end - start <= out.count while i + 16 < end. Metadata that is JSON inside a
        // string has a backslash every few bytes: a memchr call per run cost more than the run.
        // Offsets stay within the buffers (`&+` only skips overflow checks that cannot fire).
        let words = out.count >= end - start
        // The tight loop for `\"`, `\\` and `\/` (JSON inside a string escapes every quote): 16
        // bytes at a time while more than 16 remain, stored whole, the output advancing only past
        // the bytes before the first backslash (`gw_byte_mask16`). A backslash found in a block
        // has its escaped byte within reach. Any other escape, and the last 16 bytes, go to the
        // general loop below. (An 8-byte word a round took twice the rounds: the benchmark's
        // metadata, 550 bytes with an escape every 8, cost 2,300 instructions.)
        if words {
            while i &+ 16 < end {
                // Whole blocks of `\"` and `\/` escapes (and none) first, 16 bytes a round
                // whatever the number of escapes in them (`gw_unescape_quotes`, SSSE3); what it
                // leaves (another escape, `\\`) is decoded below, one escape a round.
                var consumed = 0
                o &+= gw_unescape_quotes(src + i, end &- i, dst + o, &consumed)
                i &+= consumed
                guard i &+ 16 < end else { break }
                let block = UnsafeRawPointer(src + i).loadUnaligned(as: (UInt64, UInt64).self)
                UnsafeMutableRawPointer(dst + o).storeBytes(of: block, as: (UInt64, UInt64).self)
                let m = gw_byte_mask16(src + i, 0x5C)
                if m == 0 {
                    i &+= 16
                    o &+= 16
                    continue
                }
                let k = m.trailingZeroBitCount
                i &+= k
                o &+= k
                let e = src[i &+ 1]
                guard e == UInt8(ascii: "\"") || e == UInt8(ascii: "\\") || e == UInt8(ascii: "/") else { break }
                dst[o] = e
                o &+= 1
                i &+= 2
            }
        }
        while i < end {
            if words && i &+ 8 <= end {
                let w = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
                UnsafeMutableRawPointer(dst + o).storeBytes(of: w, as: UInt64.self)
                let m = SWAR.byteMask(w, 0x5C)
                if m == 0 {
                    i &+= 8
                    o &+= 8
                    continue
                }
                let k = m.trailingZeroBitCount &>> 3  // the lowest set bit is exact
                i &+= k
                o &+= k
            } else {
                // The tail: up to the next backslash in one go.
                let run = memchr(src + i, 0x5C, end &- i).map { UnsafeRawPointer($0) - UnsafeRawPointer(src + i) } ?? (end &- i)
                if run > 0 {
                    (dst + o).update(from: src + i, count: run)
                    o &+= run
                    i &+= run
                }
            }
            guard i &+ 1 < end else { break }
            let e = src[i &+ 1]
            // `\"` first: JSON inside a string escapes every quote.
            if e == UInt8(ascii: "\"") || e == UInt8(ascii: "\\") || e == UInt8(ascii: "/") {
                dst[o] = e
                o &+= 1
                i &+= 2
                continue
            }
            i += 2
            switch e {
            case UInt8(ascii: "b"): dst[o] = 0x08; o += 1
            case UInt8(ascii: "f"): dst[o] = 0x0C; o += 1
            case UInt8(ascii: "n"): dst[o] = 0x0A; o += 1
            case UInt8(ascii: "r"): dst[o] = 0x0D; o += 1
            case UInt8(ascii: "t"): dst[o] = 0x09; o += 1
            case UInt8(ascii: "u"):
                guard i + 4 <= end else { return o }
                var scalar = hex4(at: i)
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF && i + 6 <= end {
                    let low = hex4(at: i + 2)
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low &- 0xDC00)
                }
                // Surrogates (nil here) were refused by the parser; skipped as before.
                if let u = Unicode.Scalar(scalar) {
                    UTF8.encode(u) { byte in
                        dst[o] = byte
                        o += 1
                    }
                }
            default: dst[o] = e; o += 1  // not reached: the parser refuses other escapes
            }
        }
        return o
    }

    /// Whether a key node equals `key` (UTF-8), unescaping only when the key has escapes.
    /// Inlined: most keys a lookup passes differ in length, and are passed over without a call
    /// (lookups, the transforms' path walks and `keep` call this for every member).
    @inline(__always)
    func keyEquals(_ n: Node, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        if n.flag { return unescaped(n).elementsEqual(key) }
        guard Int(n.end &- n.start) == key.count else { return false }
        return bytes.withUnsafeBufferPointer { Self.keyEquals(n, key, in: $0) }
    }

    /// The same over the document's bytes already borrowed.
    @inline(__always)
    static func keyEquals(_ n: Node, _ key: UnsafeBufferPointer<UInt8>, in b: UnsafeBufferPointer<UInt8>) -> Bool {
        if n.flag { return unescape(b, Int(n.start), Int(n.end)).elementsEqual(key) }
        guard Int(n.end &- n.start) == key.count else { return false }
        guard let base = b.baseAddress, let k = key.baseAddress else { return key.isEmpty }
        return ByteSearch.same(base + Int(n.start), k, key.count)
    }

    func materialize(_ i: inout Int) -> JSONValue {
        let n = nodes[i]
        switch n.kind {
        case .null:
            i += 1
            return .null
        case .bool:
            i += 1
            return .bool(n.flag)
        case .number:
            i += 1
            return .number(text(n))
        case .string:
            i += 1
            return .string(decodeString(n))
        case .array:
            i += 1
            var a: [JSONValue] = []
            a.reserveCapacity(Int(n.count))
            for _ in 0..<n.count { a.append(materialize(&i)) }
            return .array(a)
        case .object:
            i += 1
            var members: [JSONObject.Member] = []
            members.reserveCapacity(Int(n.count))
            for _ in 0..<n.count {
                let key = decodeString(nodes[i])
                i += 1
                members.append(JSONObject.Member(key: key, value: materialize(&i)))
            }
            return .object(JSONObject(members))
        }
    }
}

/// Single pass: validate and record the tape. No per-value allocation.
/// The tape under construction: nodes written through a pointer, the buffer doubled when full,
/// handed to the document's storage at the end. An array's `append` checked uniqueness
/// and capacity for every node (a notification has a hundred strings); reads here check only the
/// index.
private struct NodeBuffer {
    typealias Node = JSONDocument.Node
    private var base: UnsafeMutablePointer<Node>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        base = .allocate(capacity: self.capacity)
    }

    @inline(__always) mutating func append(_ node: Node) {
        if count == capacity { grow() }
        (base + count).initialize(to: node)
        count += 1
    }

    private mutating func grow() {
        let bigger = UnsafeMutablePointer<Node>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }

    subscript(i: Int) -> Node {
        get {
            precondition(i >= 0 && i < count, "tape index out of range")
            return base[i]
        }
        nonmutating set {
            precondition(i >= 0 && i < count, "tape index out of range")
            base[i] = newValue
        }
    }

    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Node>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// The nodes as a tape that owns this buffer (which must not be used or freed here after).
    func tape() -> JSONDocument.Tape { JSONDocument.Tape(adopting: base, count: count) }

    /// Frees the buffer (nodes are plain values: nothing to deinitialize).
    func deallocate() { base.deallocate() }
}

private struct TapeBuilder {
    typealias Node = JSONDocument.Node
    static let smallObject: Int32 = 32
    let bytes: UnsafeBufferPointer<UInt8>
    let limits: JSONParser.Limits
    var index = 0
    var nodes: NodeBuffer

    init(bytes: UnsafeBufferPointer<UInt8>, limits: JSONParser.Limits) {
        self.bytes = bytes
        self.limits = limits
        nodes = NodeBuffer(capacity: max(16, bytes.count / 8))
    }

    func fail(_ reason: String) -> JSONParser.ParseError { JSONParser.ParseError(reason: reason, offset: index) }

    @inline(__always) mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    @inline(__always) mutating func push(_ kind: JSONDocument.Kind, flag: Bool = false, start: Int, end: Int, count: Int = 0) {
        // Exact: the text is under 2 GiB (see `parse`) and every node takes at least one byte.
        nodes.append(
            Node(
                kind: kind, flag: flag, start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: end),
                next: Int32(truncatingIfNeeded: nodes.count &+ 1), count: Int32(truncatingIfNeeded: count)))
    }

    mutating func parseValue(depth: Int) throws(JSONParser.ParseError) {
        guard index < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): try parseString()
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            push(.bool, flag: true, start: index - 4, end: index)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            push(.bool, flag: false, start: index - 5, end: index)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            push(.null, start: index - 4, end: index)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try parseNumber()
        default: throw fail("unexpected character")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParser.ParseError) {
        let n = literal.utf8CodeUnitCount
        guard bytes.count - index >= n else { throw fail("invalid literal") }
        let lit = literal.utf8Start
        for i in 0..<n where bytes[index + i] != lit[i] { throw fail("invalid literal") }
        index += n
    }

    mutating func parseObject(depth: Int) throws(JSONParser.ParseError) {
        if depth > limits.maxDepth { throw fail("JSON nested deeper than \(limits.maxDepth)") }
        let me = nodes.count
        push(.object, start: index, end: index)
        index += 1
        var count: Int32 = 0
        // Past `smallObject` members, keys go into a hash set: the pairwise scan is quadratic and
        // a hostile body could hold a hundred thousand keys.
        var seen: Set<[UInt8]>? = nil
        // Below `smallObject`: a 64-bit filter of the keys' fingerprints (length, first and last
        // byte). A key whose bit is not set yet cannot repeat an earlier key, and needs no scan;
        // for a typical notification that skips most of the pairwise comparisons (1.3% of a
        // request's CPU). Escapes make equal keys differ in bytes: from the first escaped key
        // on, every key is scanned.
        var fingerprints: UInt64 = 0
        var escapedKeys = false
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                if index >= bytes.count || bytes[index] != UInt8(ascii: "\"") { skipWhitespace() }
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let keyIndex = nodes.count
                try parseString()
                // (Mutated through the optional, in place: copying the set out would copy it whole.)
                if let inserted = seen?.insert(decoded(nodes[keyIndex])).inserted {
                    guard inserted else {
                        index = Int(nodes[keyIndex].start) - 1
                        throw fail("duplicate key in object")
                    }
                } else {
                    let key = nodes[keyIndex]
                    if key.flag { escapedKeys = true }
                    if escapedKeys {
                        try checkDuplicate(keyIndex: keyIndex, objectIndex: me)
                    } else {
                        let bit = fingerprintBit(key)
                        if fingerprints & bit != 0 { try checkDuplicate(keyIndex: keyIndex, objectIndex: me) }
                        fingerprints |= bit
                    }
                    if count + 1 >= TapeBuilder.smallObject {
                        var set = Set<[UInt8]>()
                        var k = me + 1
                        while k <= keyIndex {
                            set.insert(decoded(nodes[k]))
                            k = k == keyIndex ? k + 1 : Int(nodes[k + 1].next)
                        }
                        seen = set
                    }
                }
                // Compact JSON (what providers send) has no whitespace between the tokens: each
                // separator is looked at once before any skipping, and a string value, most of
                // a notification's, is parsed here rather than through `parseValue`'s call and
                // dispatch (about 40 instructions a member).
                if index >= bytes.count || bytes[index] != UInt8(ascii: ":") { skipWhitespace() }
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                index += 1
                if index < bytes.count && bytes[index] == UInt8(ascii: "\"") {
                    try parseString()
                } else {
                    skipWhitespace()
                    try parseValue(depth: depth)
                }
                count += 1
                if index < bytes.count && bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                skipWhitespace()
                guard index < bytes.count else { throw fail("unexpected end of JSON") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    break
                }
                throw fail("expected ',' or '}'")
            }
        }
        nodes[me].end = Int32(truncatingIfNeeded: index)
        nodes[me].next = Int32(truncatingIfNeeded: nodes.count)
        nodes[me].count = count
    }

    /// Refuses a key equal to an earlier key of the same object. Objects are small in practice;
    /// the scan compares raw bytes and unescapes only keys that have escapes.
    /// One of 64 bits, the same for keys with the same bytes (see `parseObject`).
    @inline(__always)
    func fingerprintBit(_ key: Node) -> UInt64 {
        let (start, end) = (Int(key.start), Int(key.end))
        guard end > start else { return 1 }
        let h = UInt64(end - start) &* 0x9E37_79B9 ^ UInt64(bytes[start]) &* 31 ^ UInt64(bytes[end - 1]) &* 0x2545
        return 1 << ((h ^ h >> 11) & 63)
    }

    mutating func checkDuplicate(keyIndex: Int, objectIndex: Int) throws(JSONParser.ParseError) {
        let duplicate = nodes.withUnsafeBufferPointer { n -> Bool in
            let key = n[keyIndex]
            let keyLength = key.end - key.start
            var i = objectIndex + 1
            while i < keyIndex {
                let other = n[i]
                // Cheap tests first: length, then first byte, then everything.
                if (other.end - other.start == keyLength || other.flag || key.flag) && keysEqual(other, key) { return true }
                i = Int(n[i + 1].next)
            }
            return false
        }
        if duplicate {
            index = Int(nodes[keyIndex].start) - 1
            throw fail("duplicate key in object")
        }
    }

    func keysEqual(_ a: Node, _ b: Node) -> Bool {
        if !a.flag && !b.flag {
            let la = Int(a.end - a.start)
            guard la == Int(b.end - b.start) else { return false }
            var k = 0
            while k < la {
                if bytes[Int(a.start) + k] != bytes[Int(b.start) + k] { return false }
                k += 1
            }
            return true
        }
        return decoded(a) == decoded(b)
    }

    func decoded(_ n: Node) -> [UInt8] {
        n.flag ? JSONDocument.Storage.unescape(bytes, Int(n.start), Int(n.end)) : Array(bytes[Int(n.start)..<Int(n.end)])
    }

    mutating func parseArray(depth: Int) throws(JSONParser.ParseError) {
        if depth > limits.maxDepth { throw fail("JSON nested deeper than \(limits.maxDepth)") }
        let me = nodes.count
        push(.array, start: index, end: index)
        index += 1
        var count: Int32 = 0
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
        } else {
            while true {
                // As in `parseObject`: compact JSON first.
                if index < bytes.count && bytes[index] == UInt8(ascii: "\"") {
                    try parseString()
                } else {
                    skipWhitespace()
                    try parseValue(depth: depth)
                }
                count += 1
                if index < bytes.count && bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                skipWhitespace()
                guard index < bytes.count else { throw fail("unexpected end of JSON") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    break
                }
                throw fail("expected ',' or ']'")
            }
        }
        nodes[me].end = Int32(truncatingIfNeeded: index)
        nodes[me].next = Int32(truncatingIfNeeded: nodes.count)
        nodes[me].count = count
    }

    @inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    mutating func parseNumber() throws(JSONParser.ParseError) {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw fail("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if isDigit(bytes[index]) {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        } else {
            throw fail("invalid number")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index - start > limits.maxNumberLength {
            index = start
            throw fail("number longer than \(limits.maxNumberLength) characters")
        }
        push(.number, start: start, end: index)
    }

    /// Validates a string (escapes, surrogate pairs, control characters, UTF-8) in place.
    ///
    /// Inlined into its callers for the common case: a string whose closing quote comes within
    /// 16 bytes of its opening one with nothing before it that needs a look (no escape, control
    /// byte or non-ASCII), as most keys and many values of a notification are. One 16-byte load
    /// answers for it, and the node is pushed without a call: the general scan's call, register
    /// saves and loop setup cost more than the scan itself for a ten-byte key. Everything else
    /// goes to `parseLongString`.
    @inline(__always)
    mutating func parseString() throws(JSONParser.ParseError) {
        let start = index &+ 1
        if start &+ 16 <= bytes.count, let base = bytes.baseAddress {
            let stops = gw_json_string_attention16(base + start)
            if stops != 0 {
                let end = start &+ Int(stops.trailingZeroBitCount)
                if base[end] == UInt8(ascii: "\"") {
                    push(.string, flag: false, start: start, end: end, count: end &- start)
                    index = end &+ 1
                    return
                }
            }
        }
        try parseLongString()
    }

    /// `parseString` for any string. The scan works on a local index (not `self.index`) so the
    /// hot loop stays in registers.
    @inline(never)
    mutating func parseLongString() throws(JSONParser.ParseError) {
        let start = index + 1
        let count = bytes.count
        guard let base = bytes.baseAddress else { throw fail("unterminated string") }
        var i = start
        var escapes = false
        var asciiOnly = true
        // Bytes the escapes take beyond the one scalar each stands for (`\"` 1, `\u00e9` 5, a
        // surrogate pair 11): the string's scalar count comes out of the parse for free.
        var escapeExtra = 0
        while true {
            // Skip plain bytes 16 at a time (SSE2), landing exactly on the next byte that needs a
            // look (quote, backslash, control or non-ASCII). Most keys and values of a
            // notification end within the first 16 bytes: one load, then the exit.
            var stopped = false
            while i &+ 16 <= count {
                let stops = gw_json_string_attention16(base + i)
                if stops != 0 {
                    i &+= Int(stops.trailingZeroBitCount)
                    stopped = true
                    break
                }
                i &+= 16
            }
            // The last bytes of the body: 8 at a time, landing on the first byte that needs a
            // look (quote, backslash, control or non-ASCII).
            while !stopped && i + 8 <= count {
                let m = SWAR.attentionMask(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
                if m != 0 {
                    i += m.trailingZeroBitCount >> 3
                    break
                }
                i += 8
            }
            guard i < count else {
                index = i
                throw fail("unterminated string")
            }
            let b = base[i]
            if b == UInt8(ascii: "\"") {
                var scalars = i - start - escapeExtra
                if !asciiOnly {
                    guard UTF8Validation.isValid(UnsafeBufferPointer(start: base + start, count: i - start)) else {
                        index = start
                        throw fail("invalid UTF-8 in string")
                    }
                    scalars -= JSONDocument.continuationBytes(UnsafeBufferPointer(start: base + start, count: i - start))
                }
                push(.string, flag: escapes, start: start, end: i, count: scalars)
                index = i + 1
                return
            }
            if b < 0x20 {
                index = i
                throw fail("control character in string")
            }
            if b >= 0x80 {
                asciiOnly = false
                i += 1
                continue
            }
            if b == UInt8(ascii: "\\") {
                escapes = true
                index = i + 1
                guard index < count else { throw fail("unterminated string") }
                switch base[index] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                    escapeExtra += 1
                case UInt8(ascii: "u"):
                    index += 1
                    let scalar = try hex4()
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        guard count - index >= 6, base[index] == UInt8(ascii: "\\"), base[index + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate escape")
                        }
                        index += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw fail("unpaired surrogate escape") }
                        escapeExtra += 11
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw fail("unpaired surrogate escape")
                    } else {
                        escapeExtra += 5
                    }
                default:
                    throw fail("invalid escape")
                }
                i = index
                continue
            }
            i += 1  // an ASCII byte the mask flagged only through a borrow: plain
        }
    }

    mutating func hex4() throws(JSONParser.ParseError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw fail("invalid unicode escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = Hex.value(of: bytes[index]) else { throw fail("invalid unicode escape") }
            v = v << 4 | UInt32(d)
            index += 1
        }
        return v
    }
}
