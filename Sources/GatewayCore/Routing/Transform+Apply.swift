/// Applying a route's transforms, in the order written.
extension Transform {
    /// - Parameters:
    ///   - body: the value being transformed (starts as the original event, untouched).
    ///   - original: the original event, which `set` templates read from.
    public func apply(to body: inout EditableJSON, original: JSONRef) {
        switch self {
        case .remove(let paths):
            for p in paths { body.remove(p) }
        case .mask(let paths):
            for p in paths {
                guard let current = body.get(p), let text = current.scalarText, !current.isBoolean else { continue }
                body.set(p, value: Transform.masked(text))
            }
        case .set(let assignments):
            for (path, template) in assignments { body.set(path, to: Transform.value(of: template, from: original)) }
        case .rename(let moves):
            for (from, to) in moves {
                if let v = body.remove(from) { body.set(to, to: v) }
            }
        case .keep(let keys):
            body.keep(keys)
        }
    }

    /// A template's value: exactly one placeholder copies the value as it is (any JSON type,
    /// by reference); anything else renders to a string.
    static func value(of template: Template, from original: JSONRef) -> EditableJSON {
        if let p = template.onlyPath {
            return original[path: p].map(EditableJSON.init) ?? .written(.string(""), like: original)
        }
        return .written(.string(template.render(original)), like: original)
    }

    /// All but the last 4 characters (Unicode scalars) become `*`; 4 or fewer are left as they are.
    /// Works on the UTF-8 bytes (a scalar starts at every byte that is not a continuation byte):
    /// the generic scalar-view append cost more than a microsecond for a 6-digit card prefix.
    static func masked(_ text: String) -> JSONValue {
        return text.withUTF8Bytes { u -> JSONValue in
            guard let (stars, tail) = maskSplit(u) else { return .string(String(decoding: u, as: UTF8.self)) }
            let keep = u.count - tail
            return .string(
                String(unsafeUninitializedCapacity: stars + keep) { out in
                    for i in 0..<stars { out[i] = UInt8(ascii: "*") }
                    for i in 0..<keep { out[stars + i] = u[tail + i] }
                    return stars + keep
                })
        }
    }

    /// For values that are not scalars (objects, arrays, booleans) masking leaves them alone.
    /// How masking splits UTF-8 text: how many `*` replace the scalars before the last 4, and
    /// the byte offset where those 4 begin; nil for 4 scalars or fewer (left as they are).
    static func maskSplit(_ u: UnsafeBufferPointer<UInt8>) -> (stars: Int, tail: Int)? {
        var count = 0
        for b in u where b & 0xC0 != 0x80 { count += 1 }
        guard count > 4 else { return nil }
        var tail = u.count
        var seen = 0
        while seen < 4 {
            tail -= 1
            if u[tail] & 0xC0 != 0x80 { seen += 1 }
        }
        return (count - 4, tail)
    }

    static func masked(_ v: JSONValue) -> JSONValue {
        guard let text = v.scalarText, v != .bool(true), v != .bool(false) else { return v }
        return masked(text)
    }

    /// Runs every transform of a route on the event; returns the JSON to send. Untouched parts
    /// are copied byte for byte from the event as received.
    public static func applyAll(_ transforms: [Transform], to event: JSONRef) -> [UInt8] {
        applyAllToView(transforms, to: event).serialized()
    }

    /// The transforms' edits, not written out yet (`EditableJSON.serialized()` does that, when a
    /// handler reads the body). Handlers that read a value of the transformed event
    /// (`event_value`) look it up in this view instead of parsing the JSON again.
    public static func applyAllToView(_ transforms: [Transform], to event: JSONRef) -> EditableJSON {
        var view = EditableJSON(event)
        for t in transforms { t.apply(to: &view, original: event) }
        return view
    }
}
