import GatewayConfig
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import Synchronization

/// Hot reload (SIGHUP and `POST /admin/reload`): parse and validate the file, load plugins and
/// build the new sources and routes completely *before* anything is swapped; then swap routes
/// and sources, each atomically. Requests in flight finish with the objects they already hold;
/// an invalid file changes nothing.
///
/// What a reload does not change (the process keeps its sockets, spool and loops): `server.*`
/// listen addresses and limits, `admin.listen`, `spool.*`, `log.format`, `log.output` (the log file is reopened on every reload, for logrotate). (`log.level` and
/// `redact:` do reload.) Those need a restart; the
/// log says so when they differ. A plugin added to the configuration loads on reload; a changed
/// plugin file takes effect on restart (plugins are never unloaded).
final class Reloader: Sendable {
    enum Outcome: Sendable {
        case reloaded(generation: Int, change: Dispatcher.Change)
        /// The configuration's errors, one `FILE:LINE:COL: message` per line.
        case failed([String])
    }

    let configPath: String
    let state: GatewayState
    let dispatcher: Dispatcher
    let logger: Logger
    let metrics: GatewayMetrics
    /// Reopens a log file (logrotate sends SIGHUP after moving it).
    let reopenLog: @Sendable () -> Void
    /// Installs a reloaded certificate on the public listener.
    let replaceTLS: @Sendable (TLSServerContext) -> Void
    /// One reload at a time: SIGHUP and the admin endpoint may race.
    private let serial = Locked<Void>(())

    init(
        configPath: String, state: GatewayState, dispatcher: Dispatcher, logger: Logger, metrics: GatewayMetrics,
        reopenLog: @escaping @Sendable () -> Void = {}, replaceTLS: @escaping @Sendable (TLSServerContext) -> Void = { _ in }
    ) {
        self.reopenLog = reopenLog
        self.replaceTLS = replaceTLS
        self.configPath = configPath
        self.state = state
        self.dispatcher = dispatcher
        self.logger = logger
        self.metrics = metrics
    }

    func reload(trigger: String) -> Outcome {
        serial.withLock { _ in reloadLocked(trigger: trigger) }
    }

    private func reloadLocked(trigger: String) -> Outcome {
        // Even when the new file is invalid: rotation must not depend on the config being valid.
        reopenLog()
        let loaded: LoadedConfiguration
        do {
            loaded = try LoadedConfiguration.load(path: configPath)
        } catch {
            metrics.reloads.labels("failed").add()
            let lines = error.errors.map(\.description)
            logger.error(
                "configuration reload failed; the current configuration keeps serving",
                [("trigger", .string(trigger)), ("errors", .string(lines.joined(separator: "\n"))), ("generation", .int(state.generation))])
            return .failed(lines)
        }
        let (config, sources, tls, routes) = (loaded.config, loaded.sources, loaded.tls, loaded.routes)
        let old = state.config
        var restartOnly: [String] = []
        if config.server.listen != old.server.listen { restartOnly.append("server.listen") }
        if (config.server.tls == nil) != (old.server.tls == nil) { restartOnly.append("server.tls on/off") }
        if config.admin?.listen != old.admin?.listen { restartOnly.append("admin.listen") }
        if config.spool != old.spool { restartOnly.append("spool") }
        if config.log.format != old.log.format { restartOnly.append("log.format") }
        if config.log.output != old.log.output { restartOnly.append("log.output") }
        if !config.server.sameLimits(as: old.server) { restartOnly.append("server limits") }

        // The redactor first: it must know the new secrets before anything could log them. The old
        // ones stay known (a line about an earlier request may still carry one).
        let secrets = Array(Set(logger.redactor.secrets + config.secrets))
        logger.control.update(level: config.log.level, redactor: Redactor(extraNames: config.redact, secrets: secrets))
        // Routes next: a notification accepted under the new sources finds the new routes.
        let generation = state.generation + 1
        let change = dispatcher.apply(routes, generation: generation)
        // A renewed certificate and key: new connections use them, open ones keep theirs.
        if let tls, old.server.tls != nil { replaceTLS(tls) }
        state.replace(config: config, sources: sources)
        metrics.reloads.labels("ok").add()
        metrics.generation.set(state.generation)
        metrics.lastReloadSeconds.set(Int(wallClockMilliseconds() / 1000))
        logger.lifecycle(
            "configuration reloaded",
            [
                ("trigger", .string(trigger)), ("generation", .int(state.generation)), ("sources", .int(config.sources.count)),
                ("routes", .int(config.routes.count)), ("added", .string(change.added.joined(separator: ","))),
                ("removed", .string(change.removed.joined(separator: ","))),
            ])
        if !restartOnly.isEmpty {
            logger.warning(
                "some changed settings take effect only on restart", [("settings", .string(restartOnly.joined(separator: ", ")))])
        }
        return .reloaded(generation: state.generation, change: change)
    }
}
