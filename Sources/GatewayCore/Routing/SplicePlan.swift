/// A route's transforms compiled once, when the route is, into the form `SplicedEdits` runs:
/// every path segment's UTF-8 in one byte pool, each literal `set` value already encoded as
/// JSON, and the steps as plain values (indices into those tables).
///
/// Why: `SplicedEdits` walked the transforms themselves, per event: each path's segments as
/// Strings (compared to the event's keys through a closure per segment), each literal encoded
/// again, each enum payload retained and released. For the benchmark route (remove, mask, two
/// sets, keep) that was some 6,000 of its 17,400 instructions. Nothing here depends on the
/// event, so it is done once.
public final class SplicePlan: @unchecked Sendable {
    // Unchecked: everything is written once, in `init`, and only read after.
    /// One path segment (or one `keep` key): its bytes in `pool`, and what the walk needs to know
    /// about it without looking at them again.
    struct Segment: Sendable {
        var start: Int32
        var count: Int32
        /// The array position the segment names (`Int(segment)`, as `JSONRef` and `EditableJSON`
        /// read it), or -1 when it names none (not a number, or negative).
        var index: Int
        /// Nothing in it that JSON string encoding escapes: written between quotes as it is.
        var isPlain: Bool
    }

    /// A run of `segments`: a path, or a `keep`'s keys.
    struct Path: Sendable {
        var first: Int32
        var count: Int32
        var end: Int { Int(first) + Int(count) }
    }

    /// One thing to do, in the order written (a transform with several paths is several steps).
    enum Step: Sendable {
        case remove(Path)
        case mask(Path)
        /// `set` to a template that is exactly one placeholder: the value at `source` as it is.
        case setReference(Path, source: Path)
        /// `set` to text with no placeholder: `literals[literal]`.
        case setLiteral(Path, literal: Int)
        /// `set` to any other template: `templates[template]` rendered from the event.
        case setRendered(Path, template: Int)
        case rename(from: Path, to: Path)
        /// `keep`'s keys, and a 64-bit filter of their lengths and first bytes (`filterBit`):
        /// a member whose bit is clear is not listed, without comparing it to every key.
        case keep(Path, filter: UInt64)
    }

    let transforms: [Transform]
    let steps: [Step]
    /// The segments' bytes and the literals' encodings, and the segments: in memory this plan
    /// owns, read through plain pointers (an array read inside a per-member loop was retained
    /// and released each time: 35 times per event in the benchmark route's `keep`).
    let pool: UnsafeBufferPointer<UInt8>
    let segments: UnsafeBufferPointer<Segment>
    /// Each segment as text (parallel to `segments`), for the rare steps that edit inside a value
    /// a transform wrote, which go through `JSONValue`. Keys compare as bytes everywhere
    /// (`JSONObject.sameKey`): the segments' bytes are enough for every other lookup.
    let segmentStrings: [String]
    /// Each literal's JSON encoding (with quotes) in `pool`, and its value.
    let literalBytes: [Path]
    let literalValues: [JSONValue]
    let templates: [Template]

    /// The literal for the empty string: what a `set` to a missing value writes.
    static let emptyLiteral = 0

    public init(_ transforms: [Transform]) {
        self.transforms = transforms
        var b = Builder()
        _ = b.literal("")
        for t in transforms {
            switch t {
            case .remove(let paths):
                for p in paths { b.steps.append(.remove(b.path(p.segments))) }
            case .mask(let paths):
                for p in paths { b.steps.append(.mask(b.path(p.segments))) }
            case .set(let assignments):
                for (path, template) in assignments {
                    let target = b.path(path.segments)
                    if let p = template.onlyPath {
                        b.steps.append(.setReference(target, source: b.path(p.segments)))
                    } else if template.isLiteral {
                        let text = template.parts.map { if case .literal(let s) = $0 { s } else { "" } }.joined()
                        b.steps.append(.setLiteral(target, literal: b.literal(text)))
                    } else {
                        b.templates.append(template)
                        b.steps.append(.setRendered(target, template: b.templates.count - 1))
                    }
                }
            case .rename(let moves):
                for (from, to) in moves { b.steps.append(.rename(from: b.path(from.segments), to: b.path(to.segments))) }
            case .keep(let keys):
                let filter = keys.reduce(UInt64(0)) { f, key in f | key.withUTF8Bytes { Self.filterBit($0) } }
                b.steps.append(.keep(b.path(keys), filter: filter))
            }
        }
        steps = b.steps
        pool = Self.copy(b.pool)
        segments = Self.copy(b.segments)
        segmentStrings = b.strings
        literalBytes = b.literalBytes
        literalValues = b.literalValues
        templates = b.templates
    }

    /// A key's bit in a `keep` filter: from its length and first byte.
    @inline(__always)
    static func filterBit(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let first = key.first.map(Int.init) ?? 0
        return 1 << UInt64((key.count &* 31 &+ first) & 63)
    }

    /// A segment's bytes.
    @inline(__always)
    func bytes(of s: Segment) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: pool[Int(s.start)..<Int(s.start) + Int(s.count)])
    }

    deinit {
        pool.deallocate()
        segments.deallocate()
    }

    private static func copy<T>(_ a: [T]) -> UnsafeBufferPointer<T> {
        let p = UnsafeMutableBufferPointer<T>.allocate(capacity: max(1, a.count))
        _ = p.initialize(from: a)
        return UnsafeBufferPointer(rebasing: p[..<a.count])
    }

    private struct Builder {
        var steps: [Step] = []
        var pool: [UInt8] = []
        var segments: [Segment] = []
        var strings: [String] = []
        var literalBytes: [Path] = []
        var literalValues: [JSONValue] = []
        var templates: [Template] = []

        mutating func path(_ parts: [String]) -> Path {
            let first = segments.count
            for s in parts {
                let start = pool.count
                pool += s.utf8
                let bytes = pool[start...]
                let index = Int(s).flatMap { $0 >= 0 ? $0 : nil } ?? -1
                segments.append(Segment(
                    start: Int32(truncatingIfNeeded: start), count: Int32(truncatingIfNeeded: bytes.count), index: index,
                    isPlain: bytes.withUnsafeBufferPointer(JSONValue.isPlainString)))
                strings.append(s)
            }
            return Path(first: Int32(truncatingIfNeeded: first), count: Int32(truncatingIfNeeded: parts.count))
        }

        mutating func literal(_ text: String) -> Int {
            let start = pool.count
            JSONValue.writeString(text, to: &pool)
            literalBytes.append(Path(first: Int32(truncatingIfNeeded: start), count: Int32(truncatingIfNeeded: pool.count - start)))
            literalValues.append(.string(text))
            return literalValues.count - 1
        }
    }
}
