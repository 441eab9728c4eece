import GatewayCore

extension ConfigDecoder {
    func decodeRoutes(_ node: YAMLNode, sources: [SourceConfig]) -> [RouteConfig] {
        guard let items = ctx.list(node, "routes") else { return [] }
        var out: [RouteConfig] = []
        var names: [String: Mark] = [:]
        for (i, item) in items.enumerated() {
            guard let r = decodeRoute(item, index: i, sources: sources) else { continue }
            if let prev = names[r.name] {
                ctx.error(r.mark, "routes[\(i)]: duplicate route name '\(r.name)' (first at line \(prev.line))")
            } else {
                names[r.name] = r.mark
            }
            out.append(r)
        }
        return out
    }

    func decodeRoute(_ node: YAMLNode, index i: Int, sources: [SourceConfig]) -> RouteConfig? {
        let what = "routes[\(i)]"
        guard var m = ctx.mapping(node, what) else { return nil }
        let name = m.required("name").flatMap { ctx.nonEmptyString($0, "\(what).name") }
        if let name, !ConfigDecoder.isValidName(name), let n = m.optional("name") {
            ctx.error(n.mark, "\(what).name must be 1-64 letters, digits, '-', '_' or '.', found '\(name)'")
        }
        let label = name.map { "route '\($0)'" } ?? what
        m.what = label
        var source: String? = nil
        if let n = m.optional("source"), let s = ctx.nonEmptyString(n, "\(label): source") {
            if !sources.isEmpty && !sources.contains(where: { $0.name == s }) {
                ctx.error(n.mark, "\(label): unknown source '\(s)'\(ctx.suggestion(s, sources.map(\.name)))")
            }
            source = s
        }
        var events: [String] = []
        if let n = m.required("events"), let list = ctx.stringList(n, "\(label): events") {
            if list.isEmpty { ctx.error(n.mark, "\(label): events must list at least one event code, or \"*\"") }
            for e in list where e != "*" && (e.isEmpty || e.count > 32) {
                ctx.error(n.mark, "\(label): event code '\(e)' must have 1 to 32 characters")
            }
            events = list
        }
        let when = m.optional("when").map { decodeConditionList($0, "\(label): when") } ?? []
        let transform = m.optional("transform").map { decodeTransforms($0, label) } ?? []
        var handlers: [HandlerConfig] = []
        if let n = m.required("handlers"), let list = ctx.list(n, "\(label): handlers") {
            if list.isEmpty { ctx.error(n.mark, "\(label): handlers must list at least one handler") }
            handlers = list.enumerated().compactMap { decodeHandler($0.element, "\(label): handlers[\($0.offset)]") }
        }
        let retry = m.optional("retry").map { decodeRetry($0, label) } ?? RetryPolicy()
        let concurrency = m.optional("concurrency").flatMap { ctx.int($0, "\(label): concurrency", min: 1, max: 256) } ?? 4
        let maxPending = m.optional("maxPending").flatMap { ctx.int($0, "\(label): maxPending", min: 1, max: 10_000_000) } ?? 100_000
        m.finish()
        guard let name else { return nil }
        var r = RouteConfig(
            name: name, source: source, events: events, when: when, transform: transform, handlers: handlers,
            retry: retry, mark: node.mark)
        r.concurrency = concurrency
        r.maxPending = maxPending
        return r
    }

    func decodeRetry(_ node: YAMLNode, _ label: String) -> RetryPolicy {
        var r = RetryPolicy()
        guard var m = ctx.mapping(node, "\(label): retry") else { return r }
        if let n = m.optional("maxAttempts"), let v = ctx.int(n, "\(label): retry.maxAttempts", min: 1, max: 1000) { r.maxAttempts = v }
        if let n = m.optional("initialDelayMs"), let v = ctx.int(n, "\(label): retry.initialDelayMs", min: 1, max: 86_400_000) {
            r.initialDelayMs = v
        }
        if let n = m.optional("maxDelayMs"), let v = ctx.int(n, "\(label): retry.maxDelayMs", min: 1, max: 86_400_000) {
            r.maxDelayMs = v
        }
        m.finish()
        if r.maxDelayMs < r.initialDelayMs {
            ctx.error(node.mark, "\(label): retry.maxDelayMs must not be smaller than retry.initialDelayMs")
        }
        return r
    }

    func decodeHandler(_ node: YAMLNode, _ what: String) -> HandlerConfig? {
        guard var m = ctx.mapping(node, what) else { return nil }
        let plugin = m.required("plugin").flatMap { ctx.nonEmptyString($0, "\(what).plugin") }
        if let plugin, !plugin.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }),
            let n = m.optional("plugin")
        {
            ctx.error(n.mark, "\(what).plugin must be a plugin name of lower-case letters, digits and '-', found '\(plugin)'")
        }
        var with = JSONValue.object(JSONObject())
        if let n = m.optional("with") {
            if case .mapping = n { with = jsonValue(n) } else { ctx.error(n.mark, "\(what).with must be a mapping") }
        }
        m.finish()
        guard let plugin else { return nil }
        return HandlerConfig(plugin: plugin, with: with, mark: node.mark)
    }

    /// YAML -> JSON with YAML 1.2 core-schema typing for plain scalars (numbers, booleans, null);
    /// quoted scalars are always strings. Strings get `${VAR}` expansion, so plugin settings such
    /// as URLs and tokens can come from the environment.
    func jsonValue(_ node: YAMLNode) -> JSONValue {
        switch node {
        case .mapping(let pairs, _):
            return .object(JSONObject(pairs.map { JSONObject.Member(key: $0.key.value, value: jsonValue($0.value)) }))
        case .sequence(let items, _):
            return .array(items.map(jsonValue))
        case .scalar(let s):
            if s.style == .plain && s.tag == nil {
                if s.isNull { return .null }
                switch s.value {
                case "true", "True", "TRUE": return .bool(true)
                case "false", "False", "FALSE": return .bool(false)
                default: break
                }
                if let n = ConfigDecoder.jsonNumber(s.value) { return .number(n) }
            }
            return .string(ctx.expandEnvironment(s.value, at: s.mark, "value") ?? s.value)
        }
    }

    /// The JSON number text for a YAML plain scalar that is a number, else nil.
    static func jsonNumber(_ text: String) -> String? {
        guard let value = try? JSONParser.parse(text), case .number(let n) = value else { return nil }
        return n
    }

    // MARK: - conditions

    func decodeConditionList(_ node: YAMLNode, _ what: String) -> [Condition] {
        guard let items = ctx.list(node, what) else { return [] }
        return items.enumerated().compactMap { decodeCondition($0.element, "\(what)[\($0.offset)]") }
    }

    static let operatorKeys = ["equals", "notEquals", "in", "prefix", "matches", "exists"]

    func decodeCondition(_ node: YAMLNode, _ what: String) -> Condition? {
        guard var m = ctx.mapping(node, what) else { return nil }
        if m.keys.contains("any") || m.keys.contains("all") {
            let any = m.optional("any")
            let all = m.optional("all")
            m.finish()
            if any != nil && all != nil {
                ctx.error(node.mark, "\(what): use either 'any' or 'all', not both")
                return nil
            }
            if let any {
                let list = decodeConditionList(any, "\(what).any")
                if list.isEmpty { ctx.error(any.mark, "\(what).any must list at least one condition") }
                return .any(list)
            }
            if let all {
                let list = decodeConditionList(all, "\(what).all")
                if list.isEmpty { ctx.error(all.mark, "\(what).all must list at least one condition") }
                return .all(list)
            }
            return nil
        }
        let pathNode = m.required("path")
        let path = pathNode.flatMap { decodeJSONPath($0, "\(what).path") }
        var ops: [(String, YAMLNode)] = []
        for key in ConfigDecoder.operatorKeys {
            if let v = m.optional(key) { ops.append((key, v)) }
        }
        m.finish()
        guard ops.count == 1 else {
            ctx.error(
                node.mark,
                ops.isEmpty
                    ? "\(what): needs one operator: \(ConfigDecoder.operatorKeys.joined(separator: ", "))"
                    : "\(what): has \(ops.count) operators (\(ops.map(\.0).joined(separator: ", "))); use one per condition")
            return nil
        }
        let (key, v) = ops[0]
        let op: ConditionOperator?
        switch key {
        case "equals": op = scalarText(v, "\(what).equals").map { .equals($0) }
        case "notEquals": op = scalarText(v, "\(what).notEquals").map { .notEquals($0) }
        case "prefix": op = scalarText(v, "\(what).prefix").map { .prefix($0) }
        case "in":
            op = ctx.list(v, "\(what).in").map { items in .oneOf(items.compactMap { scalarText($0, "\(what).in") }) }
        case "matches":
            if let text = ctx.string(v, "\(what).matches") {
                do {
                    op = .matches(try Pattern(text))
                } catch {
                    ctx.error(v.mark, "\(what).matches: invalid regular expression '\(text)'")
                    op = nil
                }
            } else {
                op = nil
            }
        case "exists": op = ctx.bool(v, "\(what).exists").map { .exists($0) }
        default: op = nil
        }
        guard let path, let op else { return nil }
        return .match(path: path, op: op)
    }

    /// A scalar operand compared against JSON scalars by text (empty string allowed).
    func scalarText(_ node: YAMLNode, _ what: String) -> String? {
        guard case .scalar(let s) = node else {
            ctx.error(node.mark, "\(what) must be a single value, found \(node.kindName)")
            return nil
        }
        return s.isNull ? "null" : s.value
    }

    func decodeJSONPath(_ node: YAMLNode, _ what: String) -> JSONPath? {
        guard let text = ctx.nonEmptyString(node, what) else { return nil }
        guard let p = JSONPath(text) else {
            ctx.error(node.mark, "\(what): '\(text)' is not a dotted path such as payment.status")
            return nil
        }
        return p
    }

    // MARK: - transforms

    static let transformKeys = ["remove", "mask", "set", "rename", "keep"]

    func decodeTransforms(_ node: YAMLNode, _ label: String) -> [Transform] {
        guard let items = ctx.list(node, "\(label): transform") else { return [] }
        var out: [Transform] = []
        for (i, item) in items.enumerated() {
            let what = "\(label): transform[\(i)]"
            guard case .mapping(let pairs, _) = item, pairs.count == 1 else {
                ctx.error(item.mark, "\(what) must be a mapping with one of \(ConfigDecoder.transformKeys.joined(separator: ", "))")
                continue
            }
            let key = pairs[0].key.value
            let v = pairs[0].value
            switch key {
            case "remove", "mask":
                guard let list = ctx.stringList(v, "\(what).\(key)") else { continue }
                let paths = list.compactMap { text -> JSONPath? in
                    guard let p = JSONPath(text) else {
                        ctx.error(v.mark, "\(what).\(key): '\(text)' is not a dotted path")
                        return nil
                    }
                    return p
                }
                out.append(key == "remove" ? .remove(paths) : .mask(paths))
            case "keep":
                guard let list = ctx.stringList(v, "\(what).keep") else { continue }
                out.append(.keep(list))
            case "set":
                guard case .mapping(let setPairs, _) = v else {
                    ctx.error(v.mark, "\(what).set must be a mapping of path: value")
                    continue
                }
                var assignments: [(path: JSONPath, value: Template)] = []
                for p in setPairs {
                    guard let path = JSONPath(p.key.value) else {
                        ctx.error(p.key.mark, "\(what).set: '\(p.key.value)' is not a dotted path")
                        continue
                    }
                    guard let text = scalarText(p.value, "\(what).set.\(p.key.value)") else { continue }
                    do {
                        assignments.append((path, try Template(text)))
                    } catch {
                        ctx.error(p.value.mark, "\(what).set.\(p.key.value): \(error.message)")
                    }
                }
                out.append(.set(assignments))
            case "rename":
                guard case .mapping(let renamePairs, _) = v else {
                    ctx.error(v.mark, "\(what).rename must be a mapping of from: to")
                    continue
                }
                var moves: [(from: JSONPath, to: JSONPath)] = []
                for p in renamePairs {
                    guard let from = JSONPath(p.key.value) else {
                        ctx.error(p.key.mark, "\(what).rename: '\(p.key.value)' is not a dotted path")
                        continue
                    }
                    guard let to = decodeJSONPath(p.value, "\(what).rename.\(p.key.value)") else { continue }
                    moves.append((from, to))
                }
                out.append(.rename(moves))
            default:
                ctx.error(
                    pairs[0].key.mark,
                    "\(what): unknown transform '\(key)'; use one of \(ConfigDecoder.transformKeys.joined(separator: ", "))"
                        + ctx.suggestion(key, ConfigDecoder.transformKeys))
            }
        }
        return out
    }
}
