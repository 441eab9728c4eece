public import CGatewayPluginABI
import Foundation
import GatewayCore
import GatewayPluginKit

/// `metadata-filter`: passes an event on only when its `metadata` string satisfies conditions.
///
/// ```yaml
/// - plugin: metadata-filter
///   with:
///     when:
///       - { key: tenant, equals: acme }          # all must hold
///       - { raw: { prefix: "vip" } }             # the whole metadata string
/// ```
/// The merchant's `metadata` is read as a JSON object (keys may be dotted paths), else as
/// `k=v&k=v` or `k=v;k=v` pairs, else as raw text (only `raw` conditions apply). Operators:
/// `equals`, `notEquals`, `in`, `prefix`, `matches` (regex), `exists`.
@_cdecl("gw_plugin_register_v1")
public func gwPluginRegisterV1(_ table: UnsafeMutablePointer<gw_plugin_v1>?, _ size: UInt32) -> Int32 {
    PluginRegistry.register(MetadataFilter.definition, table: table, size: size)
}

final class MetadataFilter: GatewayHandler, @unchecked Sendable {
    // Unchecked: immutable after init (the compiled regexes are only read).

    /// Non-blocking and pure: it only reads the event and compares strings (the per-thread copy
    /// of the last metadata is a cache, not a state any answer depends on), so the gateway asks
    /// it on the receiving thread, before the notification is stored, whether the route takes
    /// the event: one it drops costs no spool record, no delivery and no hand-off to a worker.
    static let definition = PluginDefinition(
        name: "metadata-filter", description: "passes events whose metadata matches conditions", nonBlocking: true, bodyUnused: true,
        pure: true
    ) { config, _ in try MetadataFilter(config: config) }

    let conditions: [MetadataCondition]
    /// Only `raw` conditions: the metadata need not be parsed at all.
    let rawOnly: Bool
    /// Only `key` conditions: the raw text is never read.
    let keysOnly: Bool

    init(config: PluginConfig) throws {
        var c = config
        guard let list = try c.objectList("when"), !list.isEmpty else {
            throw PluginConfigError("with.when must list at least one condition")
        }
        conditions = try list.map(MetadataCondition.init)
        rawOnly = conditions.allSatisfy { if case .raw = $0.target { true } else { false } }
        keysOnly = conditions.allSatisfy { if case .key = $0.target { true } else { false } }
        try c.finish()
    }

    func handle(_ event: PluginEvent) -> HandlerResult {
        // The text is parsed from the host's bytes (raw conditions alone need no parse), and
        // the whole of it becomes a String only when a condition reads it raw.
        event.withValue(at: "metadata") { bytes in
            if rawOnly {
                var text = RawText(bytes: bytes)
                return conditions.allSatisfy { $0.holds(raw: &text) } ? .proceed() : .drop
            }
            let metadata = LastMetadata.parse(bytes: bytes, keepingRaw: !keysOnly)
            return conditions.allSatisfy { $0.holds(metadata) } ? .proceed() : .drop
        }
    }
}

/// The metadata this thread parsed last, for the next filter that reads the same text.
///
/// Why: a tenant split is one route per tenant, each with its own metadata-filter, and the
/// filters of all routes run one after the other on the receiving thread for the same event:
/// each parsed the same text again (some 7,000 instructions for the benchmark's 550-character
/// metadata). Knowing it is the same text costs a `memcmp`.
final class LastMetadata {
    /// Texts longer than this are parsed every time (not kept per thread).
    static let maxKept = 64 * 1024
    private static let perThread = PerThread { LastMetadata() }

    // One thread's (see `perThread`): no run-time exclusivity check needed.
    @exclusivity(unchecked) private var bytes: [UInt8] = []
    /// Parsed without the raw text (added per call when a condition reads it).
    @exclusivity(unchecked) private var parsed: Metadata?

    static func parse(bytes: UnsafeBufferPointer<UInt8>?, keepingRaw: Bool) -> Metadata {
        guard let bytes, bytes.count <= maxKept else { return Metadata.parse(bytes: bytes, keepingRaw: keepingRaw) }
        let last = perThread.current
        var m: Metadata
        if let p = last.parsed, ByteSearch.equal(last.bytes, bytes) {
            m = p
        } else {
            m = Metadata.parse(bytes: bytes, keepingRaw: false)
            last.bytes = Array(bytes)
            last.parsed = m
        }
        if keepingRaw { m.raw = String(decoding: bytes, as: UTF8.self) }
        return m
    }
}

/// The metadata string in the form the merchant used.
/// Public for the fuzz targets (`Tests/Fuzz`), which call the parser directly.
public struct Metadata {
    public enum Form: Equatable { case json, pairs, raw, missing }
    public var form: Form
    public var raw: String?
    /// `k=v` pairs (percent-decoded), for the pairs form.
    var pairs: [String: String] = [:]
    /// The parsed object, for the JSON form: keys are looked up in it when a condition asks
    /// (no flattened copy of every value).
    var document: JSONDocument? = nil

    public static func parse(_ text: String?) -> Metadata {
        guard var text else { return Metadata(form: .missing, raw: nil) }
        return text.withUTF8 { parse(bytes: $0, keepingRaw: true) }
    }

    /// The metadata read from its UTF-8 bytes; `raw` is set only when `keepingRaw` (a filter
    /// with key conditions only never reads it).
    ///
    /// Why bytes: a String of the text, trimmed into a second one, copied into an array for the
    /// parser, and every key of the parsed object decoded into a String again to be compared,
    /// cost about 4,000 instructions per event for the benchmark's 550-character metadata.
    public static func parse(bytes: UnsafeBufferPointer<UInt8>?, keepingRaw: Bool) -> Metadata {
        guard let bytes else { return Metadata(form: .missing, raw: nil) }
        let raw = keepingRaw ? String(decoding: bytes, as: UTF8.self) : nil
        // Spaces and tabs off both ends, as bytes. (Where a space carries a combining mark the
        // String trim below keeps it; either way such a text is not a JSON object.)
        var lo = 0
        var hi = bytes.count
        while lo < hi && (bytes[lo] == 0x20 || bytes[lo] == 0x09) { lo += 1 }
        while hi > lo && (bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09) { hi -= 1 }
        // The gateway's own parser (a tape, no tree of Foundation objects): with Foundation's
        // JSONSerialization and a flattened dictionary, this call cost 38 us for a 400-character
        // metadata object, more than half of what the whole notification costs the gateway.
        if lo < hi && bytes[lo] == UInt8(ascii: "{"),
            let doc = try? JSONDocument.parse(Array(UnsafeBufferPointer(rebasing: bytes[lo..<hi]))), doc.root.kind == .object
        {
            return Metadata(form: .json, raw: raw, document: doc)
        }
        guard bytes[lo..<hi].contains(UInt8(ascii: "=")) else { return Metadata(form: .raw, raw: raw) }
        let text = raw ?? String(decoding: bytes, as: UTF8.self)
        let trimmed = Metadata.trim(text)
        if trimmed.contains("=") {
            // `k=v&k=v` or `k=v;k=v` (a single `k=v` too); percent-encoding is decoded.
            let separator: Character = trimmed.contains("&") ? "&" : ";"
            var values: [String: String] = [:]
            var ok = true
            for p in trimmed.split(separator: separator, omittingEmptySubsequences: true) {
                guard let eq = p.firstIndex(of: "=") else {
                    ok = false
                    break
                }
                let k = Metadata.trim(p[..<eq])
                let v = Metadata.trim(p[p.index(after: eq)...])
                guard !k.isEmpty, !k.contains(" ") else {
                    ok = false
                    break
                }
                values[k.removingPercentEncoding ?? k] = v.removingPercentEncoding ?? v
            }
            if ok && !values.isEmpty { return Metadata(form: .pairs, raw: raw, pairs: values) }
        }
        return Metadata(form: .raw, raw: raw)
    }

    /// The value of `key`: for JSON, nested keys joined by dots (`{"a":{"b":1}}` has `a.b`; a key
    /// written with dots, `{"a.b":1}`, matches too) and array elements by index (`items.0.sku`);
    /// scalars as written (strings unescaped, numbers as in the text), null as `null`; objects
    /// and arrays themselves have no value. For pairs, the pair's value.
    public func value(forKey key: String) -> String? {
        switch form {
        case .pairs: return pairs[key]
        case .json:
            guard let document else { return nil }
            var k = key
            guard let v = k.withUTF8({ document.root.scalar(atDottedKey: $0) }) else { return nil }
            return v.kind == .null ? "null" : v.scalarText
        case .raw, .missing: return nil
        }
    }

    /// Spaces and tabs off both ends (no Foundation: `trimmingCharacters` bridges to NSString).
    static func trim<S: StringProtocol>(_ s: S) -> String {
        var sub = Substring(s)
        while let f = sub.first, f == " " || f == "\t" { sub = sub.dropFirst() }
        while let l = sub.last, l == " " || l == "\t" { sub = sub.dropLast() }
        return String(sub)
    }

}

/// The metadata's text as the host lent it, for `raw` conditions: compared as bytes where that
/// gives the String comparison's answer (see `MetadataCondition.asciiOperands`), made into a
/// String only for the others (a String of the benchmark's 550-character metadata, with its
/// validation and release, was two thirds of the filter's own cost).
struct RawText {
    let bytes: UnsafeBufferPointer<UInt8>?
    private var ascii: Bool?
    private var made: String??

    init(bytes: UnsafeBufferPointer<UInt8>?) { self.bytes = bytes }

    var isASCII: Bool {
        mutating get {
            if let ascii { return ascii }
            let a = bytes.map(ASCII.isASCII) ?? false
            ascii = a
            return a
        }
    }

    var string: String? {
        mutating get {
            if let made { return made }
            let s = bytes.map { String(decoding: $0, as: UTF8.self) }
            made = .some(s)
            return s
        }
    }
}

struct MetadataCondition: @unchecked Sendable {
    // Unchecked: the regex is compiled once and only read.
    enum Target { case key(String), raw }
    enum Op {
        case equals(String), notEquals(String), oneOf([String]), prefix(String), matches(NSRegularExpression), exists(Bool)
    }

    let target: Target
    let op: Op
    /// The operands of `equals`, `notEquals`, `in` and `prefix` as bytes, when all are ASCII
    /// (and a prefix does not end in CR): against an all-ASCII text, comparing bytes then
    /// answers exactly as comparing Strings does. (Strings compare by canonical equivalence:
    /// a non-ASCII text can equal an ASCII one, U+212A KELVIN SIGN is "K"; and CR LF is one
    /// Character, so "a\r\n" does not start with "a\r".) Nil otherwise.
    let asciiOperands: [[UInt8]]?

    init(_ config: PluginConfig) throws {
        var c = config
        var opConfig: PluginConfig
        if c.has("raw") {
            guard let raw = try c.object("raw") else { throw PluginConfigError("\(c.path).raw must be a mapping") }
            try c.finish()
            target = .raw
            opConfig = raw
        } else {
            target = .key(try c.requiredString("key"))
            opConfig = c  // the operator sits beside `key`; `finish` below checks both
        }
        let names = ["equals", "notEquals", "in", "prefix", "matches", "exists"]
        let present = names.filter { opConfig.has($0) }
        guard present.count == 1 else {
            throw PluginConfigError("\(opConfig.path) needs exactly one of \(names.joined(separator: ", "))")
        }
        switch present[0] {
        case "equals": op = .equals(try opConfig.string("equals") ?? "")
        case "notEquals": op = .notEquals(try opConfig.string("notEquals") ?? "")
        case "prefix": op = .prefix(try opConfig.string("prefix") ?? "")
        case "in": op = .oneOf(try opConfig.stringList("in") ?? [])
        case "exists": op = .exists(try opConfig.bool("exists", default: true))
        default:
            let pattern = try opConfig.requiredString("matches")
            do {
                op = .matches(try NSRegularExpression(pattern: pattern))
            } catch {
                throw PluginConfigError("\(opConfig.path).matches: invalid regular expression '\(pattern)'")
            }
        }
        try opConfig.finish()
        asciiOperands = Self.asciiOperands(op)
    }

    private static func asciiOperands(_ op: Op) -> [[UInt8]]? {
        let operands: [String]
        switch op {
        case .equals(let v), .notEquals(let v): operands = [v]
        case .oneOf(let vs): operands = vs
        case .prefix(let p):
            if p.utf8.last == 0x0D { return nil }
            operands = [p]
        case .matches, .exists: return nil
        }
        let bytes = operands.map { Array($0.utf8) }
        return bytes.allSatisfy { $0.withUnsafeBufferPointer(ASCII.isASCII) } ? bytes : nil
    }

    func holds(_ m: Metadata) -> Bool {
        switch target {
        case .raw: holds(value: m.raw)
        case .key(let k): holds(value: m.value(forKey: k))
        }
    }

    /// A `raw` condition over the text as bytes (see `asciiOperands`).
    func holds(raw text: inout RawText) -> Bool {
        if case .exists(let e) = op { return (text.bytes != nil) == e }
        if let operands = asciiOperands, let bytes = text.bytes, text.isASCII {
            switch op {
            case .equals: return ByteSearch.equal(operands[0], bytes)
            case .notEquals: return !ByteSearch.equal(operands[0], bytes)
            case .oneOf: return operands.contains { ByteSearch.equal($0, bytes) }
            case .prefix: return operands[0].withUnsafeBufferPointer { ByteSearch.hasPrefix(bytes, $0) }
            case .matches, .exists: break
            }
        }
        return holds(value: text.string)
    }

    private func holds(value: String?) -> Bool {
        switch op {
        case .exists(let e): return (value != nil) == e
        case .equals(let v): return value == v
        case .notEquals(let v): return value != v
        case .oneOf(let vs): return value.map(vs.contains) ?? false
        case .prefix(let p): return value?.hasPrefix(p) ?? false
        case .matches(let re):
            guard let value else { return false }
            return re.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
        }
    }
}
