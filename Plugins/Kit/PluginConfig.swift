import Foundation

/// A handler's `with:` block (JSON from the host), with typed accessors that report problems as
/// `PluginConfigError`s naming the key. Unknown keys are refused by `finish()`, as everywhere else
/// in the gateway's configuration.
public struct PluginConfig: @unchecked Sendable {
    // Unchecked: holds only Foundation JSON values (NSDictionary/NSArray/NSString/NSNumber),
    // read-only after parsing.
    let values: [String: Any]
    public let path: String
    private var used: Set<String> = []

    public init(json: Data, path: String = "with") throws {
        let obj = try JSONSerialization.jsonObject(with: json.isEmpty ? Data("{}".utf8) : json, options: [.fragmentsAllowed])
        guard let dict = obj as? [String: Any] else { throw PluginConfigError("\(path) must be a mapping") }
        self.values = dict
        self.path = path
    }

    init(values: [String: Any], path: String) {
        self.values = values
        self.path = path
    }

    public var keys: [String] { Array(values.keys) }

    public func has(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }

    private mutating func take(_ key: String) -> Any? {
        used.insert(key)
        guard let v = values[key], !(v is NSNull) else { return nil }
        return v
    }

    public mutating func string(_ key: String) throws -> String? {
        guard let v = take(key) else { return nil }
        if let s = v as? String { return s }
        if let n = v as? NSNumber, !isBool(n) { return n.stringValue }
        throw PluginConfigError("\(path).\(key) must be text")
    }

    public mutating func requiredString(_ key: String) throws -> String {
        guard let s = try string(key), !s.isEmpty else { throw PluginConfigError("\(path).\(key) is required") }
        return s
    }

    public mutating func int(_ key: String, default d: Int, min: Int = Int.min, max: Int = Int.max) throws -> Int {
        guard let v = take(key) else { return d }
        guard let n = v as? NSNumber, !isBool(n), n.doubleValue == n.doubleValue.rounded() else {
            throw PluginConfigError("\(path).\(key) must be an integer")
        }
        let i = n.intValue
        guard i >= min && i <= max else { throw PluginConfigError("\(path).\(key) must be between \(min) and \(max)") }
        return i
    }

    public mutating func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = take(key) else { return d }
        guard let n = v as? NSNumber, isBool(n) else { throw PluginConfigError("\(path).\(key) must be true or false") }
        return n.boolValue
    }

    public mutating func stringList(_ key: String) throws -> [String]? {
        guard let v = take(key) else { return nil }
        if let s = v as? String { return [s] }
        guard let a = v as? [Any] else { throw PluginConfigError("\(path).\(key) must be a list of text") }
        return try a.map { e in
            if let s = e as? String { return s }
            if let n = e as? NSNumber, !isBool(n) { return n.stringValue }
            throw PluginConfigError("\(path).\(key) must be a list of text")
        }
    }

    /// A mapping of text to text (headers, environment).
    public mutating func stringMap(_ key: String) throws -> [(String, String)]? {
        guard let v = take(key) else { return nil }
        guard let d = v as? [String: Any] else { throw PluginConfigError("\(path).\(key) must be a mapping") }
        return try d.keys.sorted().map { k in
            if let s = d[k] as? String { return (k, s) }
            if let n = d[k] as? NSNumber, !isBool(n) { return (k, n.stringValue) }
            throw PluginConfigError("\(path).\(key).\(k) must be text")
        }
    }

    /// A nested mapping, read with its own `PluginConfig`.
    public mutating func object(_ key: String) throws -> PluginConfig? {
        guard let v = take(key) else { return nil }
        guard let d = v as? [String: Any] else { throw PluginConfigError("\(path).\(key) must be a mapping") }
        return PluginConfig(values: d, path: "\(path).\(key)")
    }

    /// A list of mappings.
    public mutating func objectList(_ key: String) throws -> [PluginConfig]? {
        guard let v = take(key) else { return nil }
        guard let a = v as? [Any] else { throw PluginConfigError("\(path).\(key) must be a list") }
        return try a.enumerated().map { i, e in
            guard let d = e as? [String: Any] else { throw PluginConfigError("\(path).\(key)[\(i)] must be a mapping") }
            return PluginConfig(values: d, path: "\(path).\(key)[\(i)]")
        }
    }

    /// The raw value (for operators whose operand may be text, a number or a list).
    public mutating func raw(_ key: String) -> Any? { take(key) }

    /// Refuses keys no accessor asked for.
    public func finish() throws {
        let unknown = values.keys.filter { !used.contains($0) }.sorted()
        if let k = unknown.first {
            throw PluginConfigError("unknown key '\(k)' in \(path)")
        }
    }

    private func isBool(_ n: NSNumber) -> Bool {
        // Foundation on Linux marks JSON booleans with the `c`/`B` ObjC type encodings.
        let t = String(cString: n.objCType)
        return t == "c" || t == "B"
    }
}
