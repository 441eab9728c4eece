/// Rendering `{{path}}` templates from an event.
extension Template {
    /// The rendered text: each placeholder becomes the value's scalar text (objects and arrays as
    /// compact JSON), a missing path becomes empty.
    public func render(_ event: JSONRef) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .path(let p): out += Template.text(of: event[path: p])
            }
        }
        return out
    }

    /// The value to store for `set`: a template that is exactly one placeholder keeps the value's
    /// JSON type (a number stays a number); anything else renders to a string.
    public func value(_ event: JSONRef) -> JSONValue {
        if let p = onlyPath {
            return event[path: p]?.materialize() ?? .string("")
        }
        return .string(render(event))
    }

    static func text(of value: JSONRef?) -> String {
        guard let value else { return "" }
        if let s = value.scalarText { return s }
        if value.kind == .null { return "" }
        return value.materialize().jsonText
    }
}
