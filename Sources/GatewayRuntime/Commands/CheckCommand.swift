import GatewayConfig
import GatewayCore

/// `gateway check --config FILE`: validate and summarise. Exit status 0 when valid, 1 otherwise.
public enum CheckCommand {
    public static func run(configPath: String) -> Int32 {
        let loaded: LoadedConfiguration
        do {
            loaded = try LoadedConfiguration.load(path: configPath)
        } catch {
            printError("\(error)")
            printError("\(configPath): configuration is NOT valid")
            return 1
        }
        let (config, routes) = (loaded.config, loaded.routes)
        var text = summary(config)
        var plugins: [String: String] = [:]
        for r in routes.routes { for h in r.handlers { plugins[h.plugin.name] = h.plugin.path } }
        if !plugins.isEmpty {
            text += "\nplugins loaded: " + plugins.keys.sorted().map { "\($0) (\(plugins[$0] ?? ""))" }.joined(separator: ", ")
        }
        printOut(text)
        return 0
    }

    /// A human summary naming each source and route. Never prints secret values.
    public static func summary(_ c: GatewayConfig) -> String {
        var out = "\(c.file): configuration OK\n"
        let s = c.server
        out += "server: listen \(s.listen), maxBodyBytes \(s.maxBodyBytes), tls \(s.tls == nil ? "off" : "on"), "
        out += "workers \(s.workers == 0 ? "auto" : String(s.workers)), maxConnections \(s.maxConnections)\n"
        out += "admin: \(c.admin.map { "listen \($0.listen)\($0.token == nil ? "" : ", token set")" } ?? "off")\n"
        out += "spool: \(c.spool.dir)\(c.spool.maxBytes > 0 ? ", maxBytes \(c.spool.maxBytes)" : "")\n"
        out += "plugins: \(c.plugins.path.isEmpty ? "(directory of the gateway executable)" : c.plugins.path.joined(separator: ", "))\n"
        out += "sources (\(c.sources.count)):\n"
        for src in c.sources {
            out += "  - \(src.name): POST \(src.path)\n"
            out += "      signTypes \(src.signTypes.map(\.rawValue).joined(separator: ", "))"
            out += src.signKeys.isEmpty ? "" : "; sign keys: \(src.signKeys.count)"
            out += src.sm2PublicKey.map { "; SM2 public key \($0)" } ?? ""
            out += "\n      DateTime window \(src.maxSkewSeconds == 0 ? "off" : "±\(src.maxSkewSeconds)s"); "
            out += "ack \(src.ack.status) \(JSONValue.quoted(src.ack.body)); dedup window \(src.dedupWindowSeconds)s\n"
        }
        out += "routes (\(c.routes.count)):\n"
        for r in c.routes {
            out += "  - \(r.name): \(r.source.map { "source \($0), " } ?? "")events \(r.events.joined(separator: ", "))"
            out += r.when.isEmpty ? "" : ", \(r.when.count) condition(s)"
            out += r.transform.isEmpty ? "" : ", \(r.transform.count) transform(s)"
            out += "\n      handlers: \(r.handlers.map(\.plugin).joined(separator: " -> "))"
            out += "; retry up to \(r.retry.maxAttempts) attempts (\(r.retry.initialDelayMs)-\(r.retry.maxDelayMs) ms)\n"
        }
        out += "unmatched: \(c.unmatched.rawValue)\n"
        out += "log: \(c.log.level.name), \(c.log.format.rawValue)"
        return out
    }
}
