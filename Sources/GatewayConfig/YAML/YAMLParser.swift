private import CYAML

/// Reads one YAML document into a `YAMLNode` tree with libyaml's event API.
///
/// Limits, because a config file is input too: at most `maxNesting` levels, and at most
/// `maxNodes` nodes after alias expansion (an alias counts as the size of what it names).
/// Multiple documents in one file are refused: a second `---` is almost always a mistake.
enum YAMLParser {
    static let maxNesting = 64
    static let maxNodes = 100_000

    /// Returns nil for an empty document (no content, or only comments).
    static func parse(_ bytes: [UInt8], file: String) throws(ConfigError) -> YAMLNode? {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        defer {
            parser.deallocate()
            event.deallocate()
        }
        guard yaml_parser_initialize(parser) == 1 else {
            throw ConfigError(file: file, line: 0, column: 0, message: "cannot initialise the YAML parser")
        }
        defer { yaml_parser_delete(parser) }

        return try bytes.withUnsafeBufferPointer { buffer throws(ConfigError) -> YAMLNode? in
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            var builder = TreeBuilder(file: file)
            while true {
                guard yaml_parser_parse(parser, event) == 1 else {
                    throw parserError(parser.pointee, file: file)
                }
                defer { yaml_event_delete(event) }
                let done = try builder.handle(event.pointee)
                if done { break }
            }
            return builder.root
        }
    }

    private static func parserError(_ p: yaml_parser_t, file: String) -> ConfigError {
        let problem = p.problem.map { String(cString: $0) } ?? "invalid YAML"
        var message = problem
        if let ctx = p.context { message = "\(problem) \(String(cString: ctx))" }
        let mark = p.problem_mark
        return ConfigError(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1, message: "YAML: \(message)")
    }
}

/// Builds the tree from the event stream.
private struct TreeBuilder {
    /// An open sequence or mapping. A class, so appending to the innermost one happens in place
    /// (a value type popped, changed and pushed back would be copied whole on every append).
    final class Frame {
        let isMapping: Bool
        let mark: Mark
        let anchor: String?
        var size = 1
        var items: [YAMLNode] = []
        var pairs: [YAMLPair] = []
        var pendingKey: YAMLScalar?
        var keys: Set<String> = []

        init(isMapping: Bool, mark: Mark, anchor: String?) {
            self.isMapping = isMapping
            self.mark = mark
            self.anchor = anchor
        }
    }

    let file: String
    var stack: [Frame] = []
    var root: YAMLNode?
    var documents = 0
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    var totalNodes = 0

    init(file: String) {
        self.file = file
    }

    func mark(_ m: yaml_mark_t) -> Mark { Mark(line: Int(m.line) + 1, column: Int(m.column) + 1) }

    func error(_ m: Mark, _ message: String) -> ConfigError { ConfigError(file: file, mark: m, message: message) }

    func text(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        p.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }

    /// Returns true at the end of the stream.
    mutating func handle(_ e: yaml_event_t) throws(ConfigError) -> Bool {
        let m = mark(e.start_mark)
        switch e.type {
        case YAML_STREAM_START_EVENT, YAML_NO_EVENT:
            return false
        case YAML_STREAM_END_EVENT:
            return true
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 { throw error(m, "more than one YAML document in the file; keep one configuration per file") }
            return false
        case YAML_DOCUMENT_END_EVENT:
            return false
        case YAML_SCALAR_EVENT:
            let s = e.data.scalar
            let bytes = UnsafeBufferPointer(start: s.value, count: Int(s.length))
            guard let value = String(validating: bytes, as: UTF8.self) else { throw error(m, "scalar is not valid UTF-8") }
            let style: YAMLScalar.Style =
                switch s.style {
                case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
                case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
                case YAML_LITERAL_SCALAR_STYLE: .literal
                case YAML_FOLDED_SCALAR_STYLE: .folded
                default: .plain
                }
            let scalar = YAMLScalar(value: value, style: style, tag: text(s.tag), mark: m)
            try add(.scalar(scalar), size: 1, anchor: text(s.anchor))
        case YAML_ALIAS_EVENT:
            guard let name = text(e.data.alias.anchor), let target = anchors[name] else {
                throw error(m, "unknown alias")
            }
            try add(target.node, size: target.size, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            if stack.count >= YAMLParser.maxNesting { throw error(m, "nesting deeper than \(YAMLParser.maxNesting) levels") }
            stack.append(Frame(isMapping: false, mark: m, anchor: text(e.data.sequence_start.anchor)))
        case YAML_MAPPING_START_EVENT:
            if stack.count >= YAMLParser.maxNesting { throw error(m, "nesting deeper than \(YAMLParser.maxNesting) levels") }
            stack.append(Frame(isMapping: true, mark: m, anchor: text(e.data.mapping_start.anchor)))
        case YAML_SEQUENCE_END_EVENT:
            guard let f = stack.popLast(), !f.isMapping else { throw error(m, "unbalanced sequence") }
            try add(.sequence(f.items, f.mark), size: f.size, anchor: f.anchor, counted: true)
        case YAML_MAPPING_END_EVENT:
            guard let f = stack.popLast(), f.isMapping else { throw error(m, "unbalanced mapping") }
            try add(.mapping(f.pairs, f.mark), size: f.size, anchor: f.anchor, counted: true)
        default:
            return false
        }
        return false
    }

    /// Attaches a finished node to its parent (or makes it the root).
    mutating func add(_ node: YAMLNode, size: Int, anchor: String?, counted: Bool = false) throws(ConfigError) {
        if !counted {
            totalNodes += size
        }
        if totalNodes > YAMLParser.maxNodes {
            throw error(node.mark, "document expands to more than \(YAMLParser.maxNodes) nodes (alias bomb?)")
        }
        if let anchor { anchors[anchor] = (node, size) }
        guard let top = stack.last else {
            root = node
            return
        }
        top.size += size
        if !top.isMapping {
            top.items.append(node)
        } else if let key = top.pendingKey {
            top.pairs.append(YAMLPair(key: key, value: node))
            top.pendingKey = nil
        } else {
            guard case .scalar(let k) = node else {
                throw error(node.mark, "mapping keys must be plain text, not \(node.kindName)")
            }
            if k.value == "<<" && k.style == .plain {
                throw error(k.mark, "YAML merge keys (<<) are not supported; repeat the keys or use an alias as a whole value")
            }
            if !top.keys.insert(k.value).inserted {
                throw error(k.mark, "duplicate key '\(k.value)'")
            }
            top.pendingKey = k
        }
    }
}
