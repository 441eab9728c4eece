/// Applying a route's transforms, in the order written, to the event's tree.
extension Transform {
    /// - Parameters:
    ///   - body: the tree being transformed (starts as the original event).
    ///   - original: the original event, which `set` templates read from.
    public func apply(to body: inout JSONValue, original: JSONRef) {
        switch self {
        case .remove(let paths):
            for p in paths { body.remove(p) }
        case .mask(let paths):
            for p in paths { body.modify(p) { $0 = Transform.masked($0) } }
        case .set(let assignments):
            for (path, template) in assignments { body.set(path, to: template.value(original)) }
        case .rename(let moves):
            for (from, to) in moves {
                if let v = body.remove(from) { body.set(to, to: v) }
            }
        case .keep(let keys):
            if case .object(let o) = body {
                body = .object(JSONObject(o.members.filter { keys.contains($0.key) }))
            }
        }
    }

    /// All but the last 4 characters of a string (or number) become `*`; other values are left alone.
    static func masked(_ v: JSONValue) -> JSONValue {
        guard let text = v.scalarText, v != .bool(true), v != .bool(false) else { return v }
        let chars = Array(text)
        guard chars.count > 4 else { return .string(text) }
        return .string(String(repeating: "*", count: chars.count - 4) + String(chars.suffix(4)))
    }

    /// Runs every transform of a route on a copy of `event`; the result to serialize.
    public static func applyAll(_ transforms: [Transform], to event: JSONValue, original: JSONRef) -> JSONValue {
        var body = event
        for t in transforms { t.apply(to: &body, original: original) }
        return body
    }
}
