/// A JSON value being edited by transforms, opened only where an edit reaches.
///
/// Why: most of a notification passes through a route untouched. Building a full tree of Swift
/// values to remove one field and add another cost about 13 µs per event; keeping untouched
/// values as references into the original bytes and copying those bytes on output costs a
/// fraction of that. Only the objects and arrays on an edited path are opened.
public enum EditableJSON: Sendable {
    /// An untouched value of the original document.
    case original(JSONRef)
    /// A value written by a transform.
    case value(JSONValue)
    /// An object opened for editing (members in order).
    case object([Member])
    /// An array opened for editing.
    case array([EditableJSON])

    /// A member of an opened object. (A struct, not a tuple: tuples are copied through slow
    /// generic value witnesses.)
    public struct Member: Sendable {
        public var key: String
        public var value: EditableJSON
        /// The member came from the original object with its key (not renamed or added): while
        /// its value is also still original, the key's source bytes are copied on output instead
        /// of escaping `key` again.
        var keyIsOriginal = false
        public init(_ key: String, _ value: EditableJSON) {
            self.key = key
            self.value = value
        }
    }

    public init(_ ref: JSONRef) {
        self = .original(ref)
    }

    /// Opens an object or array one level so it can be edited: an original one (its members stay
    /// original), or one a transform wrote (its members become written values).
    private mutating func open() {
        if case .value(let v) = self {
            switch v {
            case .object(let o): self = .object(o.members.map { Member($0.key, .value($0.value)) })
            case .array(let a): self = .array(a.map { .value($0) })
            default: break
            }
            return
        }
        guard case .original(let ref) = self else { return }
        switch ref.kind {
        case .object:
            var members: [Member] = []
            members.reserveCapacity(ref.count + 2)  // room for a `set` without a copy
            ref.forEachMember { key, value in
                var m = Member(key, .original(value))
                m.keyIsOriginal = true
                members.append(m)
            }
            self = .object(members)
        case .array: self = .array(ref.elements.map { .original($0) })
        default: break
        }
    }

    /// The value at `path`, if present.
    public func get(_ path: JSONPath) -> EditableJSON? {
        var current = self
        for seg in path.segments {
            switch current {
            case .original(let ref):
                guard let v = ref.child(seg) else { return nil }
                current = .original(v)
            case .object(let members):
                guard let v = members.last(where: { $0.key == seg })?.value else { return nil }
                current = v
            case .array(let elements):
                guard let i = Int(seg), i >= 0, i < elements.count else { return nil }
                current = elements[i]
            case .value(let v):
                guard let next = v.child(seg) else { return nil }
                current = .value(next)
            }
        }
        return current
    }

    /// Sets `path`, creating objects for missing or scalar parents (an array index must exist).
    public mutating func set(_ path: JSONPath, to newValue: EditableJSON) {
        set(path.segments[...], newValue)
    }

    private mutating func set(_ segs: ArraySlice<String>, _ newValue: EditableJSON) {
        guard let first = segs.first else {
            self = newValue
            return
        }
        let rest = segs.dropFirst()
        open()
        if var members = takeMembers() {
            if let i = members.lastIndex(where: { $0.key == first }) {
                members[i].value.set(rest, newValue)
            } else {
                var child = EditableJSON.value(.null)
                child.set(rest, newValue)
                members.append(Member(first, child))
            }
            self = .object(members)
        } else if var elements = takeElements() {
            if let i = Int(first), i >= 0, i < elements.count { elements[i].set(rest, newValue) }
            self = .array(elements)
        } else {
            // A scalar where the path needs an object: the object replaces it.
            self = .object([])
            set(segs, newValue)
        }
    }

    /// An opened object's members, moved out (`self` becomes null) so that the caller edits
    /// them in place: a `switch` over `self` keeps a second reference to the array alive, and
    /// every edit then copied it (and retained each member) first.
    private mutating func takeMembers() -> [Member]? {
        guard case .object(let members) = self else { return nil }
        self = .value(.null)
        return members
    }

    /// The same for an opened array's elements.
    private mutating func takeElements() -> [EditableJSON]? {
        guard case .array(let elements) = self else { return nil }
        self = .value(.null)
        return elements
    }

    /// Removes `path` and returns what was there.
    @discardableResult
    public mutating func remove(_ path: JSONPath) -> EditableJSON? {
        // Nothing to remove: open (and so re-encode) nothing.
        guard get(path) != nil else { return nil }
        return remove(path.segments[...])
    }

    private mutating func remove(_ segs: ArraySlice<String>) -> EditableJSON? {
        guard let first = segs.first else { return nil }
        let rest = segs.dropFirst()
        open()
        if var members = takeMembers() {
            defer { self = .object(members) }
            guard let i = members.lastIndex(where: { $0.key == first }) else { return nil }
            if rest.isEmpty { return members.remove(at: i).value }
            return members[i].value.remove(rest)
        }
        if var elements = takeElements() {
            defer { self = .array(elements) }
            guard let i = Int(first), i >= 0, i < elements.count else { return nil }
            if rest.isEmpty { return elements.remove(at: i) }
            return elements[i].remove(rest)
        }
        return nil
    }

    /// Scalar text, as conditions and templates see it.
    public var scalarText: String? {
        switch self {
        case .original(let r): r.scalarText
        case .value(let v): v.scalarText
        default: nil
        }
    }

    /// Whether this is JSON `null`.
    public var isNull: Bool {
        switch self {
        case .original(let r): r.kind == .null
        case .value(let v): v == .null
        default: false
        }
    }

    /// Keeps only the listed top-level keys of an object.
    public mutating func keep(_ keys: [String]) {
        open()
        guard var members = takeMembers() else { return }
        members.removeAll { !keys.contains($0.key) }
        self = .object(members)
    }

    /// Writes compact JSON: original values are copied byte for byte from the document.
    public func write(to out: inout [UInt8]) {
        switch self {
        case .original(let ref):
            ref.writeRaw(to: &out)
        case .value(let v):
            v.write(to: &out)
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if m.keyIsOriginal, case .original(let ref) = m.value {
                    ref.writeRawKey(to: &out)
                } else {
                    JSONValue.writeString(m.key, to: &out)
                }
                out.append(UInt8(ascii: ":"))
                m.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, e) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                e.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    public func serialized(capacityHint: Int = 256) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(capacityHint)
        write(to: &out)
        return out
    }
}

extension JSONValue {
    /// One step down: an object member or an array element.
    func child(_ segment: String) -> JSONValue? {
        switch self {
        case .object(let o): return o[segment]
        case .array(let a):
            guard let i = Int(segment), i >= 0, i < a.count else { return nil }
            return a[i]
        default: return nil
        }
    }
}

extension JSONRef {
    /// One step down: an object member or an array element.
    func child(_ segment: String) -> JSONRef? {
        switch kind {
        case .object: return self[segment]
        case .array: return Int(segment).flatMap { self[$0] }
        default: return nil
        }
    }

    /// Calls `body` with each member of an object (keys decoded), in order.
    public func forEachMember(_ body: (String, JSONRef) -> Void) {
        let n = node
        guard n.kind == .object else { return }
        var i = index + 1
        for _ in 0..<n.count {
            body(storage.decodeString(storage.nodes[i]), JSONRef(storage: storage, index: i + 1))
            i = Int(storage.nodes[i + 1].next)
        }
    }

    /// An array's elements, in order.
    public var elements: [JSONRef] {
        let n = node
        guard n.kind == .array else { return [] }
        var out: [JSONRef] = []
        out.reserveCapacity(Int(n.count))
        var i = index + 1
        for _ in 0..<n.count {
            out.append(JSONRef(storage: storage, index: i))
            i = Int(document.nodes[i].next)
        }
        return out
    }

    /// The value's exact source bytes (strings with their quotes).
    public var rawBytes: [UInt8] {
        var out: [UInt8] = []
        writeRaw(to: &out)
        return out
    }

    /// Appends the source bytes (with quotes) of the key of this object member's value: in the
    /// tape a member's key node comes right before its value node.
    func writeRawKey(to out: inout [UInt8]) {
        let k = storage.nodes[index - 1]
        document.bytes.withUnsafeBufferPointer { b in
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[Int(k.start) - 1..<Int(k.end) + 1]))
        }
    }

    /// Appends the value's exact source bytes (strings with their quotes).
    func writeRaw(to out: inout [UInt8]) {
        let n = node
        let start = n.kind == .string ? Int(n.start) - 1 : Int(n.start)
        let end = n.kind == .string ? Int(n.end) + 1 : Int(n.end)
        document.bytes.withUnsafeBufferPointer { b in
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<end]))
        }
    }
}
