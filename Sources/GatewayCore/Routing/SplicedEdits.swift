/// A route's transforms as edits beside the original bytes, written out by copying everything
/// they do not reach as whole spans.
///
/// Why: `EditableJSON` opens every object on an edited path into an array of members with
/// their keys decoded to Strings, and writes the opened objects member by member. For the
/// benchmark route (remove a card field, mask another, set two values, keep six keys) that was
/// about 30,000 instructions per event, applying, writing and freeing the tree: more than the
/// rest of the route's work. Here an edit is a tape index with what became of it (removed, or
/// replaced by a written value) or a member appended to an original object; lookups walk the
/// original tape comparing keys as bytes with the route's compiled paths (`SplicePlan`); the
/// output copies every subtree with no edit inside as one span and walks only the containers
/// that hold an edit, finding each one's edits through a list sorted by tape position.
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
    /// A value a transform wrote.
    enum Written {
        /// A value of the original event, written as its source bytes (a template that is
        /// exactly one placeholder, a renamed value).
        case ref(Int)
        /// `plan.literalValues[i]`, encoded in the plan's pool.
        case literal(Int)
        /// A string with nothing to escape, its bytes in `scratch` (a masked value, a rendered
        /// template).
        case plain(start: Int, count: Int)
        /// The same, up to 16 bytes, held here (most masked values: no allocation for `scratch`).
        case short(Short)
        /// Objects made for the missing part of a `set` path: `{"k1":{"k2":...}}` over the plan's
        /// segments `first..<first+count`, around `values[leaf]` (a value written the same way
        /// inside a new object as on its own).
        case nested(first: Int, count: Int, leaf: Int)
        /// Anything else: a value the tree's rules made (an edit inside a written value).
        case value(JSONValue)
    }

    /// Up to 16 bytes of a string with nothing to escape, in place.
    struct Short {
        private var words: (UInt64, UInt64) = (0, 0)
        let count: Int

        /// `stars` asterisks then `tail`; nil when longer than 16 bytes.
        init?(stars: Int, _ tail: UnsafeBufferPointer<UInt8>) {
            guard stars >= 0, tail.count <= 16 &- stars else { return nil }
            count = stars + tail.count
            withUnsafeMutableBytes(of: &words) { w in
                for i in 0..<stars { w[i] = UInt8(ascii: "*") }
                for i in 0..<tail.count { w[stars + i] = tail[i] }
            }
        }

        func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
            withUnsafeBytes(of: words) { w in body(UnsafeBufferPointer(rebasing: w.bindMemory(to: UInt8.self)[..<count])) }
        }
    }

    /// One edit: what became of an original member's value (or an array element), or a member
    /// appended to an original object. Plain values, so scanning the list copies nothing that
    /// is reference counted.
    struct Edit {
        /// The tape index of the original value that changed, or of the object a member was
        /// added to.
        var at: Int
        var isAdded: Bool
        /// An added member's key: a segment of the plan.
        var key: Int
        /// What the value is now: an index into `values`; -1: removed (changes only).
        var value: Int
    }

    /// At most this many edits; past it the transforms are not covered and the tree does the
    /// work. Lookups while applying scan the edits, so without a bound a `keep` over a body with
    /// a hundred thousand top-level members (a 1 MiB body allows that) would cost time quadratic
    /// in them.
    static let maxEdits = 64

    // Unowned: both outlive `apply` (its caller holds them), and a copy of this state then
    // retains only its arrays.
    unowned(unsafe) let storage: JSONDocument.Storage
    unowned(unsafe) let plan: SplicePlan
    /// The event and the plan as pointers, for the length of `apply`.
    let look: Lookup
    /// In the order made (added members are written in this order).
    private var edits: [Edit] = []
    /// Written values, appended and never changed: an edit that changes again points at a new one.
    private var values: [Written] = []
    /// The bytes of `.plain` values.
    private var scratch: [UInt8] = []
    /// `keep` opens the root in the edited tree even when it keeps every member, and the tree
    /// writes an opened object compactly (a space in the source between members is not copied).
    private var rootOpened = false

    init(_ storage: JSONDocument.Storage, _ look: Lookup, plan: SplicePlan) {
        self.storage = storage
        self.look = look
        self.plan = plan
        edits.reserveCapacity(8)
        values.reserveCapacity(8)
    }

    /// The bytes of the event after `transforms`, or nil when they do something this form does
    /// not cover (see the type's comment).
    public static func apply(_ transforms: [Transform], to event: JSONRef) -> [UInt8]? {
        apply(SplicePlan(transforms), to: event)
    }

    /// The same with the transforms compiled beforehand (once per route).
    public static func apply(_ plan: SplicePlan, to event: JSONRef) -> [UInt8]? {
        guard event.index == 0 else { return nil }
        let storage = event.storage
        return storage.bytes.withUnsafeBufferPointer { b -> [UInt8]? in
            storage.nodes.withUnsafeBufferPointer { nodes -> [UInt8]? in
                var spliced = SplicedEdits(storage, Lookup(nodes: nodes, b: b, plan: plan), plan: plan)
                for step in plan.steps {
                    guard spliced.apply(step), spliced.edits.count <= maxEdits else { return nil }
                }
                return spliced.written()
            }
        }
    }

    /// The event's tape and bytes and the plan's tables as plain pointers, valid for the length
    /// of `apply`, with the lookups that run for every member a path or a `keep` passes. Apart
    /// from the edits on purpose: made as methods of `SplicedEdits`, these calls copied its
    /// whole state (retaining every array and object in it) 40 times per event in the
    /// benchmark route.
    struct Lookup {
        let nodes: UnsafeBufferPointer<JSONDocument.Node>
        let b: UnsafeBufferPointer<UInt8>
        unowned(unsafe) let plan: SplicePlan

        /// Whether the key node `k` is `key` (decoded, when it has escapes).
        @inline(__always)
        func keyEquals(_ k: JSONDocument.Node, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
            JSONDocument.Storage.keyEquals(k, key, in: b)
        }

        /// The member of the object at tape index `object` whose key is segment `seg`: the
        /// tape index of its value.
        func member(of object: Int, _ seg: SplicePlan.Segment) -> Int? {
            let n = nodes[object]
            let key = plan.bytes(of: seg)
            var i = object + 1
            for _ in 0..<n.count {
                if keyEquals(nodes[i], key) { return i + 1 }
                i = Int(nodes[i + 1].next)
            }
            return nil
        }

        /// The element at `position` of the array at `array`, if it has one.
        func element(of array: Int, _ position: Int) -> Int? {
            guard position >= 0, position < Int(nodes[array].count) else { return nil }
            var i = array + 1
            for _ in 0..<position { i = Int(nodes[i].next) }
            return i
        }

        /// The original value at a path (as `JSONRef[path:]` finds it).
        func original(_ path: SplicePlan.Path) -> Int? {
            var current = 0
            for k in Int(path.first)..<path.end {
                switch nodes[current].kind {
                case .object:
                    guard let v = member(of: current, plan.segments[k]) else { return nil }
                    current = v
                case .array:
                    guard let v = element(of: current, plan.segments[k].index) else { return nil }
                    current = v
                default:
                    return nil
                }
            }
            return current
        }

        /// Whether two segments of the plan name the same key (`JSONObject.sameKey`).
        func sameKey(_ a: Int, _ b: Int) -> Bool {
            let (x, y) = (plan.segments[a], plan.segments[b])
            guard x.count == y.count, let pool = plan.pool.baseAddress else { return x.count == y.count }
            return ByteSearch.same(pool + Int(x.start), pool + Int(y.start), Int(x.count))
        }

        /// Whether `keep`'s keys list the original member key `key`.
        @inline(__always)
        func listed(member key: JSONDocument.Node, _ keys: SplicePlan.Path, filter: UInt64) -> Bool {
            let length = Int(key.end &- key.start)
            let segments = plan.segments
            if !key.flag, let base = b.baseAddress, let pool = plan.pool.baseAddress {
                // Compared where it is in the source: the filter, then lengths first.
                let member = base + Int(key.start)
                let bit = SplicePlan.filterBit(UnsafeBufferPointer(start: member, count: length))
                guard filter & bit != 0 else { return false }
                for k in Int(keys.first)..<keys.end {
                    let s = segments[k]
                    if Int(s.count) == length && ByteSearch.same(member, pool + Int(s.start), length) { return true }
                }
                return false
            }
            for k in Int(keys.first)..<keys.end where keyEquals(key, plan.bytes(of: segments[k])) { return true }
            return false
        }

        /// Whether `keep`'s keys list segment `segment` (a member a `set` added).
        func lists(_ keys: SplicePlan.Path, segment: Int) -> Bool {
            for k in Int(keys.first)..<keys.end where sameKey(segment, k) { return true }
            return false
        }

        /// A string node's text.
        func decoded(_ n: JSONDocument.Node) -> String {
            JSONDocument.Storage.decodeString(n, in: b)
        }
    }

    // MARK: - Where a path leads

    /// Where a path leads in the edited document.
    enum Location {
        /// An original value, not replaced (it may hold edits); `inArray`: an array element.
        case original(Int, inArray: Bool)
        /// Inside the value `edits[edit]` wrote (an original value replaced, or an added
        /// member); the path goes on at segment `rest`.
        case inWritten(edit: Int, rest: Int, inArray: Bool)
        /// The original object `object` has no member named by segment `rest`.
        case missing(object: Int, rest: Int)
        /// The path goes on, at segment `rest`, below the original scalar at `index`.
        case belowScalar(index: Int, rest: Int)
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

    /// The member added to the original object at `object` under the key of segment `key`.
    private func added(to object: Int, key: Int) -> Int? {
        for k in edits.indices where edits[k].at == object && edits[k].isAdded && look.sameKey(edits[k].key, key) { return k }
        return nil
    }

    private func locate(_ path: SplicePlan.Path) -> Location {
        // The root itself replaced (a `set` below a document that is a scalar).
        if let c = change(at: 0) { return .inWritten(edit: c, rest: Int(path.first), inArray: false) }
        let nodes = look.nodes
        let segments = plan.segments
        var current = 0
        var k = Int(path.first)
        let end = path.end
        var inArray = false
        while k < end {
            let seg = segments[k]
            let n = nodes[current]
            switch n.kind {
            case .object:
                var found = look.member(of: current, seg)
                if let v = found, let c = change(at: v) {
                    // Removed: the key may have been set again since (an added member).
                    if edits[c].value >= 0 { return .inWritten(edit: c, rest: k + 1, inArray: false) }
                    found = nil
                }
                guard let v = found else {
                    if let a = added(to: current, key: k) { return .inWritten(edit: a, rest: k + 1, inArray: false) }
                    return .missing(object: current, rest: k)
                }
                current = v
                inArray = false
            case .array:
                guard let i = look.element(of: current, seg.index) else { return .noElement }
                if let c = change(at: i) { return .inWritten(edit: c, rest: k + 1, inArray: true) }
                current = i
                inArray = true
            default:
                return .belowScalar(index: current, rest: k)
            }
            k += 1
        }
        return .original(current, inArray: inArray)
    }

    /// Whether the subtree at tape index `i` holds an edit (a change or an added member).
    private func holdsEdits(_ i: Int) -> Bool {
        if rootOpened && i == 0 { return true }
        let end = Int(look.nodes[i].next)
        return edits.withUnsafeBufferPointer { e in
            // A change at `i` itself is not inside; a member added to `i` is.
            for k in e.indices where e[k].at < end && (e[k].at > i || (e[k].isAdded && e[k].at == i)) { return true }
            return false
        }
    }

    // MARK: - The transforms

    private mutating func apply(_ step: SplicePlan.Step) -> Bool {
        switch step {
        case .remove(let p):
            return remove(p, keepingValue: false) != nil
        case .mask(let p):
            return mask(p)
        case .setReference(let p, let source):
            let w: Written = look.original(source).map { .ref($0) } ?? .literal(SplicePlan.emptyLiteral)
            return set(p, add(w))
        case .setLiteral(let p, let literal):
            return set(p, add(.literal(literal)))
        case .setRendered(let p, let template):
            return set(p, add(string(plan.templates[template].render(JSONRef(storage: storage, index: 0)))))
        case .rename(let from, let to):
            guard let removed = remove(from, keepingValue: true) else { return false }
            return removed < 0 || set(to, removed)
        case .keep(let keys, let filter):
            return keep(keys, filter: filter)
        }
    }

    /// Appends a written value; its index.
    private mutating func add(_ w: Written) -> Int {
        values.append(w)
        return values.count - 1
    }

    /// A string value: its bytes in `scratch` when it has nothing to escape.
    private mutating func string(_ s: String) -> Written {
        var s = s
        return s.withUTF8 { u in plain(u) } ?? .value(.string(s))
    }

    /// `u` as a `.plain` value, or nil when it has something to escape.
    private mutating func plain(_ u: UnsafeBufferPointer<UInt8>) -> Written? {
        guard JSONValue.isPlainString(u) else { return nil }
        if let short = Short(stars: 0, u) { return .short(short) }
        let start = scratch.count
        scratch.append(contentsOf: u)
        return .plain(start: start, count: u.count)
    }

    /// Removes the value at `path`: the index of what was removed in `values`, -1 when there was
    /// nothing, nil when this form does not cover it. `keepingValue`: the value moves elsewhere
    /// (a rename), so a value with edits inside is not covered (a reference to it would lose
    /// them).
    private mutating func remove(_ path: SplicePlan.Path, keepingValue: Bool) -> Int? {
        switch locate(path) {
        case .original(let i, let inArray):
            if i == 0 || inArray || (keepingValue && holdsEdits(i)) { return nil }
            edits.append(Edit(at: i, isAdded: false, key: -1, value: -1))
            return keepingValue ? add(.ref(i)) : -1
        case .inWritten(let e, let rest, let inArray):
            let w = edits[e].value
            guard rest == path.end, w >= 0 else { return nil }
            if edits[e].isAdded {
                edits.remove(at: e)
            } else {
                guard edits[e].at != 0, !inArray else { return nil }
                edits[e].value = -1
            }
            return w
        case .missing, .belowScalar, .noElement:
            return -1
        }
    }

    private mutating func mask(_ path: SplicePlan.Path) -> Bool {
        switch locate(path) {
        case .original(let i, _):
            // Masked the way a reference to it is (a string or a number; nothing else).
            if let m = masked(original: i) { edits.append(Edit(at: i, isAdded: false, key: -1, value: add(m))) }
            return true
        case .inWritten(let e, let rest, _):
            let w = edits[e].value
            guard w >= 0 else { return true }
            let inside = plan.segmentStrings[rest..<path.end]
            switch values[w] {
            case .ref(let i):
                guard let ref = JSONRef(storage: storage, index: i)[path: JSONPath(segments: Array(inside))] else { return true }
                guard ref.kind == .string || ref.kind == .number else { return true }
                guard inside.isEmpty, let m = masked(original: ref.index) else { return false }  // inside a reference: not covered
                edits[e].value = add(m)
                return true
            default:
                guard let v = jsonValue(values[w]) else { return false }
                guard let target = v.at(inside), let text = target.scalarText, target != .bool(true), target != .bool(false) else { return true }
                let m = Transform.masked(text)
                if inside.isEmpty {
                    guard case .string(let s) = m else { return false }
                    edits[e].value = add(string(s))
                    return true
                }
                var nv = v
                guard nv.setting(inside, to: m) else { return false }
                edits[e].value = add(.value(nv))
                return true
            }
        case .missing, .belowScalar, .noElement:
            return true
        }
    }

    /// The original string or number at `i` masked (`Transform.masked`), nil for other values.
    private mutating func masked(original i: Int) -> Written? {
        let n = look.nodes[i]
        guard n.kind == .string || n.kind == .number else { return nil }
        if n.kind == .string && n.flag {
            guard case .string(let s) = Transform.masked(storage.decodeString(n)) else { return nil }
            return string(s)
        }
        // The source bytes are the text: all but the last four scalars become '*'.
        let u = UnsafeBufferPointer(rebasing: look.b[Int(n.start)..<Int(n.end)])
        guard let (stars, tail) = Transform.maskSplit(u) else { return plain(u) ?? .value(.string(String(decoding: u, as: UTF8.self))) }
        let kept = UnsafeBufferPointer(rebasing: u[tail...])
        guard JSONValue.isPlainString(kept) else {
            return .value(.string(String(repeating: "*", count: stars) + String(decoding: kept, as: UTF8.self)))
        }
        if let short = Short(stars: stars, kept) { return .short(short) }
        let start = scratch.count
        scratch.append(contentsOf: repeatElement(UInt8(ascii: "*"), count: stars))
        scratch.append(contentsOf: kept)
        return .plain(start: start, count: stars + kept.count)
    }

    /// A written value as the tree holds it; nil for a reference (editing inside one is not
    /// covered).
    private func jsonValue(_ w: Written) -> JSONValue? {
        switch w {
        case .ref: return nil
        case .literal(let l): return plan.literalValues[l]
        case .plain(let start, let count):
            return .string(scratch.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[start..<start + count]), as: UTF8.self) })
        case .short(let short):
            return .string(short.withBytes { String(decoding: $0, as: UTF8.self) })
        case .nested(let first, let count, let leaf):
            guard var v = exactValue(values[leaf]) else { return nil }
            for k in (first..<first + count).reversed() { v = .object(JSONObject([JSONObject.Member(key: plan.segmentStrings[k], value: v)])) }
            return v
        case .value(let v): return v
        }
    }

    /// `w` as a value that writes the same bytes as `w` does: for a reference, a number, boolean
    /// or null, or a string with nothing to escape (a reference writes its source bytes; a value
    /// is encoded again); nil for objects, arrays and other strings, which only a reference
    /// writes exactly as received.
    private func exactValue(_ w: Written) -> JSONValue? {
        guard case .ref(let i) = w else { return jsonValue(w) }
        let n = look.nodes[i]
        switch n.kind {
        case .null: return .null
        case .bool: return .bool(n.flag)
        case .number: return .number(storage.text(n))
        case .string:
            guard !n.flag else { return nil }
            return JSONValue.isPlainString(UnsafeBufferPointer(rebasing: look.b[Int(n.start)..<Int(n.end)])) ? .string(look.decoded(n)) : nil
        default: return nil
        }
    }

    /// `values[new]` below the segments `first..<end` in new objects (`EditableJSON` creates
    /// them for the missing part of a `set` path); nil when not covered.
    private mutating func nest(_ new: Int, _ first: Int, _ end: Int) -> Int? {
        if first == end { return new }
        guard exactValue(values[new]) != nil else { return nil }
        return add(.nested(first: first, count: end - first, leaf: new))
    }

    private mutating func set(_ path: SplicePlan.Path, _ new: Int) -> Bool {
        switch locate(path) {
        case .original(let i, _):
            edits.append(Edit(at: i, isAdded: false, key: -1, value: new))
            return true
        case .inWritten(let e, let rest, _):
            if rest == path.end {
                edits[e].value = new
                return true
            }
            // Inside a written value, by the tree's rules.
            guard edits[e].value >= 0, var v = jsonValue(values[edits[e].value]), let nv = exactValue(values[new]) else { return false }
            guard v.setting(plan.segmentStrings[rest..<path.end], to: nv) else { return false }
            edits[e].value = add(.value(v))
            return true
        case .missing(let object, let rest):
            guard let w = nest(new, rest + 1, path.end) else { return false }
            edits.append(Edit(at: object, isAdded: true, key: rest, value: w))
            return true
        case .belowScalar(let index, let rest):
            // The scalar is replaced by an object holding the path (as `EditableJSON` does).
            guard let w = nest(new, rest, path.end) else { return false }
            edits.append(Edit(at: index, isAdded: false, key: -1, value: w))
            return true
        case .noElement:
            return false  // `EditableJSON` opens the containers on the way: not covered
        }
    }

    private mutating func keep(_ keys: SplicePlan.Path, filter: UInt64) -> Bool {
        let nodes = look.nodes
        guard nodes[0].kind == .object, change(at: 0) == nil else { return false }
        var i = 1
        for _ in 0..<nodes[0].count {
            let value = i + 1
            if !look.listed(member: nodes[i], keys, filter: filter) {
                if let c = change(at: value) {
                    edits[c].value = -1
                } else {
                    guard edits.count < Self.maxEdits else { return false }
                    edits.append(Edit(at: value, isAdded: false, key: -1, value: -1))
                }
            }
            i = Int(nodes[value].next)
        }
        // Members added to the root that `keep` does not list go.
        var k = 0
        while k < edits.count {
            if edits[k].isAdded && edits[k].at == 0 && !look.lists(keys, segment: edits[k].key) {
                edits.remove(at: k)
            } else {
                k += 1
            }
        }
        rootOpened = true
        return true
    }

    // MARK: - Output

    /// An edit's place in the output order: by tape position, then changes before added members
    /// before the opened root, then in the order made.
    struct Mark {
        var at: Int
        var kind: Int  // 0: a change, 1: an added member, 2: the root opened
        var edit: Int

        static func < (a: Mark, b: Mark) -> Bool {
            (a.at, a.kind, a.edit) < (b.at, b.kind, b.edit)
        }
    }

    /// The edited document's bytes.
    private func written() -> [UInt8] {
        // Locals: the closures below then capture these, not a copy of the whole state.
        let (edits, values, look, rootOpened) = (self.edits, self.values, self.look, self.rootOpened)
        return scratch.withUnsafeBufferPointer { scratch in
            Self.written(edits, values, scratch, look, rootOpened)
        }
    }

    private static func written(
        _ edits: [Edit], _ values: [Written], _ scratch: UnsafeBufferPointer<UInt8>, _ look: Lookup, _ rootOpened: Bool
    ) -> [UInt8] {
        withUnsafeTemporaryAllocation(of: Mark.self, capacity: edits.count + 1) { marks in
            // Sorted by insertion: a few dozen at most.
            var count = 0
            func insert(_ m: Mark) {
                var j = count
                while j > 0 && m < marks[j - 1] {
                    marks[j] = marks[j - 1]
                    j -= 1
                }
                marks[j] = m
                count += 1
            }
            for (k, e) in edits.enumerated() { insert(Mark(at: e.at, kind: e.isAdded ? 1 : 0, edit: k)) }
            if rootOpened { insert(Mark(at: 0, kind: 2, edit: -1)) }
            // Room for the original, everything the edits wrote and their keys: written again
            // into more only when a value the tree made (`.value`) or a key with escapes is
            // longer than that.
            let estimate = look.b.count + scratch.count + look.plan.pool.count + 24 * edits.count + 64
            return [UInt8].writing(estimate: estimate) { out in
                var w = Writer(
                    look: look, scratch: scratch, marks: UnsafeBufferPointer(rebasing: marks[..<count]), edits: edits, values: values)
                w.value(0, &out)
            }
        }
    }

    /// The output walk: in tape order, so the marks are read with one cursor that only moves
    /// forward (a subtree with no mark inside is copied whole and its marks never looked at).
    private struct Writer {
        let look: Lookup
        let scratch: UnsafeBufferPointer<UInt8>
        let marks: UnsafeBufferPointer<Mark>
        let edits: [Edit]
        let values: [Written]
        var cursor = 0
        var b: UnsafeBufferPointer<UInt8> { look.b }
        var nodes: UnsafeBufferPointer<JSONDocument.Node> { look.nodes }
        var plan: SplicePlan { look.plan }
        var pool: UnsafeBufferPointer<UInt8> { look.plan.pool }

        /// Moves the cursor to the first mark at or after tape index `i`.
        @inline(__always)
        mutating func skip(to i: Int) {
            while cursor < marks.count && marks[cursor].at < i { cursor += 1 }
        }

        /// The value `edits` say the original value at `i` now is: an index into `values`, -1
        /// removed, nil unchanged. The cursor must be at `i`.
        @inline(__always)
        func change(_ i: Int) -> Int? {
            guard cursor < marks.count, marks[cursor].at == i, marks[cursor].kind == 0 else { return nil }
            return edits[marks[cursor].edit].value
        }

        /// Whether the subtree at `i` holds a mark (a change inside, a member added to it, the
        /// root opened). The cursor must be at `i`.
        @inline(__always)
        func holds(_ i: Int) -> Bool {
            var k = cursor
            if k < marks.count && marks[k].at == i && marks[k].kind == 0 { k += 1 }
            return k < marks.count && marks[k].at < Int(nodes[i].next)
        }

        mutating func value(_ i: Int, _ out: inout ByteWriter) {
            skip(to: i)
            if let c = change(i), c >= 0 {
                write(values[c], &out)
                return
            }
            let n = nodes[i]
            guard (n.kind == .object || n.kind == .array) && holds(i) else {
                appendRaw(n, &out)
                return
            }
            if n.kind == .array {
                out.append(UInt8(ascii: "["))
                var e = i + 1
                for k in 0..<Int(n.count) {
                    if k > 0 { out.append(UInt8(ascii: ",")) }
                    value(e, &out)
                    e = Int(nodes[e].next)
                }
                out.append(UInt8(ascii: "]"))
                return
            }
            let entry = cursor  // the marks at `i`: added members among them
            out.append(UInt8(ascii: "{"))
            var first = true
            // Untouched members written as they are in the source: consecutive ones with nothing
            // between them but the comma are one span of it, copied at once.
            var span = 0..<0
            var key = i + 1
            for _ in 0..<Int(n.count) {
                let value = key + 1
                skip(to: value)
                let c = change(value)
                if c == nil || c! >= 0 {
                    let v = nodes[value]
                    let edited = c != nil || ((v.kind == .object || v.kind == .array) && holds(value))
                    let k = nodes[key]
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
                            appendKey(k, &out)
                        } else {
                            appendRaw(k, &out)
                        }
                        out.append(UInt8(ascii: ":"))
                        self.value(value, &out)
                    }
                }
                key = Int(nodes[value].next)
            }
            if !span.isEmpty { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[span])) }
            var m = entry
            while m < marks.count && marks[m].at == i {
                if marks[m].kind == 1 {
                    let e = edits[marks[m].edit]
                    if e.value >= 0 {
                        if !first { out.append(UInt8(ascii: ",")) }
                        first = false
                        appendSegmentKey(e.key, &out)
                        out.append(UInt8(ascii: ":"))
                        write(values[e.value], &out)
                    }
                }
                m += 1
            }
            out.append(UInt8(ascii: "}"))
        }

        func write(_ w: Written, _ out: inout ByteWriter) {
            switch w {
            case .ref(let r): appendRaw(nodes[r], &out)
            case .literal(let l):
                let r = plan.literalBytes[l]
                out.append(contentsOf: UnsafeBufferPointer(rebasing: pool[Int(r.first)..<r.end]))
            case .plain(let start, let count):
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[start..<start + count]))
                out.append(UInt8(ascii: "\""))
            case .short(let short):
                out.append(UInt8(ascii: "\""))
                short.withBytes { out.append(contentsOf: $0) }
                out.append(UInt8(ascii: "\""))
            case .nested(let first, let count, let leaf):
                for k in first..<first + count {
                    out.append(UInt8(ascii: "{"))
                    appendSegmentKey(k, &out)
                    out.append(UInt8(ascii: ":"))
                }
                write(values[leaf], &out)
                for _ in 0..<count { out.append(UInt8(ascii: "}")) }
            case .value(let v): out.append(contentsOf: v.serialized())
            }
        }

        /// A plan segment as a JSON key.
        func appendSegmentKey(_ k: Int, _ out: inout ByteWriter) {
            let s = plan.segments[k]
            guard s.isPlain else { return out.append(contentsOf: JSONValue.quotedBytes(plan.segmentStrings[k])) }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(rebasing: pool[Int(s.start)..<Int(s.start) + Int(s.count)]))
            out.append(UInt8(ascii: "\""))
        }

        /// A value's source bytes (strings with their quotes).
        func appendRaw(_ n: JSONDocument.Node, _ out: inout ByteWriter) {
            let quoted = n.kind == .string
            let start = quoted ? Int(n.start) - 1 : Int(n.start)
            let end = quoted ? Int(n.end) + 1 : Int(n.end)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<end]))
        }

        /// The key of a member whose value was edited, as `EditableJSON` writes it: decoded and
        /// encoded again (which gives the source bytes when the key has no escapes and nothing
        /// that encoding escapes).
        func appendKey(_ k: JSONDocument.Node, _ out: inout ByteWriter) {
            if !k.flag && JSONValue.isPlainString(UnsafeBufferPointer(rebasing: b[Int(k.start)..<Int(k.end)])) {
                appendRaw(k, &out)
            } else {
                out.append(contentsOf: JSONValue.quotedBytes(look.decoded(k)))
            }
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
            if let i = o.members.lastIndex(where: { JSONObject.sameKey($0.key, first) }) {
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
