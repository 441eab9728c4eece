/// A route's transforms as edits beside the original bytes, written out by copying everything
/// they do not reach as whole spans.
///
/// Why: `EditableJSON` opens every object on an edited path into an array of members with
/// their keys decoded to Strings, and writes the opened objects member by member. For the
/// benchmark route (remove a card field, mask another, set two values, keep six keys) that was
/// about 30,000 instructions per event, applying, writing and freeing the tree: more than the
/// rest of the route's work. Here an edit is a tape index with what became of it (removed, or
/// replaced by a written value) or a member appended to an original object; lookups walk the
/// original tape and compare keys as bytes; the output copies every subtree with no edit inside
/// as one span and walks only the containers that hold an edit.
///
/// The output is byte for byte what `EditableJSON` writes for the same transforms (tests, on
/// fixed and on random documents, and the routing fuzz target compare the two), spacing
/// included: a container the tree opens is written compactly, so one it opens without changing
/// anything (the root, by `keep`) is marked opened here too.
///
/// Cases this form does not cover return nil from `apply`, and the caller uses `EditableJSON`:
/// removing an array element (the later elements' indices shift), editing inside a value a
/// transform wrote from the event by reference, moving a value with edits inside it, placing
/// such a reference (an object, an array, a string with escapes) inside a new object, a `set`
/// through an array index that does not exist, `keep` on a document whose root is not an
/// object, and more than `maxEdits` edits.
public struct SplicedEdits {
    /// A value a transform wrote: a reference to a value of the original event (a template
    /// that is exactly one placeholder, or a renamed value), or a new value.
    enum Written {
        case ref(Int)
        case value(JSONValue)
    }

    /// One edit: what became of an original member's value (or an array element), or a member
    /// appended to an original object.
    struct Edit {
        /// The tape index of the original value that changed, or of the object a member was
        /// added to.
        var at: Int
        var isAdded: Bool
        /// An added member's key.
        var key: String
        /// What the value is now; nil: removed (changes only).
        var value: Written?
    }

    /// At most this many edits; past it the transforms are not covered and the tree does the
    /// work. Lookups scan the edits, so without a bound a `keep` over a body with a hundred
    /// thousand top-level members (a 1 MiB body allows that) would cost time quadratic in them.
    static let maxEdits = 64

    let storage: JSONDocument.Storage
    /// In the order made (added members are written in this order). Lookups read the `at` and
    /// `isAdded` fields through a pointer, without copying (retaining) the written values.
    private var edits: [Edit] = []
    /// Original objects written member by member although nothing in them changed: `keep`
    /// opens the root in the edited tree even when it keeps every member, and the tree writes
    /// an opened object compactly (a space in the source between members is not copied).
    private var opened: [Int] = []

    init(_ storage: JSONDocument.Storage, capacity: Int) {
        self.storage = storage
        edits.reserveCapacity(capacity)
    }

    /// The bytes of the event after `transforms`, or nil when they do something this form does
    /// not cover (see the type's comment).
    public static func apply(_ transforms: [Transform], to event: JSONRef) -> [UInt8]? {
        apply(transforms, to: event, keepKeys: keepKeyBytes(transforms))
    }

    /// The same with `keepKeyBytes(transforms)` made beforehand (once per route).
    public static func apply(_ transforms: [Transform], to event: JSONRef, keepKeys: [[[UInt8]]]) -> [UInt8]? {
        guard event.index == 0, keepKeys.count == transforms.count else { return nil }
        var spliced = SplicedEdits(event.storage, capacity: 8)
        for (t, keys) in zip(transforms, keepKeys) {
            guard spliced.apply(t, original: event, keepKeys: keys), spliced.edits.count <= maxEdits else { return nil }
        }
        var out: [UInt8] = []
        out.reserveCapacity(event.storage.bytes.count + 128)
        spliced.write(to: &out)
        return out
    }

    /// Each transform's `keep` keys as UTF-8, in order (empty for the other transforms).
    public static func keepKeyBytes(_ transforms: [Transform]) -> [[[UInt8]]] {
        transforms.map { t in
            if case .keep(let keys) = t { return keys.map { Array($0.utf8) } }
            return []
        }
    }

    // MARK: - Where a path leads

    /// Where a path leads in the edited document.
    enum Location {
        /// An original value, not replaced (it may hold edits).
        case original(Int)
        /// Inside the value `edits[edit]` wrote (an original value replaced, or an added
        /// member); `rest` is what is left of the path.
        case inWritten(edit: Int, rest: ArraySlice<String>)
        /// The original object `object` has no member `rest.first` (the rest of the path).
        case missing(object: Int, rest: ArraySlice<String>)
        /// The path goes on below the original scalar at `index`.
        case belowScalar(index: Int, rest: ArraySlice<String>)
        /// An array index that does not exist (or a segment that is not one).
        case noElement
    }

    /// The edit that changed the original value at tape index `index`, if any.
    private func change(at index: Int) -> Int? {
        edits.withUnsafeBufferPointer { e in
            for k in e.indices where e[k].at == index && !e[k].isAdded { return k }
            return nil
        }
    }

    /// The member added to the original object at `object` under `key`, if any.
    private func added(to object: Int, key: String) -> Int? {
        edits.withUnsafeBufferPointer { e in
            for k in e.indices where e[k].at == object && e[k].isAdded && e[k].key == key { return k }
            return nil
        }
    }

    private func locate(_ segments: [String]) -> Location {
        // The root itself replaced (a `set` below a document that is a scalar).
        if let c = change(at: 0) { return .inWritten(edit: c, rest: segments[...]) }
        let nodes = storage.nodes
        var current = 0
        var k = segments.startIndex
        while k < segments.endIndex {
            let seg = segments[k]
            let n = nodes[current]
            switch n.kind {
            case .object:
                var found: Int? = nil
                seg.withUTF8Bytes { key in
                    var i = current + 1
                    for _ in 0..<n.count {
                        if storage.keyEquals(nodes[i], key) {
                            found = i + 1
                            return
                        }
                        i = Int(nodes[i + 1].next)
                    }
                }
                if let v = found, let c = change(at: v) {
                    // Removed: the key may have been set again since (an added member).
                    if edits[c].value != nil { return .inWritten(edit: c, rest: segments[(k + 1)...]) }
                    found = nil
                }
                guard let v = found else {
                    if let a = added(to: current, key: seg) { return .inWritten(edit: a, rest: segments[(k + 1)...]) }
                    return .missing(object: current, rest: segments[k...])
                }
                current = v
            case .array:
                guard let position = Int(seg), position >= 0, position < Int(n.count) else { return .noElement }
                var i = current + 1
                for _ in 0..<position { i = Int(nodes[i].next) }
                if let c = change(at: i) { return .inWritten(edit: c, rest: segments[(k + 1)...]) }
                current = i
            default:
                return .belowScalar(index: current, rest: segments[k...])
            }
            k += 1
        }
        return .original(current)
    }

    /// Whether the subtree at tape index `i` holds an edit (a change or an added member).
    private func holdsEdits(_ i: Int) -> Bool {
        let end = Int(storage.nodes[i].next)
        for o in opened where o >= i && o < end { return true }
        return edits.withUnsafeBufferPointer { e in
            // A change at `i` itself is not inside; a member added to `i` is.
            for k in e.indices where e[k].at < end && (e[k].at > i || (e[k].isAdded && e[k].at == i)) { return true }
            return false
        }
    }

    // MARK: - The transforms

    private mutating func apply(_ t: Transform, original: JSONRef, keepKeys: [[UInt8]]) -> Bool {
        switch t {
        case .remove(let paths):
            for p in paths {
                guard case .some = remove(p.segments, keepingValue: false) else { return false }
            }
        case .mask(let paths):
            for p in paths {
                guard mask(p.segments) else { return false }
            }
        case .set(let assignments):
            for (path, template) in assignments {
                let w: Written
                if let p = template.onlyPath {
                    w = original[path: p].map { .ref($0.index) } ?? .value(.string(""))
                } else {
                    w = .value(.string(template.render(original)))
                }
                guard set(path.segments, w) else { return false }
            }
        case .rename(let moves):
            for (from, to) in moves {
                guard let removed = remove(from.segments, keepingValue: true) else { return false }
                if let v = removed, !set(to.segments, v) { return false }
            }
        case .keep(let keys):
            return keep(keys, bytes: keepKeys)
        }
        return true
    }

    /// Removes the value at `segments`: `.some(nil)` when there was none, `.some(v)` with what
    /// was removed, nil when this form does not cover it. `keepingValue`: the value moves
    /// elsewhere (a rename), so a value with edits inside is not covered (a reference to it
    /// would lose them).
    private mutating func remove(_ segments: [String], keepingValue: Bool) -> Written?? {
        switch locate(segments) {
        case .original(let i):
            if i == 0 || (keepingValue && holdsEdits(i)) || parentIsArray(i) { return nil }
            change(i, to: nil)
            return .some(.ref(i))
        case .inWritten(let e, let rest):
            guard rest.isEmpty, let w = edits[e].value else { return nil }
            if edits[e].isAdded {
                edits.remove(at: e)
            } else {
                guard edits[e].at != 0, !parentIsArray(edits[e].at) else { return nil }
                edits[e].value = nil
            }
            return .some(w)
        case .missing, .belowScalar, .noElement:
            return .some(nil)
        }
    }

    /// Whether the value at tape index `i` is an element of an array (not a member's value).
    private func parentIsArray(_ i: Int) -> Bool {
        // A member's value follows its key, a string node; an element follows its array's
        // opening node or the end of the previous element. Walk from the root to find out.
        let nodes = storage.nodes
        var container = 0
        while true {
            let n = nodes[container]
            var child = container + 1
            let isObject = n.kind == .object
            var next: Int? = nil
            for _ in 0..<n.count {
                let value = isObject ? child + 1 : child
                if value == i { return !isObject }
                let end = Int(nodes[value].next)
                if i > value && i < end { next = value; break }
                child = end
            }
            guard let inner = next else { return false }
            container = inner
        }
    }

    private mutating func mask(_ segments: [String]) -> Bool {
        switch locate(segments) {
        case .original(let i):
            // Masked the way a reference to it is (a string or a number; nothing else).
            if case .masked(let m) = Self.masked(.ref(i), [], storage) { change(i, to: m) }
            return true
        case .inWritten(let e, let rest):
            guard let w = edits[e].value else { return true }
            switch Self.masked(w, rest, storage) {
            case .nothing: return true
            case .notCovered: return false
            case .masked(let m): return setWritten(&edits[e].value, rest, m)
            }
        case .missing, .belowScalar, .noElement:
            return true
        }
    }

    enum MaskResult {
        case nothing
        case masked(Written)
        case notCovered
    }

    /// The masked value at `rest` inside `w`: nothing to mask there (not a string or number),
    /// or a masked value inside a reference (not covered: it would have to be opened).
    private static func masked(_ w: Written, _ rest: ArraySlice<String>, _ s: JSONDocument.Storage) -> MaskResult {
        switch w {
        case .ref(let i):
            guard let ref = JSONRef(storage: s, index: i)[path: JSONPath(segments: Array(rest))] else { return .nothing }
            guard ref.kind == .string || ref.kind == .number, let text = ref.scalarText else { return .nothing }
            return rest.isEmpty ? .masked(.value(Transform.masked(text))) : .notCovered
        case .value(let v):
            guard let target = v.at(rest), let text = target.scalarText, target != .bool(true), target != .bool(false) else { return .nothing }
            return .masked(.value(Transform.masked(text)))
        }
    }

    /// Sets `rest` inside a written value as `EditableJSON` would; false when not covered.
    private func setWritten(_ w: inout Written?, _ rest: ArraySlice<String>, _ new: Written) -> Bool {
        if rest.isEmpty {
            w = new
            return true
        }
        guard case .value(var v) = w, let nv = exactValue(new) else { return false }
        guard v.setting(rest, to: nv) else { return false }
        w = .value(v)
        return true
    }

    /// `w` as a value that writes the same bytes as the reference did: a number, boolean or
    /// null, or a string with nothing to escape (a reference writes its source bytes; a value
    /// is encoded again). nil for objects, arrays and other strings, which only a reference
    /// writes exactly as received.
    private func exactValue(_ w: Written) -> JSONValue? {
        switch w {
        case .value(let v): return v
        case .ref(let i):
            let n = storage.nodes[i]
            switch n.kind {
            case .null: return .null
            case .bool: return .bool(n.flag)
            case .number: return .number(storage.text(n))
            case .string:
                guard !n.flag else { return nil }
                let plain = storage.bytes.withUnsafeBufferPointer { b in
                    JSONValue.isPlainString(UnsafeBufferPointer(rebasing: b[Int(n.start)..<Int(n.end)]))
                }
                return plain ? .string(storage.text(n)) : nil
            default: return nil
            }
        }
    }

    /// Records what became of the original value at tape index `i` (it has no change yet).
    private mutating func change(_ i: Int, to w: Written?) {
        edits.append(Edit(at: i, isAdded: false, key: "", value: w))
    }

    private mutating func set(_ segments: [String], _ new: Written) -> Bool {
        switch locate(segments) {
        case .original(let i):
            change(i, to: new)
            return true
        case .inWritten(let e, let rest):
            return setWritten(&edits[e].value, rest, new)
        case .missing(let object, let rest):
            guard let key = rest.first else { return false }
            var w: Written? = .value(.null)
            guard setWritten(&w, rest.dropFirst(), new), let nw = w else { return false }
            edits.append(Edit(at: object, isAdded: true, key: key, value: nw))
            return true
        case .belowScalar(let index, let rest):
            // The scalar is replaced by an object holding the path (as `EditableJSON` does).
            var w: Written? = .value(.null)
            guard setWritten(&w, rest, new) else { return false }
            change(index, to: w)
            return true
        case .noElement:
            return false  // `EditableJSON` opens the containers on the way: not covered
        }
    }

    private mutating func keep(_ keys: [String], bytes keyBytes: [[UInt8]]) -> Bool {
        let nodes = storage.nodes
        guard nodes[0].kind == .object, change(at: 0) == nil, keyBytes.count == keys.count else { return false }
        var i = 1
        for _ in 0..<nodes[0].count {
            let value = i + 1
            let key = nodes[i]
            let length = Int(key.end &- key.start)
            let listed = keyBytes.withUnsafeBufferPointer { listedKeys in
                for k in listedKeys.indices {
                    // Lengths first: most listed keys differ from most members' in length (a
                    // key with escapes is longer in the source than decoded: compared decoded).
                    guard key.flag || listedKeys[k].count == length else { continue }
                    if listedKeys[k].withUnsafeBufferPointer({ storage.keyEquals(key, $0) }) { return true }
                }
                return false
            }
            if !listed {
                if let c = change(at: value) {
                    edits[c].value = nil
                } else {
                    guard edits.count < Self.maxEdits else { return false }
                    change(value, to: nil)
                }
            }
            i = Int(nodes[value].next)
        }
        // Members added to the root that `keep` does not list go (looked for first: a
        // `removeAll` moved every edit, retaining and releasing what each holds).
        let unlisted = { (e: Edit) -> Bool in
            e.isAdded && e.at == 0 && !e.key.withUTF8Bytes { k in keyBytes.contains { ByteSearch.equal($0, k) } }
        }
        if edits.contains(where: unlisted) { edits.removeAll(where: unlisted) }
        if !opened.contains(0) { opened.append(0) }
        return true
    }

    // MARK: - Output

    private func write(to out: inout [UInt8]) {
        storage.bytes.withUnsafeBufferPointer { b in
            storage.nodes.withUnsafeBufferPointer { nodes in
                write(0, b, nodes, &out)
            }
        }
    }

    private func write(
        _ i: Int, _ b: UnsafeBufferPointer<UInt8>, _ nodes: UnsafeBufferPointer<JSONDocument.Node>, _ out: inout [UInt8]
    ) {
        if let c = change(at: i), let w = edits[c].value {
            write(w, b, nodes, &out)
            return
        }
        let n = nodes[i]
        guard (n.kind == .object || n.kind == .array) && holdsEdits(i) else {
            Self.appendRaw(n, b, &out)
            return
        }
        if n.kind == .array {
            out.append(UInt8(ascii: "["))
            var e = i + 1
            for k in 0..<Int(n.count) {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                write(e, b, nodes, &out)
                e = Int(nodes[e].next)
            }
            out.append(UInt8(ascii: "]"))
            return
        }
        out.append(UInt8(ascii: "{"))
        var first = true
        // Untouched members written as they are in the source: consecutive ones with nothing
        // between them but the comma are one span of it, copied at once.
        var span = 0..<0
        var key = i + 1
        for _ in 0..<Int(n.count) {
            let value = key + 1
            let c = change(at: value)
            if c == nil || edits[c!].value != nil {
                let edited = c != nil || ((nodes[value].kind == .object || nodes[value].kind == .array) && holdsEdits(value))
                let k = nodes[key]
                let v = nodes[value]
                let keyStart = Int(k.start) - 1
                let valueStart = v.kind == .string ? Int(v.start) - 1 : Int(v.start)
                if !edited && valueStart == Int(k.end) + 2 && b[Int(k.end) + 1] == UInt8(ascii: ":") {
                    // Compact in the source (`"key":value`): part of a span.
                    let valueEnd = v.kind == .string ? Int(v.end) + 1 : Int(v.end)
                    if !span.isEmpty && span.upperBound + 1 == keyStart && b[span.upperBound] == UInt8(ascii: ",") {
                        span = span.lowerBound..<valueEnd
                    } else {
                        if !span.isEmpty { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[span])) }
                        if !first { out.append(UInt8(ascii: ",")) }
                        span = keyStart..<valueEnd
                    }
                    first = false
                } else {
                    if !span.isEmpty {
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[span]))
                        span = 0..<0
                    }
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    if edited {
                        Self.appendKey(k, b, storage, &out)
                    } else {
                        Self.appendRaw(k, b, &out)
                    }
                    out.append(UInt8(ascii: ":"))
                    write(value, b, nodes, &out)
                }
            }
            key = Int(nodes[value].next)
        }
        if !span.isEmpty { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[span])) }
        for e in edits.indices where edits[e].isAdded && edits[e].at == i {
            guard let w = edits[e].value else { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONValue.writeString(edits[e].key, to: &out)
            out.append(UInt8(ascii: ":"))
            write(w, b, nodes, &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    private func write(
        _ w: Written, _ b: UnsafeBufferPointer<UInt8>, _ nodes: UnsafeBufferPointer<JSONDocument.Node>, _ out: inout [UInt8]
    ) {
        switch w {
        case .ref(let r): Self.appendRaw(nodes[r], b, &out)
        case .value(let v): v.write(to: &out)
        }
    }

    /// A value's source bytes (strings with their quotes).
    private static func appendRaw(_ n: JSONDocument.Node, _ b: UnsafeBufferPointer<UInt8>, _ out: inout [UInt8]) {
        let quoted = n.kind == .string
        let start = quoted ? Int(n.start) - 1 : Int(n.start)
        let end = quoted ? Int(n.end) + 1 : Int(n.end)
        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<end]))
    }

    /// The key of a member whose value was edited, as `EditableJSON` writes it: decoded and
    /// encoded again (which gives the source bytes when the key has no escapes and nothing that
    /// encoding escapes).
    private static func appendKey(
        _ k: JSONDocument.Node, _ b: UnsafeBufferPointer<UInt8>, _ s: JSONDocument.Storage, _ out: inout [UInt8]
    ) {
        if !k.flag && JSONValue.isPlainString(UnsafeBufferPointer(rebasing: b[Int(k.start)..<Int(k.end)])) {
            appendRaw(k, b, &out)
        } else {
            JSONValue.writeString(s.decodeString(k), to: &out)
        }
    }
}

fileprivate extension JSONValue {
    /// The value at the rest of a path (as `EditableJSON.get` reads a written value).
    func at(_ rest: ArraySlice<String>) -> JSONValue? {
        var current = self
        for seg in rest {
            guard let next = current.child(seg) else { return nil }
            current = next
        }
        return current
    }

    /// Sets the rest of a path as `EditableJSON.set` does in a written value: missing members
    /// and scalars on the way become objects; an array index must exist. False when it does not
    /// (`EditableJSON` leaves the value as it was then, and so does this, but callers treat it
    /// as not covered to keep one rule for array indices).
    mutating func setting(_ rest: ArraySlice<String>, to new: JSONValue) -> Bool {
        guard let first = rest.first else {
            self = new
            return true
        }
        switch self {
        case .object(var o):
            self = .null  // edit the members in place, not a copy
            var ok = true
            if let i = o.members.lastIndex(where: { $0.key == first }) {
                ok = o.members[i].value.setting(rest.dropFirst(), to: new)
            } else {
                var child = JSONValue.null
                ok = child.setting(rest.dropFirst(), to: new)
                o.members.append(JSONObject.Member(key: first, value: child))
            }
            self = .object(o)
            return ok
        case .array(var a):
            guard let i = Int(first), i >= 0, i < a.count else { return false }
            self = .null
            let ok = a[i].setting(rest.dropFirst(), to: new)
            self = .array(a)
            return ok
        default:
            self = .object(JSONObject())
            return setting(rest, to: new)
        }
    }
}
