import GatewayConfig
import GatewayCore
import GatewayHTTP
import MetadataFilterPlugin

/// The fuzz targets: each takes arbitrary bytes, must never crash, and checks properties that
/// must hold for every input (a failed check traps, which the fuzzer reports as a crash).
/// Shared by the libFuzzer driver (`gateway-fuzz`, built with `-sanitize=fuzzer`) and by the
/// regression tests, which replay the seed corpus and every crasher ever found.
public enum FuzzTargets {
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "http-parser": httpParser,
        "json": json,
        "yaml-config": yamlConfig,
        "routing": routing,
        "metadata": metadata,
    ]

    /// The HTTP/1.1 request parser: the same events whether the bytes come at once or in pieces
    /// (the split points are taken from the input itself), and bounded by its limits.
    @Sendable public static func httpParser(_ data: [UInt8]) {
        var limits = HTTPParserLimits()
        limits.maxBodyBytes = 4096
        limits.maxHeaderBytes = 2048
        limits.maxHeaderCount = 32
        limits.maxRequestTargetBytes = 256
        var whole = HTTPRequestParser(limits: limits)
        var a: [HTTPRequestParser.Event] = []
        whole.feed(data, into: &a)
        var pieces = HTTPRequestParser(limits: limits)
        var b: [HTTPRequestParser.Event] = []
        var i = 0
        var seed = data.first.map { Int($0) } ?? 1
        while i < data.count {
            seed = (seed &* 1_103_515_245 &+ 12345) & 0x7fff_ffff
            let n = min(data.count - i, 1 + seed % 17)
            pieces.feed(Array(data[i..<(i + n)]), into: &b)
            i += n
        }
        // The same requests, and an error at the same place. Which 4xx it is may differ when
        // the bytes break two rules at once (an over-long target that also holds a NUL: 414 if
        // the parser saw the length first, 400 if it saw the whole line): both close the
        // connection, and nothing more is read.
        check(summary(a, errorStatus: false) == summary(b, errorStatus: false), "split input parsed differently")
        for e in a {
            if case .request(let r) = e {
                check(r.body.count <= limits.maxBodyBytes, "body over the limit")
                check(r.head.target.utf8.count <= limits.maxRequestTargetBytes, "target over the limit")
            }
        }
    }

    private static func summary(_ events: [HTTPRequestParser.Event], errorStatus: Bool) -> [String] {
        events.map {
            switch $0 {
            case .request(let r): "req \(r.head.method) \(r.head.target) \(r.head.keepAlive) \(r.body)"
            case .continueRequested: "100"
            case .error(let e): errorStatus ? "err \(e.status)" : "err"
            }
        }
    }

    /// JSON: the validating tape parser and the tree parser agree on what is valid, and a parsed
    /// document serializes to text that parses back to the same value.
    @Sendable public static func json(_ data: [UInt8]) {
        let limits = JSONParser.Limits(maxDepth: 64, maxNumberLength: 64)
        let doc = try? JSONDocument.parse(data, limits: limits)
        let tree = try? JSONParser.parse(data, limits: limits)
        check((doc == nil) == (tree == nil), "tape and tree parsers disagree")
        guard let tree else { return }
        let text = tree.serialized()
        guard let again = try? JSONParser.parse(text, limits: JSONParser.Limits(maxDepth: 65, maxNumberLength: 64)) else {
            return check(false, "serialized JSON does not parse")
        }
        check(again == tree, "JSON round trip changed the value")
        if let doc { check(doc.root.materialize() == tree, "tape view differs from the tree") }
    }

    /// The configuration loader on arbitrary YAML: errors are fine, crashes and hangs are not.
    @Sendable public static func yamlConfig(_ data: [UInt8]) {
        _ = try? GatewayConfig.decode(data, file: "fuzz.yaml", baseDirectory: "/nonexistent", environment: ["FUZZ": "x"])
    }

    /// Conditions, paths, templates and transforms: the input is a `routes:` YAML fragment, a
    /// NUL byte, and a JSON event. Whatever compiles is evaluated against whatever parses.
    @Sendable public static func routing(_ data: [UInt8]) {
        let cut = data.firstIndex(of: 0) ?? data.count
        let prefix = Array("server: {listen: 127.0.0.1:1}\nsources: [{name: s, path: /p, signKey: k}]\n".utf8)
        guard let config = try? GatewayConfig.decode(prefix + data[..<cut], file: "fuzz.yaml", baseDirectory: "/nonexistent", environment: [:])
        else { return }
        let body = cut < data.count ? Array(data[(cut + 1)...]) : Array(#"{"eventCode":"Payment"}"#.utf8)
        guard let doc = try? JSONDocument.parse(body, limits: JSONParser.Limits(maxDepth: 64, maxNumberLength: 64)) else { return }
        for r in config.routes {
            let rule = RouteRule(name: r.name, source: r.source, events: r.events, conditions: r.when)
            for c in rule.conditions { _ = c.holds(for: doc.root) }
            let out = Transform.applyAll(r.transform, to: doc.root)
            // A `set` nests its value as deep as its path is long, below an event nested up to 64
            // deep: the output may be that much deeper (and is still valid JSON).
            let deepest = r.transform.map { t -> Int in
                switch t {
                case .set(let a): a.map(\.path.segments.count).max() ?? 0
                case .rename(let m): m.map(\.to.segments.count).max() ?? 0
                default: 0
                }
            }.max() ?? 0
            let limits = JSONParser.Limits(maxDepth: 64 + deepest + 1, maxNumberLength: 64)
            check((try? JSONParser.parse(out, limits: limits)) != nil, "a transform produced invalid JSON")
            // The edits kept beside the original bytes write what the edited tree writes.
            if let spliced = SplicedEdits.apply(r.transform, to: doc.root) {
                check(spliced == out, "spliced edits differ from the edited tree")
            }
        }
    }

    /// The metadata-filter plugin's parser (JSON, `k=v&k=v`, `k=v;k=v`, raw).
    @Sendable public static func metadata(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        let m = Metadata.parse(text)
        _ = m.form
        // Key lookups walk the parsed metadata: dotted, indexed, odd and empty keys. For JSON,
        // each gives what a lookup over the decoded keys (Strings) gives.
        var bytes = Array(text.utf8)[...]
        while let f = bytes.first, f == 0x20 || f == 0x09 { bytes = bytes.dropFirst() }
        while let l = bytes.last, l == 0x20 || l == 0x09 { bytes = bytes.dropLast() }
        let parsed = m.form == .json ? (try? JSONDocument.parse(Array(bytes))) : nil
        for key in ["a", "a.b", "a.0.b", "tenant", ".", "a..b", "", "0", "a.", ".a", "é", "a.1", "a.1.b", "arr.1.b"] {
            let v = m.value(forKey: key)
            if let parsed {
                check(v == referenceLookup(parsed.root, Substring(key)), "metadata key '\(key)': \(v ?? "nil")")
            }
        }
        // Read from bytes without the raw text: the same form and values.
        var copy = text
        let fromBytes = copy.withUTF8 { Metadata.parse(bytes: $0, keepingRaw: false) }
        check(fromBytes.form == m.form && fromBytes.raw == nil, "metadata form from bytes")
        for key in ["a", "a.b", "tenant"] { check(fromBytes.value(forKey: key) == m.value(forKey: key), "metadata from bytes, key '\(key)'") }
    }

    /// The metadata key lookup as it was written over decoded keys (Strings), kept as the
    /// reference the byte comparison must agree with.
    static func referenceLookup(_ node: JSONRef, _ key: Substring) -> String? {
        var found: String? = nil
        func visit(_ name: String, _ child: JSONRef) {
            guard key.utf8.starts(with: name.utf8) else { return }
            let rest = key.utf8.dropFirst(name.utf8.count)
            if rest.isEmpty {
                switch child.kind {
                case .null: found = "null"
                case .object, .array: break
                default: if let t = child.scalarText { found = t }
                }
            } else if rest.first == UInt8(ascii: ".") {
                let r = Substring(rest.dropFirst())
                if !r.isEmpty, let t = referenceLookup(child, r) { found = t }
            }
        }
        switch node.kind {
        case .object:
            node.forEachMember { name, child in visit(name, child) }
        case .array:
            var i = 0
            node.forEachElement { child in
                visit(String(i), child)
                i += 1
            }
        default:
            break
        }
        return found
    }

    /// A failed property: trap, so that libFuzzer (and a test) stops here with the input.
    static func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("fuzz property failed: \(message())") }
    }
}
