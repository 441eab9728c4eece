/// A dotted path into a JSON document, such as `payment.merchantTransInfo.merchantTransID`.
///
/// Segments are object keys; a segment made only of digits also indexes into an array
/// (`items.0.sku`). A key that itself contains a dot cannot be addressed; the provider's
/// documents have none.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public let segments: [String]

    /// Parses `text`; returns `nil` for an empty path or an empty segment (`a..b`, `.a`, `a.`).
    public init?(_ text: String) {
        // On the UTF-8 bytes: plugins look values up by path on every call (`event_value`), and
        // the generic `split` + `map(String.init)` cost several thousand instructions each time.
        let parts = text.withUTF8Bytes { u -> [String]? in
            guard !u.isEmpty else { return nil }
            var out: [String] = []
            var start = 0
            for i in 0...u.count where i == u.count || u[i] == UInt8(ascii: ".") {
                guard i > start else { return nil }  // an empty segment
                out.append(String(decoding: UnsafeBufferPointer(rebasing: u[start..<i]), as: UTF8.self))
                start = i + 1
            }
            return out
        }
        guard let parts else { return nil }
        self.segments = parts
    }

    public init(segments: [String]) {
        self.segments = segments
    }

    public var description: String { segments.joined(separator: ".") }
}

extension JSONValue {
    /// The value at `path`, or `nil` when any segment is missing.
    public subscript(path path: JSONPath) -> JSONValue? {
        var current = self
        for seg in path.segments {
            switch current {
            case .object(let o):
                guard let next = o[seg] else { return nil }
                current = next
            case .array(let a):
                guard let i = Int(seg), i >= 0, i < a.count else { return nil }
                current = a[i]
            default:
                return nil
            }
        }
        return current
    }

    /// Convenience: the value at a dotted path given as text.
    public func value(at dotted: String) -> JSONValue? {
        guard let p = JSONPath(dotted) else { return nil }
        return self[path: p]
    }
}
