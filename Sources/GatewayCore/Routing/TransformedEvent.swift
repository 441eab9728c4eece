/// A route's transforms over one event, applied only when something needs what they make.
///
/// Why: handlers that read values (a metadata filter, a condition on `payment.status`) often
/// stop an event before any handler reads the body; a tenant split sends every event through one
/// filter per tenant, and all but one drop it. The transforms ran first every time: in the
/// benchmark route (four transforms, then a filter that drops) they were 16,000 of the 41,000
/// instructions a route added per event. A value at a path no transform touches is the
/// original's, read from the event's tape; the edits are made the first time a value they
/// touch, or the whole body, is asked for, and kept for the rest of the delivery.
///
/// One delivery's, used by one thread at a time (a delivery moves between threads whole, with a
/// happens-before edge at each hand-over): hence the unchecked `Sendable`.
public final class TransformedEvent: @unchecked Sendable {
    public let original: JSONRef
    public let reach: TransformReach
    @exclusivity(unchecked) private var applied: EditableJSON?

    /// `reach` is the route's, made once when the route is compiled.
    public init(_ original: JSONRef, reach: TransformReach) {
        self.original = original
        self.reach = reach
    }

    public convenience init(_ original: JSONRef, transforms: [Transform]) {
        self.init(original, reach: TransformReach(transforms))
    }

    /// Whether the transforms have run (for tests and the dry run).
    public var isApplied: Bool { applied != nil }

    /// The transforms' edits (made on first use).
    public var view: EditableJSON {
        if let v = applied { return v }
        let v = Transform.applyAllToView(reach.transforms, to: original)
        applied = v
        return v
    }

    /// The value at `path` once the transforms have run, running them only when one of them
    /// touches that path.
    public func value(at path: JSONPath) -> EditableJSON? {
        if applied == nil && !reach.touches(path) {
            return original[path: path].map(EditableJSON.init)
        }
        return view.get(path)
    }

    /// The transformed event as JSON: written from the edits kept beside the original bytes
    /// (`SplicedEdits`) when they cover the transforms and nothing has opened the view yet,
    /// else from the view. Both write the same bytes.
    public func serialized() -> [UInt8] {
        if applied == nil, let out = SplicedEdits.apply(reach.splice, to: original) { return out }
        return view.serialized()
    }
}

/// What a route's transforms can change, worked out once per route: `touches` is asked for every
/// value a handler reads (a metadata filter reads one per event), and walking every transform's
/// paths with `Transform.touches` cost 1,700 instructions per event in the benchmark route.
///
/// The fast answer rests on the first segment: a path none of the `remove`/`mask`/`set`/`rename`
/// paths starts with (compared as text) and every `keep` lists is out of their reach. Anything
/// else (a first segment some transform names, one that reads as an array index, the root)
/// takes the full check.
public final class TransformReach: Sendable {
    public let transforms: [Transform]
    /// The first segment of every path a `remove`, `mask`, `set` or `rename` names.
    private let named: [String]
    /// Each `keep`'s keys, in order.
    private let keeps: [[String]]
    /// `named` and `keeps` as UTF-8, and whether all of them are ASCII (then `touches`
    /// compares bytes).
    private let namedBytes: [[UInt8]]
    private let keepsBytes: [[[UInt8]]]
    private let namesAreASCII: Bool
    /// The transforms compiled for `SplicedEdits` (paths as bytes, literals encoded).
    public let splice: SplicePlan

    public init(_ transforms: [Transform]) {
        self.transforms = transforms
        var named: [String] = []
        var keeps: [[String]] = []
        for t in transforms {
            switch t {
            case .remove(let paths), .mask(let paths): named += paths.compactMap(\.segments.first)
            case .set(let assignments): named += assignments.compactMap(\.path.segments.first)
            case .rename(let moves): named += moves.flatMap { [$0.from.segments.first, $0.to.segments.first].compactMap { $0 } }
            case .keep(let keys): keeps.append(keys)
            }
        }
        self.named = named
        self.keeps = keeps
        namedBytes = named.map { Array($0.utf8) }
        splice = SplicePlan(transforms)
        keepsBytes = keeps.map { keys in keys.map { Array($0.utf8) } }
        namesAreASCII = (namedBytes + keepsBytes.flatMap { $0 }).allSatisfy { $0.withUnsafeBufferPointer(ASCII.isASCII) }
    }

    /// `Transform.touches(transforms, path)`, the same answer.
    public func touches(_ path: JSONPath) -> Bool {
        guard !transforms.isEmpty else { return false }
        guard let first = path.segments.first else { return true }
        if first.utf8.first.map({ $0 &- 0x30 < 10 }) ?? true { return Transform.touches(transforms, path) }
        // As bytes when the segment and every name here are ASCII (the same answer: ASCII text
        // has no canonically equivalent other spelling); a String comparison of different
        // strings cost some 30 instructions each, for every value a handler reads.
        if namesAreASCII,
            let answer = first.utf8.withContiguousStorageIfAvailable({ f -> Bool? in
                guard ASCII.isASCII(f) else { return nil }
                for name in namedBytes where ByteSearch.equal(name, f) { return nil }  // the full check
                for keep in keepsBytes where !keep.contains(where: { ByteSearch.equal($0, f) }) { return true }
                return false
            })
        {
            return answer ?? Transform.touches(transforms, path)
        }
        for i in named.indices where named[i] == first { return Transform.touches(transforms, path) }
        for i in keeps.indices where !keeps[i].contains(where: { JSONObject.sameKey($0, first) }) { return true }
        return false
    }
}

extension Transform {
    /// Whether running `transforms` can change the value at `path` (conservatively: true when
    /// in doubt). A transform at path `q` changes the value at `p` when one path leads to the
    /// other (`q` is `p` or inside it, or `p` is inside `q`); `keep` changes every top-level key
    /// it does not list, and the root.
    public static func touches(_ transforms: [Transform], _ path: JSONPath) -> Bool {
        let p = path.segments
        for t in transforms {
            switch t {
            case .remove(let paths), .mask(let paths):
                if paths.contains(where: { related($0.segments, p) }) { return true }
            case .set(let assignments):
                if assignments.contains(where: { related($0.path.segments, p) }) { return true }
            case .rename(let moves):
                if moves.contains(where: { related($0.from.segments, p) || related($0.to.segments, p) }) { return true }
            case .keep(let keys):
                guard let first = p.first, keys.contains(where: { JSONObject.sameKey($0, first) }) else { return true }
            }
        }
        return false
    }

    /// One path is a prefix of the other (segment by segment). Segments that read as the same
    /// array index (`1`, `01`) count as equal: `EditableJSON` resolves both to one element.
    static func related(_ a: [String], _ b: [String]) -> Bool {
        for (x, y) in zip(a, b) where x != y {
            guard let i = Int(x), let j = Int(y), i == j else { return false }
        }
        return true
    }
}
