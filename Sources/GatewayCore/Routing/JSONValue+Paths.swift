/// Path edits on a `JSONValue` tree, for transforms.
extension JSONValue {
    /// Sets the value at `path`, creating objects for missing (or non-object) parents. An array
    /// index segment sets an existing element only.
    public mutating func set(_ path: JSONPath, to newValue: JSONValue) {
        set(path.segments[...], to: newValue)
    }

    private mutating func set(_ segs: ArraySlice<String>, to newValue: JSONValue) {
        guard let first = segs.first else {
            self = newValue
            return
        }
        let rest = segs.dropFirst()
        switch self {
        case .object(var o):
            self = .null  // release the tree's reference so `o` is edited in place
            var child = o[first] ?? .null
            child.set(rest, to: newValue)
            o[first] = child
            self = .object(o)
        case .array(var a):
            guard let i = Int(first), i >= 0, i < a.count else { return }
            self = .null
            a[i].set(rest, to: newValue)
            self = .array(a)
        default:
            // A scalar (or nothing) where the path needs an object: the object replaces it.
            self = .object(JSONObject())
            set(segs, to: newValue)
        }
    }

    /// Removes the value at `path` and returns it (nil when missing).
    @discardableResult
    public mutating func remove(_ path: JSONPath) -> JSONValue? {
        remove(path.segments[...])
    }

    private mutating func remove(_ segs: ArraySlice<String>) -> JSONValue? {
        guard let first = segs.first else { return nil }
        let rest = segs.dropFirst()
        switch self {
        case .object(var o):
            guard let i = o.index(of: first) else { return nil }
            self = .null
            defer { self = .object(o) }
            if rest.isEmpty { return o.members.remove(at: i).value }
            return o.members[i].value.remove(rest)
        case .array(var a):
            guard let i = Int(first), i >= 0, i < a.count else { return nil }
            self = .null
            defer { self = .array(a) }
            if rest.isEmpty { return a.remove(at: i) }
            return a[i].remove(rest)
        default:
            return nil
        }
    }

    /// Applies `change` to the value at `path` when it exists.
    public mutating func modify(_ path: JSONPath, _ change: (inout JSONValue) -> Void) {
        modify(path.segments[...], change)
    }

    private mutating func modify(_ segs: ArraySlice<String>, _ change: (inout JSONValue) -> Void) {
        guard let first = segs.first else {
            change(&self)
            return
        }
        let rest = segs.dropFirst()
        switch self {
        case .object(var o):
            guard let i = o.index(of: first) else { return }
            self = .null
            o.members[i].value.modify(rest, change)
            self = .object(o)
        case .array(var a):
            guard let i = Int(first), i >= 0, i < a.count else { return }
            self = .null
            a[i].modify(rest, change)
            self = .array(a)
        default:
            return
        }
    }
}
