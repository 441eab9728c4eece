import GatewayConfig
import GatewayCore
import GatewayPluginHost

/// A route ready to run: its rule, transforms, handler instances and retry policy.
public final class CompiledRoute: Sendable {
    public let rule: RouteRule
    public let transforms: [Transform]
    /// What the transforms can change (for `TransformedEvent`), worked out once.
    public let reach: TransformReach
    /// Plugin names, in order (for logs and the dry run).
    public let handlerNames: [String]
    /// Handler instances; empty in a dry-run table (no plugin is loaded then).
    public let handlers: [PluginInstance]
    public let retry: RetryPolicy
    public let concurrency: Int
    public let maxPending: Int
    /// What a delivery's progress depends on: the transforms and the handler chain (plugins and
    /// their `with:`). Across a reload, a pending delivery keeps its place in the chain only when
    /// this is unchanged; otherwise it starts again from the first handler.
    public let chainFingerprint: String
    /// How many leading handlers are non-blocking plugins (`GW_PLUGIN_NONBLOCKING`): those run
    /// on the thread that starts the delivery (a receiving thread), with the transforms, and
    /// only what they pass on is handed to the route's workers.
    public let inlineHandlers: Int
    /// How many leading handlers are also pure (`GW_PLUGIN_PURE`): those run before the
    /// notification is stored, and decide whether this route takes it at all (a tenant split's
    /// filters). An event they drop is stored without this route: no pending delivery, no
    /// outcome record, no hand-off. What they pass on is stored with the route and continues at
    /// the next handler. Never more than `inlineHandlers`.
    public let screeningHandlers: Int

    public var name: String { rule.name }

    init(config r: RouteConfig, handlers: [PluginInstance]) {
        rule = RouteRule(name: r.name, source: r.source, events: r.events, conditions: r.when)
        transforms = r.transform
        reach = TransformReach(r.transform)
        handlerNames = r.handlers.map(\.plugin)
        self.handlers = handlers
        retry = r.retry
        inlineHandlers = handlers.prefix { $0.plugin.isNonBlocking }.count
        screeningHandlers = handlers.prefix { $0.plugin.isNonBlocking && $0.plugin.isPure }.count
        concurrency = r.concurrency
        maxPending = r.maxPending
        chainFingerprint =
            "\(r.transform)|" + r.handlers.map { $0.plugin + ":" + String(decoding: $0.with.serialized(), as: UTF8.self) }.joined(separator: "|")
    }

    /// The body the first handler receives: the event after this route's transforms. Without
    /// transforms, the raw body as received (byte for byte, no re-encoding).
    public func transformedBody(_ n: GatewayEvent) -> [UInt8] {
        transformed(n)?.serialized() ?? n.rawBody
    }

    /// The transforms over `n`, to run when something needs what they make (nil without
    /// transforms: the body as received).
    public func transformed(_ n: GatewayEvent) -> TransformedEvent? {
        transforms.isEmpty ? nil : TransformedEvent(n.document.root, reach: reach)
    }
}

/// The routes of one configuration generation, compiled once and then only read.
public final class RouteTable: Sendable {
    public let routes: [CompiledRoute]
    public let unmatched: UnmatchedAction

    init(routes: [CompiledRoute], unmatched: UnmatchedAction) {
        self.routes = routes
        self.unmatched = unmatched
    }

    /// Compiles `config.routes`. With `loadPlugins`, every handler's plugin is loaded and an
    /// instance created from its `with:` block (so plugin configuration errors surface here, with
    /// the handler's position); without, nothing is loaded (the dry run).
    public static func compile(_ config: GatewayConfig, loadPlugins: Bool) throws(ConfigErrors) -> RouteTable {
        var errors: [ConfigError] = []
        var compiled: [CompiledRoute] = []
        for r in config.routes {
            var instances: [PluginInstance] = []
            if loadPlugins {
                for (i, h) in r.handlers.enumerated() {
                    do {
                        let plugin = try PluginLoader.load(name: h.plugin, searchPath: config.plugins.path)
                        instances.append(try plugin.makeInstance(configJSON: h.with.serialized()))
                    } catch {
                        errors.append(
                            ConfigError(file: config.file, mark: h.mark, message: "route '\(r.name)': handlers[\(i)] (\(h.plugin)): \(error.message)"))
                    }
                }
            }
            compiled.append(CompiledRoute(config: r, handlers: instances))
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        return RouteTable(routes: compiled, unmatched: config.unmatched)
    }

    /// The routes that take `n`.
    public func matching(_ n: GatewayEvent) -> [CompiledRoute] {
        routes.filter { $0.rule.matches(n) }
    }
}
