import Foundation
import GatewayCore

extension GatewayConfig {
    /// Reads and validates a configuration file. Relative paths inside it (spool directory, key
    /// files, plugin directories, TLS files) are resolved against the file's own directory.
    ///
    /// - Throws: `ConfigErrors` listing every problem as `FILE:LINE:COL: message`.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigErrors) -> GatewayConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read file" : "no such file"
            throw ConfigErrors([ConfigError(file: path, line: 0, column: 0, message: reason)])
        }
        let base = (path as NSString).deletingLastPathComponent
        return try decode(Array(data), file: path, baseDirectory: base.isEmpty ? "." : base, environment: environment)
    }

    /// Decodes configuration text. `file` is used in error messages only.
    public static func decode(
        _ bytes: [UInt8], file: String, baseDirectory: String = ".",
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigErrors) -> GatewayConfig {
        if bytes.count > 4 << 20 {
            throw ConfigErrors([ConfigError(file: file, line: 0, column: 0, message: "file is larger than 4 MiB")])
        }
        let root: YAMLNode?
        do {
            root = try YAMLParser.parse(bytes, file: file)
        } catch {
            throw ConfigErrors([error])
        }
        var env = environment
        // `${GATEWAY_CONFIG_DIR}`: the configuration file's directory, absolute, so handler
        // settings (script paths, output files) can be written relative to the file.
        let absoluteBase = baseDirectory.hasPrefix("/") ? baseDirectory : FileManager.default.currentDirectoryPath + "/" + baseDirectory
        env["GATEWAY_CONFIG_DIR"] = (absoluteBase as NSString).standardizingPath
        let ctx = DecodeContext(file: file, environment: env)
        guard let root else {
            ctx.error(.start, "empty configuration: 'server.listen' and at least one entry under 'sources' are required")
            throw ConfigErrors(ctx.errors)
        }
        let decoder = ConfigDecoder(ctx: ctx, baseDirectory: baseDirectory)
        let config = decoder.decodeRoot(root)
        if let config, ctx.errors.isEmpty { return config }
        throw ConfigErrors(ctx.errors)
    }
}

/// Node tree -> typed configuration. Each section has its own method; each reports its own
/// errors and returns nil (or a default) so decoding continues through the whole file.
struct ConfigDecoder {
    let ctx: DecodeContext
    let baseDirectory: String

    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : (baseDirectory == "." ? path : baseDirectory + "/" + path)
    }

    func decodeRoot(_ root: YAMLNode) -> GatewayConfig? {
        guard var m = ctx.mapping(root, "the configuration") else { return nil }
        let server = m.required("server").flatMap(decodeServer)
        let admin = m.optional("admin").flatMap(decodeAdmin)
        let spool = m.optional("spool").map(decodeSpool) ?? SpoolConfig.withDir(resolve("./var/spool"))
        let plugins = m.optional("plugins").map(decodePlugins) ?? PluginsConfig()
        let sourcesNode = m.required("sources")
        let sources = sourcesNode.flatMap(decodeSources) ?? []
        let routes = m.optional("routes").map { decodeRoutes($0, sources: sources) } ?? []
        let unmatched =
            m.optional("unmatched").flatMap {
                ctx.choice($0, "unmatched", [("drop", UnmatchedAction.drop), ("deadletter", .deadletter)])
            } ?? .drop
        let log = m.optional("log").map(decodeLog) ?? LogConfig()
        let redact = m.optional("redact").flatMap { ctx.stringList($0, "redact") } ?? []
        m.finish()
        if let sourcesNode, sources.isEmpty, case .sequence(let items, _) = sourcesNode, items.isEmpty {
            ctx.error(sourcesNode.mark, "sources: at least one source is required")
        }
        guard let server else { return nil }
        return GatewayConfig(
            file: ctx.file, server: server, admin: admin, spool: spool, plugins: plugins, sources: sources,
            routes: routes, unmatched: unmatched, log: log, redact: redact)
    }

    // MARK: - server

    func listenAddress(_ node: YAMLNode, _ what: String) -> ListenAddress? {
        guard let text = ctx.string(node, what) else { return nil }
        guard let a = ListenAddress(text) else {
            ctx.error(node.mark, "\(what) must be HOST:PORT (e.g. 127.0.0.1:8080, :8080, [::1]:8080), found '\(text)'")
            return nil
        }
        return a
    }

    func decodeServer(_ node: YAMLNode) -> ServerConfig? {
        guard var m = ctx.mapping(node, "server") else { return nil }
        let listen = m.required("listen").flatMap { listenAddress($0, "server.listen") }
        var s = ServerConfig(listen: listen ?? ListenAddress(host: "127.0.0.1", port: 0))
        func intKey(_ key: String, _ keyPath: WritableKeyPath<ServerConfig, Int>, min: Int, max: Int) {
            if let n = m.optional(key), let v = ctx.int(n, "server.\(key)", min: min, max: max) { s[keyPath: keyPath] = v }
        }
        func sizeKey(_ key: String, _ keyPath: WritableKeyPath<ServerConfig, Int>, min: Int, max: Int) {
            if let n = m.optional(key), let v = ctx.byteSize(n, "server.\(key)", min: min, max: max) { s[keyPath: keyPath] = v }
        }
        sizeKey("maxBodyBytes", \.maxBodyBytes, min: 1, max: 1 << 30)
        s.tls = m.optional("tls").flatMap(decodeTLS)
        intKey("workers", \.workers, min: 0, max: 256)
        intKey("maxConnections", \.maxConnections, min: 1, max: 10_000_000)
        intKey("maxRequestsPerConnection", \.maxRequestsPerConnection, min: 0, max: Int(Int32.max))
        sizeKey("maxHeaderBytes", \.maxHeaderBytes, min: 256, max: 1 << 20)
        intKey("maxHeaderCount", \.maxHeaderCount, min: 1, max: 10_000)
        sizeKey("maxRequestTargetBytes", \.maxRequestTargetBytes, min: 16, max: 1 << 20)
        intKey("headerTimeoutMs", \.headerTimeoutMs, min: 1, max: 3_600_000)
        intKey("bodyTimeoutMs", \.bodyTimeoutMs, min: 1, max: 3_600_000)
        intKey("idleTimeoutMs", \.idleTimeoutMs, min: 1, max: 86_400_000)
        intKey("writeTimeoutMs", \.writeTimeoutMs, min: 1, max: 3_600_000)
        intKey("shutdownGraceMs", \.shutdownGraceMs, min: 0, max: 3_600_000)
        intKey("maxJSONDepth", \.maxJSONDepth, min: 1, max: 1024)
        intKey("maxJSONNumberLength", \.maxJSONNumberLength, min: 1, max: 4096)
        m.finish()
        if s.maxRequestTargetBytes >= s.maxHeaderBytes {
            ctx.error(m.keyMark("maxRequestTargetBytes"), "server.maxRequestTargetBytes must be smaller than server.maxHeaderBytes")
        }
        return listen == nil ? nil : s
    }

    func decodeTLS(_ node: YAMLNode) -> TLSConfig? {
        guard var m = ctx.mapping(node, "server.tls") else { return nil }
        let cert = m.required("cert").flatMap { readableFile($0, "server.tls.cert") }
        let keyNode = m.required("key")
        let key = keyNode.flatMap { readableFile($0, "server.tls.key") }
        m.finish()
        guard let cert, let key else { return nil }
        // The private key is a secret: like `{file: ...}` secrets, others must not read it.
        if let keyNode, let mode = Self.permissions(key), mode & 0o004 != 0 {
            ctx.error(keyNode.mark, "server.tls: the private key '\(key)' is readable by other users; chmod o-r it")
            return nil
        }
        return TLSConfig(cert: cert, key: key, mark: node.mark)
    }

    /// The permission bits of `path` (nil when it cannot be read).
    static func permissions(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
    }

    /// A path to a file that must exist and be readable now.
    func readableFile(_ node: YAMLNode, _ what: String) -> String? {
        guard let p = ctx.nonEmptyString(node, what) else { return nil }
        let path = resolve(p)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            ctx.error(node.mark, "\(what): no such file '\(path)'")
            return nil
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            ctx.error(node.mark, "\(what): cannot read '\(path)'")
            return nil
        }
        return path
    }

    // MARK: - admin, spool, plugins, log

    func decodeAdmin(_ node: YAMLNode) -> AdminConfig? {
        guard var m = ctx.mapping(node, "admin") else { return nil }
        let listen = m.required("listen").flatMap { listenAddress($0, "admin.listen") }
        let token = m.optional("token").flatMap { decodeSecret($0, "admin.token") }
        m.finish()
        guard let listen else { return nil }
        if !listen.isLoopback && token == nil {
            ctx.error(node.mark, "admin: 'token' is required when admin.listen is not a loopback address")
        }
        return AdminConfig(listen: listen, token: token)
    }

    func decodeSpool(_ node: YAMLNode) -> SpoolConfig {
        var s = SpoolConfig.withDir(resolve("./var/spool"))
        guard var m = ctx.mapping(node, "spool") else { return s }
        if let n = m.optional("dir"), let d = ctx.nonEmptyString(n, "spool.dir") { s.dir = resolve(d) }
        let maxBytesNode = m.optional("maxBytes")
        if let n = maxBytesNode, let v = ctx.byteSize(n, "spool.maxBytes", min: 0, max: Int.max) { s.maxBytes = v }
        if let n = m.optional("fsync"), let v = ctx.bool(n, "spool.fsync") { s.fsync = v }
        if let n = m.optional("segmentBytes"), let v = ctx.byteSize(n, "spool.segmentBytes", min: 64 << 10, max: 1 << 30) {
            s.segmentBytes = v
        }
        if s.maxBytes > 0 && s.maxBytes < 4 * s.segmentSize {
            // Delivered segments are deleted whole and the active one never: with fewer than four
            // segments under the limit, a full spool could not free space.
            ctx.error((maxBytesNode ?? node).mark, "spool.maxBytes (\(s.maxBytes)) must be at least 4 x spool.segmentBytes (\(s.segmentSize))")
        }
        m.finish()
        return s
    }

    func decodePlugins(_ node: YAMLNode) -> PluginsConfig {
        var p = PluginsConfig()
        guard var m = ctx.mapping(node, "plugins") else { return p }
        if let n = m.optional("path"), let dirs = ctx.stringList(n, "plugins.path") {
            p.path = dirs.map(resolve)
        }
        m.finish()
        return p
    }

    func decodeLog(_ node: YAMLNode) -> LogConfig {
        var l = LogConfig()
        guard var m = ctx.mapping(node, "log") else { return l }
        if let n = m.optional("level"),
            let v = ctx.choice(n, "log.level", LogLevel.allCases.map { ($0.name, $0) } + [("warning", .warning)])
        {
            l.level = v
        }
        if let n = m.optional("format"), let v = ctx.choice(n, "log.format", LogFormat.allCases.map { ($0.rawValue, $0) }) {
            l.format = v
        }
        if let n = m.optional("output"), let v = ctx.nonEmptyString(n, "log.output") {
            switch v {
            case "stdout": l.output = .stdout
            case "stderr": l.output = .stderr
            default: l.output = .file(resolve(v))
            }
        }
        m.finish()
        return l
    }

    // MARK: - secrets

    /// A secret: literal text (with `${VAR}` expansion), `{env: VAR}`, or `{file: PATH}` (the file
    /// must not be readable by other users; one trailing newline is trimmed).
    func decodeSecret(_ node: YAMLNode, _ what: String) -> Secret? {
        switch node {
        case .scalar:
            guard let raw = ctx.nonEmptyString(node, what),
                let v = ctx.expandEnvironment(raw, at: node.mark, what)
            else { return nil }
            guard !v.isEmpty else {
                ctx.error(node.mark, "\(what) is empty after expanding environment variables")
                return nil
            }
            return Secret(v)
        case .mapping:
            guard var m = ctx.mapping(node, what) else { return nil }
            let env = m.optional("env")
            let file = m.optional("file")
            m.finish()
            switch (env, file) {
            case (let e?, nil):
                guard let name = ctx.nonEmptyString(e, "\(what).env") else { return nil }
                guard let v = ctx.environment[name], !v.isEmpty else {
                    ctx.error(e.mark, "\(what): environment variable \(name) is not set")
                    return nil
                }
                return Secret(v)
            case (nil, let f?):
                return readSecretFile(f, what)
            default:
                ctx.error(node.mark, "\(what) must have exactly one of 'env' or 'file'")
                return nil
            }
        case .sequence:
            ctx.error(node.mark, "\(what) must be text, {env: NAME} or {file: PATH}")
            return nil
        }
    }

    func readSecretFile(_ node: YAMLNode, _ what: String) -> Secret? {
        guard let p = ctx.nonEmptyString(node, "\(what).file") else { return nil }
        let path = resolve(p)
        guard let perms = Self.permissions(path), let data = FileManager.default.contents(atPath: path) else {
            ctx.error(node.mark, "\(what): cannot read secret file '\(path)'")
            return nil
        }
        if perms & 0o007 != 0 {
            ctx.error(node.mark, "\(what): secret file '\(path)' is accessible by other users (mode \(String(perms, radix: 8))); chmod o-rwx it")
            return nil
        }
        guard var text = String(data: data, encoding: .utf8) else {
            ctx.error(node.mark, "\(what): secret file '\(path)' is not UTF-8 text")
            return nil
        }
        if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
        guard !text.isEmpty else {
            ctx.error(node.mark, "\(what): secret file '\(path)' is empty")
            return nil
        }
        return Secret(text)
    }
}

extension SpoolConfig {
    static func withDir(_ dir: String) -> SpoolConfig {
        var s = SpoolConfig()
        s.dir = dir
        return s
    }
}
