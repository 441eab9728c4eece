/// A strict JSON parser (RFC 8259) over raw bytes, with limits for hostile input.
///
/// Why our own: Foundation's parser has no depth or number-length limits, accepts some invalid
/// UTF-8 by repairing it, and loses number precision. This one rejects, with a reason:
/// invalid UTF-8 (including lone surrogate escapes), nesting deeper than `maxDepth`, numbers longer
/// than `maxNumberLength` characters, duplicate keys in an object, and trailing bytes.
public struct JSONParser {
    public struct Limits: Sendable, Equatable {
        /// Deepest nesting of arrays and objects. Default: 64.
        public var maxDepth: Int
        /// Longest number literal, in characters. Default: 64.
        public var maxNumberLength: Int

        public init(maxDepth: Int = 64, maxNumberLength: Int = 64) {
            self.maxDepth = maxDepth
            self.maxNumberLength = maxNumberLength
        }
    }

    /// Why a document was refused. `offset` is the byte offset where the problem was found.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var offset: Int
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// Parses a whole document into a tree. (Validation is `JSONDocument`'s; this materializes it.)
    public static func parse(_ bytes: [UInt8], limits: Limits = Limits()) throws(ParseError) -> JSONValue {
        try JSONDocument.parse(bytes, limits: limits).root.materialize()
    }

    public static func parse(_ text: String, limits: Limits = Limits()) throws(ParseError) -> JSONValue {
        try parse(Array(text.utf8), limits: limits)
    }

    public static func parse(_ buffer: UnsafeRawBufferPointer, limits: Limits = Limits()) throws(ParseError) -> JSONValue {
        try parse(Array(buffer.bindMemory(to: UInt8.self)), limits: limits)
    }
}

/// Appends the UTF-8 encoding of a scalar (which is always encodable).
func appendUTF8(_ u: Unicode.Scalar, to out: inout [UInt8]) {
    let v = u.value
    switch v {
    case 0..<0x80:
        out.append(UInt8(v))
    case 0x80..<0x800:
        out.append(UInt8(0xC0 | (v >> 6)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    case 0x800..<0x10000:
        out.append(UInt8(0xE0 | (v >> 12)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    default:
        out.append(UInt8(0xF0 | (v >> 18)))
        out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    }
}
