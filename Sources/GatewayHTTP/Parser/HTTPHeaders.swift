import GatewayCore

/// Header fields in the order received. Lookups ignore the case of names (RFC 9110 5.1).
public struct HTTPHeaders: Sendable, Sequence {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public private(set) var fields: [Field]

    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { Field(name: $0.0, value: $0.1) }
    }

    init(capacity: Int) {
        fields = []
        fields.reserveCapacity(capacity)
    }

    /// Takes the strings over (a caller's last use of them moves them in, with no retain).
    public mutating func add(_ name: consuming String, _ value: consuming String) {
        fields.append(Field(name: name, value: value))
    }

    /// The first value of `name`, or nil.
    public subscript(name: String) -> String? {
        firstValue(of: name) { _ in true }
    }

    /// The first value of `name` that `accept` takes. Names are compared in place, through the
    /// array's buffer: `for f in fields` copies each field, and even `fields[i].name` retains the
    /// name for the call (two retains and two releases per field visited; a signed notification
    /// looks up five names in ten fields).
    private func firstValue(of name: String, where accept: (String) -> Bool) -> String? {
        name.withUTF8Bytes { wanted in
            fields.withUnsafeBufferPointer { fs in
                for i in fs.indices where fs[i].name.withUTF8Bytes({ ASCII.equalsIgnoringCase($0, wanted) }) && accept(fs[i].value) {
                    return fs[i].value
                }
                return nil
            }
        }
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { ASCII.equalsIgnoringCase($0.name, name) }.map(\.value)
    }

    public func count(of name: String) -> Int {
        fields.reduce(0) { $0 + (ASCII.equalsIgnoringCase($1.name, name) ? 1 : 0) }
    }

    /// Comma-separated tokens across every value of `name`, lower-cased (for Connection, TE).
    public func tokens(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }.map { $0.trimmingASCIISpaces().lowercased() }
    }

    /// Whether some value of `name` lists `token` (comma-separated, ignoring case and spaces),
    /// as `tokens(name).contains(token)` says, without building the list: a client asks this
    /// of every answer (`Connection: close`, `Transfer-Encoding: chunked`).
    public func hasToken(_ name: String, _ token: String) -> Bool {
        token.withUTF8Bytes { tok in firstValue(of: name) { HTTPHeaders.lists($0, tok) } != nil }
    }

    /// Whether the comma-separated `value` has an item equal to `token` (ignoring case and the
    /// spaces and tabs around items).
    private static func lists(_ value: String, _ token: UnsafeBufferPointer<UInt8>) -> Bool {
        value.withUTF8Bytes { v in
            var start = 0
            while start <= v.count {
                var end = start
                while end < v.count && v[end] != UInt8(ascii: ",") { end += 1 }
                if ASCII.equalsIgnoringCase(UnsafeBufferPointer(rebasing: v[trimmingSpacesAndTabs(v, start..<end)]), token) { return true }
                start = end + 1
            }
            return false
        }
    }

    public var count: Int { fields.count }

    /// `range` of `bytes` without the spaces and tabs at either end (the optional whitespace
    /// around a field value or a list item, RFC 9110 5.6.3).
    static func trimmingSpacesAndTabs(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var a = range.lowerBound
        var b = range.upperBound
        while a < b && (bytes[a] == 0x20 || bytes[a] == 0x09) { a += 1 }
        while b > a && (bytes[b - 1] == 0x20 || bytes[b - 1] == 0x09) { b -= 1 }
        return a..<b
    }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
}

extension Substring {
    func trimmingASCIISpaces() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

public struct HTTPRequestHead: Sendable {
    public var method: String
    /// The request target exactly as received (path and query), as the signature covers it.
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var versionMinor: Int
    public var headers: HTTPHeaders
    /// Whether the client wants the connection kept open after this request.
    public var keepAlive: Bool
    /// The client sent `Expect: 100-continue`.
    public var expectContinue: Bool

    /// The target's path without the query string (for absolute-form targets, without scheme and
    /// authority). Found on the target's UTF-8 bytes: walking a Substring's UTF-8 view by index
    /// cost 1,900 instructions per request.
    public var path: Substring {
        let (start, end) = target.withUTF8Bytes { u -> (Int, Int) in
            var i = 0
            if u.first != UInt8(ascii: "/") {
                // absolute-form (RFC 9112 3.2.2): skip "scheme://authority".
                var slashes = 0
                while i < u.count {
                    if u[i] == UInt8(ascii: "/") {
                        slashes += 1
                        if slashes == 3 { break }
                    }
                    i += 1
                }
                if i == u.count { return (-1, -1) }
            }
            var e = i
            while e < u.count && u[e] != UInt8(ascii: "?") && u[e] != UInt8(ascii: "#") { e += 1 }
            return (i, e)
        }
        guard start >= 0 else { return "/" }
        // '/', '?' and '#' are ASCII: both offsets fall between characters.
        let u = target.utf8
        let from = u.index(u.startIndex, offsetBy: start)
        return target[from..<u.index(from, offsetBy: end - start)]
    }
}

public struct HTTPRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: [UInt8]

    public init(head: HTTPRequestHead, body: [UInt8]) {
        self.head = head
        self.body = body
    }
}

/// The limits the parser enforces, each with the answer it gives when exceeded.
public struct HTTPParserLimits: Sendable, Equatable {
    /// Whole header section, request line included -> 431. Default 16 KiB.
    public var maxHeaderBytes = 16 << 10
    /// Header lines -> 431. Default 100.
    public var maxHeaderCount = 100
    /// Request target -> 414. Default 4 KiB.
    public var maxRequestTargetBytes = 4 << 10
    /// Body (after de-chunking) -> 413. Default 1 MiB.
    public var maxBodyBytes = 1 << 20
    /// A chunk-size line with its extensions -> 400. Default 1 KiB.
    public var maxChunkLineBytes = 1 << 10

    public init() {}
}
