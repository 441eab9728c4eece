/// A JSON value being edited by transforms, opened only where an edit reaches.
///
/// Why: most of a notification passes through a route untouched. Building a full tree of Swift
/// values to remove one field and add another cost about 13 µs per event; keeping untouched
/// values as references into the original bytes and copying those bytes on output costs a
/// fraction of that. Only the objects and arrays on an edited path are opened.
///
/// An untouched value is just its index in the document's tape: the document is held once, by
/// this struct, not by every member of every opened object (a `JSONRef` per member cost a
/// retain and a release per copy, about a third of what transforms cost).
public struct EditableJSON: Sendable {
    /// The document every `.original` index points into.
    let storage: JSONDocument.Storage
    var node: Node

    enum Node: Sendable {
        /// An untouched value of the original document (its tape index).
        case original(Int)
        /// A value written by a transform.
        case value(JSONValue)
        /// An object opened for editing (members in order).
        case object([Member])
        /// An array opened for editing.
        case array([Node])
    }

    /// A member of an opened object. (A struct, not a tuple: tuples are copied through slow
    /// generic value witnesses.)
    struct Member: Sendable {
        var key: String
        var value: Node
        /// The member came from the original object with its key (not renamed or added): while
        /// its value is also still original, the key's source bytes are copied on output instead
        /// of escaping `key` again.
        var keyIsOriginal = false
        init(_ key: String, _ value: Node, keyIsOriginal: Bool = false) {
            self.key = key
            self.value = value
            self.keyIsOriginal = keyIsOriginal
        }
    }

    public init(_ ref: JSONRef) {
        storage = ref.storage
        node = .original(ref.index)
    }

    init(storage: JSONDocument.Storage, node: Node) {
        self.storage = storage
        self.node = node
    }

    /// A value written by a transform, for the document of `like`.
    static func written(_ v: JSONValue, like ref: JSONRef) -> EditableJSON {
        EditableJSON(storage: ref.storage, node: .value(v))
    }

    /// The value at `path`, if present.
    public func get(_ path: JSONPath) -> EditableJSON? {
        var current = node
        for seg in path.segments {
            switch current {
            case .original(let i):
                guard let v = JSONRef(storage: storage, index: i).child(seg) else { return nil }
                current = .original(v.index)
            case .object(let members):
                guard let v = members.last(where: { JSONObject.sameKey($0.key, seg) })?.value else { return nil }
                current = v
            case .array(let elements):
                guard let i = Int(seg), i >= 0, i < elements.count else { return nil }
                current = elements[i]
            case .value(let v):
                guard let next = v.child(seg) else { return nil }
                current = .value(next)
            }
        }
        return EditableJSON(storage: storage, node: current)
    }

    /// Sets `path`, creating objects for missing or scalar parents (an array index must exist).
    public mutating func set(_ path: JSONPath, to newValue: EditableJSON) {
        Self.set(&node, path.segments[...], adopt(newValue), storage)
    }

    /// Sets `path` to a value written by a transform.
    public mutating func set(_ path: JSONPath, value: JSONValue) {
        Self.set(&node, path.segments[...], .value(value), storage)
    }

    /// `other` as a node of this document: its original parts are copied out when it belongs
    /// to another document (transforms only ever move values within one).
    private func adopt(_ other: EditableJSON) -> Node {
        if other.storage === storage { return other.node }
        return .value(other.materialized)
    }

    /// The value as a tree of `JSONValue`s.
    var materialized: JSONValue {
        Self.materialize(node, storage)
    }

    private static func materialize(_ n: Node, _ s: JSONDocument.Storage) -> JSONValue {
        switch n {
        case .original(let i): return JSONRef(storage: s, index: i).materialize()
        case .value(let v): return v
        case .object(let members):
            var o = JSONObject()
            for m in members { o[m.key] = materialize(m.value, s) }
            return .object(o)
        case .array(let elements): return .array(elements.map { materialize($0, s) })
        }
    }

    /// Removes `path` and returns what was there.
    @discardableResult
    public mutating func remove(_ path: JSONPath) -> EditableJSON? {
        // Nothing to remove: open (and so re-encode) nothing.
        guard get(path) != nil else { return nil }
        return Self.remove(&node, path.segments[...], storage).map { EditableJSON(storage: storage, node: $0) }
    }

    /// Keeps only the listed top-level keys of an object.
    public mutating func keep(_ keys: [String]) {
        Self.open(&node, storage)
        guard var members = Self.takeMembers(&node) else { return }
        members.removeAll { m in !keys.contains { JSONObject.sameKey($0, m.key) } }
        node = .object(members)
    }

    /// Scalar text, as conditions and templates see it.
    public var scalarText: String? {
        switch node {
        case .original(let i): JSONRef(storage: storage, index: i).scalarText
        case .value(let v): v.scalarText
        default: nil
        }
    }

    /// `scalarText` as bytes, without building a String, for a value of the original document
    /// (see `JSONRef.copyScalarText`); nil for anything else, including values a transform
    /// wrote (read those through `scalarText`).
    public func copyScalarText(_ allocate: (Int) -> UnsafeMutableBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        guard case .original(let i) = node else { return nil }
        return JSONRef(storage: storage, index: i).copyScalarText(allocate)
    }

    /// Whether this is JSON `null`.
    public var isNull: Bool {
        switch node {
        case .original(let i): storage.nodes[i].kind == .null
        case .value(let v): v == .null
        default: false
        }
    }

    /// Whether this is `true` or `false`.
    public var isBoolean: Bool {
        switch node {
        case .original(let i): storage.nodes[i].kind == .bool
        case .value(.bool): true
        default: false
        }
    }

    // MARK: - Editing nodes (the document is passed along for the original ones)

    /// Opens an object or array one level so it can be edited: an original one (its members stay
    /// original), or one a transform wrote (its members become written values).
    private static func open(_ n: inout Node, _ s: JSONDocument.Storage) {
        switch n {
        case .value(.object(let o)):
            n = .object(o.members.map { Member($0.key, .value($0.value)) })
        case .value(.array(let a)):
            n = .array(a.map { .value($0) })
        case .original(let i):
            let nodes = s.nodes
            let container = nodes[i]
            switch container.kind {
            case .object:
                var members: [Member] = []
                members.reserveCapacity(Int(container.count) + 2)  // room for a `set` without a copy
                var k = i + 1
                for _ in 0..<container.count {
                    members.append(Member(s.decodeString(nodes[k]), .original(k + 1), keyIsOriginal: true))
                    k = Int(nodes[k + 1].next)
                }
                n = .object(members)
            case .array:
                var elements: [Node] = []
                elements.reserveCapacity(Int(container.count))
                var k = i + 1
                for _ in 0..<container.count {
                    elements.append(.original(k))
                    k = Int(nodes[k].next)
                }
                n = .array(elements)
            default: break
            }
        default: break
        }
    }

    /// An opened object's members, moved out (`n` becomes null) so that the caller edits them in
    /// place: a `switch` over the node keeps a second reference to the array alive, and every
    /// edit then copied it (and each member) first.
    private static func takeMembers(_ n: inout Node) -> [Member]? {
        guard case .object(let members) = n else { return nil }
        n = .value(.null)
        return members
    }

    /// The same for an opened array's elements.
    private static func takeElements(_ n: inout Node) -> [Node]? {
        guard case .array(let elements) = n else { return nil }
        n = .value(.null)
        return elements
    }

    private static func set(_ n: inout Node, _ segs: ArraySlice<String>, _ newValue: Node, _ s: JSONDocument.Storage) {
        guard let first = segs.first else {
            n = newValue
            return
        }
        let rest = segs.dropFirst()
        open(&n, s)
        if var members = takeMembers(&n) {
            if let i = members.lastIndex(where: { JSONObject.sameKey($0.key, first) }) {
                // A new value may be another value of the event (`.original` elsewhere): the key's
                // source bytes are no longer right before it, so the key is written from `key`.
                if rest.isEmpty { members[i].keyIsOriginal = false }
                set(&members[i].value, rest, newValue, s)
            } else {
                var child = Node.value(.null)
                set(&child, rest, newValue, s)
                members.append(Member(first, child))
            }
            n = .object(members)
        } else if var elements = takeElements(&n) {
            if let i = Int(first), i >= 0, i < elements.count { set(&elements[i], rest, newValue, s) }
            n = .array(elements)
        } else {
            // A scalar where the path needs an object: the object replaces it.
            n = .object([])
            set(&n, segs, newValue, s)
        }
    }

    private static func remove(_ n: inout Node, _ segs: ArraySlice<String>, _ s: JSONDocument.Storage) -> Node? {
        guard let first = segs.first else { return nil }
        let rest = segs.dropFirst()
        open(&n, s)
        if var members = takeMembers(&n) {
            defer { n = .object(members) }
            guard let i = members.lastIndex(where: { JSONObject.sameKey($0.key, first) }) else { return nil }
            if rest.isEmpty { return members.remove(at: i).value }
            return remove(&members[i].value, rest, s)
        }
        if var elements = takeElements(&n) {
            defer { n = .array(elements) }
            guard let i = Int(first), i >= 0, i < elements.count else { return nil }
            if rest.isEmpty { return elements.remove(at: i) }
            return remove(&elements[i], rest, s)
        }
        return nil
    }

    // MARK: - Output

    /// Writes compact JSON: original values (and the keys of untouched members) are copied byte
    /// for byte from the document.
    public func write(to out: inout [UInt8]) {
        storage.bytes.withUnsafeBufferPointer { b in
            storage.nodes.withUnsafeBufferPointer { nodes in
                Self.write(node, b, nodes, &out)
            }
        }
    }

    private static func appendRaw(
        _ n: JSONDocument.Node, _ b: UnsafeBufferPointer<UInt8>, _ out: inout [UInt8]
    ) {
        let quoted = n.kind == .string  // keys are string nodes too
        let start = quoted ? Int(n.start) - 1 : Int(n.start)
        let end = quoted ? Int(n.end) + 1 : Int(n.end)
        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<end]))
    }

    private static func write(
        _ n: Node, _ b: UnsafeBufferPointer<UInt8>, _ nodes: UnsafeBufferPointer<JSONDocument.Node>, _ out: inout [UInt8]
    ) {
        switch n {
        case .original(let i):
            appendRaw(nodes[i], b, &out)
        case .value(let v):
            v.write(to: &out)
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for k in members.indices {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                if members[k].keyIsOriginal, case .original(let i) = members[k].value {
                    appendRaw(nodes[i - 1], b, &out)  // the key node comes right before its value
                } else {
                    JSONValue.writeString(members[k].key, to: &out)
                }
                out.append(UInt8(ascii: ":"))
                write(members[k].value, b, nodes, &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for k in elements.indices {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                write(elements[k], b, nodes, &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    /// The document as JSON, in a buffer sized for the original document (edits rarely grow it
    /// by much).
    public func serialized() -> [UInt8] {
        serialized(capacityHint: storage.bytes.count + 128)
    }

    public func serialized(capacityHint: Int) -> [UInt8] {
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
