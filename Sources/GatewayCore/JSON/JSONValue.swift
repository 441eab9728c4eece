/// A parsed JSON document.
///
/// Numbers keep their exact source text: amounts in payment notifications must never pass through a
/// binary floating-point value (`"0.1"` stays `"0.1"`), and the gateway never needs arithmetic on them.
/// Objects keep their members in document order so that a transformed event reads like the original.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text exactly as it appeared (already validated against the JSON grammar).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The value as a string when it is a JSON string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements when it is a JSON array.
    public var arrayItems: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The value as an object when it is a JSON object.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// Text of a scalar as a condition or template sees it: strings as they are, numbers in their
    /// source form, booleans as `true`/`false`, null as `nil`. Arrays and objects have no scalar text.
    public var scalarText: String? {
        switch self {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null, .array, .object: return nil
        }
    }

    /// Member lookup for objects; `nil` for anything else.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

/// A JSON object: members in document order, keys unique (the parser rejects duplicates).
public struct JSONObject: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONValue
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    public var members: [Member]

    public init(_ members: [Member] = []) {
        self.members = members
    }

    public init(_ pairs: KeyValuePairs<String, JSONValue>) {
        self.members = pairs.map { Member(key: $0.key, value: $0.value) }
    }

    public var isEmpty: Bool { members.isEmpty }
    public var count: Int { members.count }
    public var keys: [String] { members.map(\.key) }

    public func index(of key: String) -> Int? {
        members.firstIndex { JSONObject.sameKey($0.key, key) }
    }

    /// Whether two member names are the same key: the same UTF-8 bytes (escapes decoded), as
    /// RFC 8259 (8.3) compares names, and as the parser's duplicate check and every lookup on a
    /// received event (`JSONRef`) do. `==` on Strings also equates canonically equivalent
    /// spellings (the Kelvin sign U+212A and "K"), so a route's transforms found or kept a key
    /// the lookups did not, depending on whether an earlier transform had opened its object.
    public static func sameKey(_ a: String, _ b: String) -> Bool {
        a.withUTF8Bytes { x in b.withUTF8Bytes { y in ByteSearch.equal(x, y) } }
    }

    /// Reads or writes a member. Writing `nil` removes it; writing a new key appends it.
    public subscript(key: String) -> JSONValue? {
        get {
            for m in members where JSONObject.sameKey(m.key, key) { return m.value }
            return nil
        }
        set {
            if let i = index(of: key) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append(Member(key: key, value: newValue))
            }
        }
    }
}
