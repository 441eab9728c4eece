import GatewayCore

extension ConfigDecoder {
    static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64
            && s.utf8.allSatisfy { ASCII.isTokenChar($0) && $0 != UInt8(ascii: "*") && $0 != UInt8(ascii: "`") }
    }

    func decodeSources(_ node: YAMLNode) -> [SourceConfig]? {
        guard let items = ctx.list(node, "sources") else { return nil }
        var out: [SourceConfig] = []
        var names: [String: Mark] = [:]
        var paths: [String: Mark] = [:]
        for (i, item) in items.enumerated() {
            guard let s = decodeSource(item, index: i) else { continue }
            if let prev = names[s.name] {
                ctx.error(s.mark, "sources[\(i)]: duplicate source name '\(s.name)' (first at line \(prev.line))")
            } else {
                names[s.name] = s.mark
            }
            if let prev = paths[s.path] {
                ctx.error(s.mark, "sources[\(i)]: path '\(s.path)' is already used by another source (line \(prev.line))")
            } else {
                paths[s.path] = s.mark
            }
            out.append(s)
        }
        return out
    }

    func decodeSource(_ node: YAMLNode, index i: Int) -> SourceConfig? {
        let what = "sources[\(i)]"
        guard var m = ctx.mapping(node, what) else { return nil }
        let name = m.required("name").flatMap { ctx.nonEmptyString($0, "\(what).name") }
        if let name, !ConfigDecoder.isValidName(name), let n = m.optional("name") {
            ctx.error(n.mark, "\(what).name must be 1-64 letters, digits, '-', '_' or '.', found '\(name)'")
        }
        let label = name.map { "source '\($0)'" } ?? what
        m.what = label
        let path = m.required("path").flatMap { decodeRequestPath($0, "\(label): path") }

        var keys: [Secret] = []
        let signKeyNode = m.optional("signKey")
        if let n = signKeyNode {
            if case .sequence(let items, _) = n {
                if items.isEmpty { ctx.error(n.mark, "\(label): signKey list is empty") }
                keys = items.compactMap { decodeSecret($0, "\(label): signKey") }
            } else if let k = decodeSecret(n, "\(label): signKey") {
                keys = [k]
            }
        }
        var types: [SignType]? = nil
        if let n = m.optional("signTypes"), let names = ctx.stringList(n, "\(label): signTypes") {
            var t: [SignType] = []
            for name in names {
                if let st = SignType(name: name) {
                    if !t.contains(st) { t.append(st) }
                } else {
                    ctx.error(
                        n.mark,
                        "\(label): unknown sign type '\(name)'; use \(SignType.allCases.map(\.rawValue).joined(separator: ", "))"
                            + ctx.suggestion(name, SignType.allCases.map(\.rawValue)))
                }
            }
            if names.isEmpty { ctx.error(n.mark, "\(label): signTypes must list at least one type") }
            types = t
        }
        let sm2Node = m.optional("sm2PublicKey")
        let sm2 = sm2Node.flatMap { readableFile($0, "\(label): sm2PublicKey") }
        let skew = m.optional("maxSkewSeconds").flatMap { ctx.int($0, "\(label): maxSkewSeconds", min: 0, max: 86_400 * 7) } ?? 0
        let ack = m.optional("ack").map { decodeAck($0, label) } ?? AckConfig()
        let dedup =
            m.optional("dedupWindowSeconds").flatMap {
                ctx.int($0, "\(label): dedupWindowSeconds", min: 0, max: 86_400 * 366)
            } ?? 86_400
        let maxMeta =
            m.optional("maxMetadataLength").flatMap {
                ctx.int($0, "\(label): maxMetadataLength", min: 0, max: 1 << 20)
            } ?? 512
        var rateLimit: RateLimitConfig? = nil
        if let n = m.optional("rateLimit"), var r = ctx.mapping(n, "\(label): rateLimit") {
            let per = r.required("perSecond").flatMap { ctx.int($0, "\(label): rateLimit.perSecond", min: 1, max: 1_000_000) }
            let burst = r.optional("burst").flatMap { ctx.int($0, "\(label): rateLimit.burst", min: 1, max: 1_000_000) }
            r.finish()
            if let per { rateLimit = RateLimitConfig(perSecond: per, burst: burst ?? per) }
        }
        var allowFrom: [CIDR] = []
        if let n = m.optional("allowFrom"), let items = ctx.stringList(n, "\(label): allowFrom") {
            if items.isEmpty { ctx.error(n.mark, "\(label): allowFrom is empty (leave it out to allow every address)") }
            for text in items {
                if let c = CIDR(text) {
                    allowFrom.append(c)
                } else {
                    ctx.error(n.mark, "\(label): allowFrom: '\(text)' is not an address or CIDR block (e.g. 10.0.0.0/8, 2001:db8::/32)")
                }
            }
        }
        m.finish()

        // Which sign types are allowed, and are their keys configured?
        let hasSM2Key = sm2Node != nil
        let allowed = types ?? (signKeyNode == nil ? [] : SignType.symmetric) + (hasSM2Key ? [.sm2WithSM3] : [])
        if allowed.isEmpty && types == nil {
            ctx.error(node.mark, "\(label): needs 'signKey' (for SHA256/SHA512/HMAC) or 'sm2PublicKey' (for SM2withSM3)")
        }
        if allowed.contains(where: \.usesSharedKey) && signKeyNode == nil {
            ctx.error(node.mark, "\(label): 'signKey' is required for sign types \(allowed.filter(\.usesSharedKey).map(\.rawValue).joined(separator: ", "))")
        }
        if allowed.contains(.sm2WithSM3) && !hasSM2Key {
            ctx.error(node.mark, "\(label): 'sm2PublicKey' is required when SM2withSM3 is allowed")
        }
        guard let name, let path else { return nil }
        var s = SourceConfig(name: name, path: path, signKeys: keys, signTypes: allowed, mark: node.mark)
        s.sm2PublicKey = sm2
        s.sm2PublicKeyMark = sm2Node?.mark
        s.maxSkewSeconds = skew
        s.ack = ack
        s.dedupWindowSeconds = dedup
        s.maxMetadataLength = maxMeta
        s.rateLimit = rateLimit
        s.allowFrom = allowFrom
        return s
    }

    func decodeRequestPath(_ node: YAMLNode, _ what: String) -> String? {
        guard let p = ctx.nonEmptyString(node, what) else { return nil }
        guard p.hasPrefix("/") else {
            ctx.error(node.mark, "\(what) must start with '/', found '\(p)'")
            return nil
        }
        guard !p.contains("?"), !p.contains("#"), p.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            ctx.error(node.mark, "\(what) must be a plain path (no query, fragment, spaces or non-ASCII), found '\(p)'")
            return nil
        }
        return p
    }

    func decodeAck(_ node: YAMLNode, _ label: String) -> AckConfig {
        var a = AckConfig()
        guard var m = ctx.mapping(node, "\(label): ack") else { return a }
        if let n = m.optional("status"), let v = ctx.int(n, "\(label): ack.status", min: 200, max: 299) { a.status = v }
        if let n = m.optional("body"), let v = ctx.string(n, "\(label): ack.body") {
            if v.utf8.count > 4096 { ctx.error(n.mark, "\(label): ack.body is longer than 4096 bytes") } else { a.body = v }
        }
        if let n = m.optional("contentType"), let v = ctx.nonEmptyString(n, "\(label): ack.contentType") {
            if v.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                ctx.error(n.mark, "\(label): ack.contentType contains control characters")
            } else {
                a.contentType = v
            }
        }
        m.finish()
        return a
    }
}
