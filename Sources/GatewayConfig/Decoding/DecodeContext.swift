/// Shared state while decoding one file: its name and every error found so far.
///
/// Decoders report a problem and return `nil` instead of throwing, so one pass reports every
/// problem in the file, each with its position.
final class DecodeContext {
    let file: String
    private(set) var errors: [ConfigError] = []
    let environment: [String: String]

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    func error(_ mark: Mark, _ message: String) {
        errors.append(ConfigError(file: file, mark: mark, message: message))
    }

    // MARK: - Scalars

    /// A scalar's text, for keys that expect text. Plain numbers and booleans are accepted as their
    /// text (`path: 8080` is the string "8080"); null, lists and mappings are errors.
    func string(_ node: YAMLNode, _ what: String) -> String? {
        guard case .scalar(let s) = node, !s.isNull else {
            error(node.mark, "\(what) must be text, found \(node.kindName)")
            return nil
        }
        return s.value
    }

    func nonEmptyString(_ node: YAMLNode, _ what: String) -> String? {
        guard let s = string(node, what) else { return nil }
        if s.isEmpty {
            error(node.mark, "\(what) must not be empty")
            return nil
        }
        return s
    }

    func int(_ node: YAMLNode, _ what: String, min: Int, max: Int) -> Int? {
        guard case .scalar(let s) = node, !s.isNull else {
            error(node.mark, "\(what) must be an integer, found \(node.kindName)")
            return nil
        }
        let text = s.value.replacing("_", with: "")
        guard let v = Int(text) else {
            error(node.mark, "\(what) must be an integer, found '\(s.value)'")
            return nil
        }
        guard v >= min && v <= max else {
            error(node.mark, "\(what) must be between \(min) and \(max), found \(v)")
            return nil
        }
        return v
    }

    /// A byte size: an integer, or a number with a unit (`512KiB`, `1MiB`, `2GiB`, `10MB`).
    func byteSize(_ node: YAMLNode, _ what: String, min: Int, max: Int) -> Int? {
        guard case .scalar(let s) = node, !s.isNull else {
            error(node.mark, "\(what) must be a size in bytes, found \(node.kindName)")
            return nil
        }
        let text = s.value.replacing("_", with: "").replacing(" ", with: "")
        let units: [(String, Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000),
            ("B", 1),
        ]
        var number = Substring(text)
        var factor = 1
        for (suffix, f) in units where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            factor = f
            break
        }
        guard let n = Int(number), n >= 0, n <= Int.max / factor else {
            error(node.mark, "\(what) must be a size such as 1048576 or 1MiB, found '\(s.value)'")
            return nil
        }
        let v = n * factor
        guard v >= min && v <= max else {
            error(node.mark, "\(what) must be between \(min) and \(max) bytes, found \(v)")
            return nil
        }
        return v
    }

    func bool(_ node: YAMLNode, _ what: String) -> Bool? {
        guard case .scalar(let s) = node, !s.isNull else {
            error(node.mark, "\(what) must be true or false, found \(node.kindName)")
            return nil
        }
        switch s.value {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            error(node.mark, "\(what) must be true or false, found '\(s.value)'")
            return nil
        }
    }

    /// One of a fixed set of words.
    func choice<T>(_ node: YAMLNode, _ what: String, _ options: [(String, T)]) -> T? {
        guard let s = string(node, what) else { return nil }
        for (name, v) in options where name == s { return v }
        let names = options.map { "'\($0.0)'" }.joined(separator: ", ")
        error(node.mark, "\(what) must be one of \(names), found '\(s)'\(suggestion(s, options.map(\.0)))")
        return nil
    }

    // MARK: - Collections

    func list(_ node: YAMLNode, _ what: String) -> [YAMLNode]? {
        guard case .sequence(let items, _) = node else {
            error(node.mark, "\(what) must be a list, found \(node.kindName)")
            return nil
        }
        return items
    }

    /// A list of text items; a single text value is accepted as a list of one.
    func stringList(_ node: YAMLNode, _ what: String) -> [String]? {
        if case .scalar = node, let s = string(node, what) { return [s] }
        guard let items = list(node, what) else { return nil }
        var out: [String] = []
        var ok = true
        for item in items {
            if let s = string(item, "each entry of \(what)") { out.append(s) } else { ok = false }
        }
        return ok ? out : nil
    }

    func mapping(_ node: YAMLNode, _ what: String) -> MappingReader? {
        guard case .mapping(let pairs, let mark) = node else {
            error(node.mark, "\(what) must be a mapping, found \(node.kindName)")
            return nil
        }
        return MappingReader(context: self, pairs: pairs, mark: mark, what: what)
    }

    // MARK: - Environment

    /// Expands `${NAME}` from the environment; `$${` is a literal `${`. A missing variable is an error.
    func expandEnvironment(_ text: String, at mark: Mark, _ what: String) -> String? {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let r = rest.firstRange(of: "${") {
            if r.lowerBound > rest.startIndex, rest[rest.index(before: r.lowerBound)] == "$" {
                out += rest[..<rest.index(before: r.lowerBound)]
                out += "${"
                rest = rest[r.upperBound...]
                continue
            }
            out += rest[..<r.lowerBound]
            guard let close = rest[r.upperBound...].firstIndex(of: "}") else {
                error(mark, "\(what): unterminated ${ in value")
                return nil
            }
            let name = String(rest[r.upperBound..<close])
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                error(mark, "\(what): '${\(name)}' is not a valid environment variable reference")
                return nil
            }
            guard let value = environment[name] else {
                error(mark, "\(what): environment variable \(name) is not set")
                return nil
            }
            out += value
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    // MARK: - Help

    /// " (did you mean 'x'?)" when a known word is within a small edit distance.
    func suggestion(_ word: String, _ candidates: [String]) -> String {
        let lower = word.lowercased()
        var best: (String, Int)? = nil
        for c in candidates {
            let d = editDistance(lower, c.lowercased())
            if d <= max(1, c.count / 3), d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        return best.map { " (did you mean '\($0.0)'?)" } ?? ""
    }

    private func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var prev = Array(0...y.count)
        var cur = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            cur[0] = i
            for j in 1...y.count {
                cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[y.count]
    }
}

/// Reads the keys of one mapping, remembering which keys the schema knows so that `finish()`
/// can report the unknown ones (typos included, with a suggestion).
struct MappingReader {
    let context: DecodeContext
    let pairs: [YAMLPair]
    let mark: Mark
    var what: String
    private var known: [String] = []

    init(context: DecodeContext, pairs: [YAMLPair], mark: Mark, what: String) {
        self.context = context
        self.pairs = pairs
        self.mark = mark
        self.what = what
    }

    /// The value under `key`, or nil when absent. Registers `key` as part of the schema.
    mutating func optional(_ key: String) -> YAMLNode? {
        known.append(key)
        for p in pairs where p.key.value == key {
            if case .scalar(let s) = p.value, s.isNull { return nil }
            return p.value
        }
        return nil
    }

    /// The value under `key`; reports a missing-key error when absent.
    mutating func required(_ key: String) -> YAMLNode? {
        guard let v = optional(key) else {
            context.error(mark, "\(what): missing required key '\(key)'")
            return nil
        }
        return v
    }

    /// The position of `key`'s name, for errors about the key itself.
    func keyMark(_ key: String) -> Mark {
        pairs.first { $0.key.value == key }?.key.mark ?? mark
    }

    var isEmpty: Bool { pairs.isEmpty }
    var keys: [String] { pairs.map(\.key.value) }

    /// Reports every key the schema did not ask for.
    func finish() {
        for p in pairs where !known.contains(p.key.value) {
            context.error(
                p.key.mark,
                "unknown key '\(p.key.value)' in \(what)\(context.suggestion(p.key.value, known))")
        }
    }
}
