import CGatewayPluginABI

/// One delivery attempt as a handler sees it. Valid only during `handle` (it borrows the host's
/// buffers); copy what must outlive the call.
public struct PluginEvent {
    let raw: UnsafePointer<gw_event>
    let host: PluginHost

    init(raw: UnsafePointer<gw_event>, host: PluginHost) {
        self.raw = raw
        self.host = host
    }

    /// The event body (JSON) after the route's transforms and earlier handlers.
    public var body: UnsafeRawBufferPointer { raw.pointee.body.buffer }
    public var bodyBytes: [UInt8] { Array(body) }
    public var eventCode: String { raw.pointee.event_code.string }
    public var source: String { raw.pointee.source.string }
    public var route: String { raw.pointee.route.string }
    public var msgID: String { raw.pointee.msg_id.string }
    /// Stable across the retries of one delivery.
    public var deliveryID: String { raw.pointee.delivery_id.string }
    /// 1 for the first attempt.
    public var attempt: Int { Int(raw.pointee.attempt) }

    /// The body, event code and delivery ID as the host lends them (valid during `handle`), for
    /// a request laid out without copies (`PluginHost.http(_:)`).
    public var rawBody: gw_bytes { raw.pointee.body }
    public var eventCodeBytes: gw_bytes { raw.pointee.event_code }
    public var deliveryIDBytes: gw_bytes { raw.pointee.delivery_id }

    /// The scalar text at a dotted path of the body (strings unquoted, numbers as written), or nil.
    public func value(at path: String) -> String? {
        withValue(at: path) { $0.map { String(decoding: $0, as: UTF8.self) } }
    }

    /// Calls `body` with the scalar text at a dotted path as UTF-8 (nil when there is none), lent
    /// by the host for the call: for a handler that parses or compares the value, a String of
    /// it (validated and copied once more) is work thrown away.
    public func withValue<R>(at path: String, _ body: (UnsafeBufferPointer<UInt8>?) throws -> R) rethrows -> R {
        guard let lookup = host.api.pointee.event_value else { return try body(nil) }
        var p = path
        var out = gw_bytes(ptr: nil, len: 0)
        let found = p.withUTF8 { pb in lookup(raw, gw_bytes(ptr: pb.baseAddress, len: pb.count), &out) == 1 }
        guard found else { return try body(nil) }
        // An empty value may come without a pointer: still a value (an empty buffer), not nil.
        return try body(UnsafeBufferPointer(start: out.len > 0 ? out.ptr : nil, count: out.len))
    }

    /// Renders `{{path}}` placeholders in `template` from the body (a missing path renders empty).
    /// The result is one string: a value can never split into several arguments or inject syntax.
    public func render(_ template: PluginTemplate) -> String {
        var out = ""
        for part in template.parts {
            switch part {
            case .literal(let s): out += s
            case .path(let p): out += value(at: p) ?? ""
            }
        }
        return out
    }
}

/// A string with `{{path}}` placeholders, parsed once when the handler is created.
public struct PluginTemplate: Sendable {
    public enum Part: Sendable {
        case literal(String)
        case path(String)
    }

    public let parts: [Part]
    public let source: String

    public init(_ text: String) throws {
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw PluginConfigError("unterminated '{{' in '\(text)'")
            }
            let path = rest[open.upperBound..<close.lowerBound].filter { $0 != " " }
            guard !path.isEmpty, !path.hasPrefix("."), !path.hasSuffix("."), !path.contains("..") else {
                throw PluginConfigError("'{{\(path)}}' is not a dotted path")
            }
            parts.append(.path(String(path)))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.parts = parts
        self.source = text
    }
}

extension gw_bytes {
    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: ptr, count: len) }
    var string: String {
        guard let ptr, len > 0 else { return "" }
        return String(decoding: UnsafeBufferPointer(start: ptr, count: len), as: UTF8.self)
    }
}
