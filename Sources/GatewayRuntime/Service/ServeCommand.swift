import Foundation
import GatewayConfig
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import GatewayPluginHost
import GatewaySpool
import Glibc
import Synchronization

/// `gateway serve --config FILE`: load, listen, serve until SIGTERM/SIGINT; SIGHUP reloads.
public enum ServeCommand {
    /// Returns the process exit status.
    public static func run(configPath: String) -> Int32 {
        Signals.blockHandled()
        // Files the gateway (and the programs it starts) create are private unless made otherwise.
        umask(0o077)
        let config: GatewayConfig
        let sources: SourceTable
        // Optional so that it can be let go once the dispatcher holds it: this function runs
        // until shutdown, and a table kept here would keep the plugin instances of routes a
        // reload removes (their destroy closes what they hold) alive until then.
        var routes: RouteTable?
        let tls: TLSServerContext?
        do {
            config = try GatewayConfig.load(path: configPath)
            sources = try SourceTable(config: config)
            tls = try TLSSetup.serverContext(config)
        } catch {
            printError("configuration error:\n\(error)")
            return 2
        }
        let sink: AsyncLogSink
        switch config.log.output {
        case .stdout: sink = AsyncLogSink(fd: 1, format: config.log.format)
        case .stderr: sink = AsyncLogSink(fd: 2, format: config.log.format)
        case .file(let path):
            do {
                sink = try AsyncLogSink(path: path, format: config.log.format)
            } catch {
                printError("cannot open log.output '\(path)': \(error)")
                return 2
            }
        }
        let logger = Logger(
            sink: sink, level: config.log.level, format: config.log.format,
            redactor: Redactor(extraNames: config.redact, secrets: config.secrets))
        defer { sink.flush() }
        HostServices.setLogger(logger)
        do {
            routes = try RouteTable.compile(config, loadPlugins: true)
        } catch {
            sink.flush()
            printError("configuration error:\n\(error)")
            return 2
        }


        let fdLimit = raiseOpenFileLimit()
        let state = GatewayState(config: config, sources: sources)
        let metrics = GatewayMetrics()

        // The spool first: nothing is answered before it is open, and what it holds is resumed.
        var spoolOptions = Spool.Options(dir: config.spool.dir)
        spoolOptions.maxBytes = config.spool.maxBytes
        spoolOptions.fsync = config.spool.fsync
        spoolOptions.segmentBytes = config.spool.segmentSize
        spoolOptions.fsyncDurations = metrics.fsyncSeconds
        let spool: Spool
        do {
            spool = try Spool(options: spoolOptions, logger: logger)
        } catch {
            logger.error("cannot open the spool", [("dir", .string(config.spool.dir)), ("error", .string(error.message))])
            return 1
        }
        defer { spool.close() }
        let report = spool.report
        if report.tightenedDirectory {
            logger.warning("the spool directory was accessible by other users; it is now 0700", [("dir", .string(config.spool.dir))])
        }
        for (segment, damage, kept) in report.damaged {
            if kept {
                logger.error(
                    "spool segment damaged inside the log; its readable records were recovered, the rest is kept untouched for inspection (the segment is never compacted)",
                    [("segment", .string(segment)), ("damage", .string("\(damage)"))])
            } else {
                logger.warning(
                    "torn tail of the spool cut off (written but never synced, so never acknowledged); the cut bytes are in the spool's damaged/ directory",
                    [("segment", .string(segment)), ("damage", .string("\(damage)"))])
            }
        }
        if !config.spool.fsync {
            logger.warning("spool.fsync is off: an acknowledged notification can be lost in a power failure")
        }
        let workers = config.server.workers > 0 ? config.server.workers : EventLoopGroup.defaultCount
        let group: EventLoopGroup
        let publicServer: HTTPServer
        var adminServer: HTTPServer? = nil
        let dispatcher: Dispatcher
        let reloader: Reloader
        let publicListening = Locked(false)
        do {
            guard let table = routes.take() else { return 2 }  // compiled above, or returned early
            dispatcher = try Dispatcher(table: table, spool: spool, logger: logger, metrics: metrics)
            group = try EventLoopGroup(count: workers)
            for loop in group.loops { loop.addIterationHook { [spool] in spool.commitDeferred() } }
            let socket = try ListeningSocket(address: socketAddress(config.server.listen))
            publicServer = HTTPServer(
                socket: socket, group: group, configuration: httpConfiguration(config.server, name: "public"),
                responder: IngressResponder(state: state, dispatcher: dispatcher, logger: logger, metrics: metrics, spoolWakeAtIterationEnd: true),
                logger: logger,
                tls: tls)
            reloader = Reloader(
                configPath: configPath, state: state, dispatcher: dispatcher, logger: logger, metrics: metrics, reopenLog: { sink.reopen() },
                replaceTLS: { [publicServer] ctx in publicServer.replaceTLS(ctx) })
            if let admin = config.admin {
                let adminSocket = try ListeningSocket(address: socketAddress(admin.listen))
                var adminConfig = HTTPServerConfiguration()
                adminConfig.name = "admin"
                adminConfig.maxConnections = 256
                adminServer = HTTPServer(
                    socket: adminSocket, group: group, configuration: adminConfig,
                    responder: AdminResponder(
                        state: state, dispatcher: dispatcher, metrics: metrics, reloader: reloader, logger: logger,
                        listening: { [publicServer] in publicListening.withLock { $0 } && !publicServer.isDraining }),
                    logger: logger)
            }
        } catch {
            logger.error("cannot start listening", [("error", .string("\(error)"))])
            return 1
        }

        dispatcher.resume(spool.recovered) { record in
            guard let src = state.sources.sources.first(where: { $0.name == record.source }) else { return nil }
            return try? src.classifier.classify(
                source: record.source, msgID: record.msgID, rawBody: record.body, receivedMs: record.receivedMs, keptHeaders: record.headers)
        }
        let replays = ReplayInbox(dispatcher: dispatcher, state: state, logger: logger)
        replays.poll()
        dispatcher.every(ms: 1000) { replays.poll() }

        metrics.addCollectors(servers: [publicServer] + (adminServer.map { [$0] } ?? []), dispatcher: dispatcher)
        metrics.registry.collected(
            "gateway_log_lines_dropped_total", "Log lines dropped because the log output could not keep up.", type: "counter"
        ) { [([], Double(sink.droppedTotal))] }
        group.start()
        publicServer.start()
        publicListening.withLock { $0 = true }
        adminServer?.start()
        state.setReady(true)
        logger.lifecycle(
            "gateway listening",
            [
                ("listen", .string(publicServer.address.description)), ("tls", .bool(tls != nil)),
                ("admin", .string(adminServer?.address.description ?? "off")),
                ("workers", .int(workers)), ("ioUring", .bool(group.batchesSends)), ("sources", .int(config.sources.count)), ("routes", .int(config.routes.count)),
                ("openFilesLimit", .int(fdLimit)), ("config", .string(configPath)), ("pid", .int(Int(getpid()))),
                ("spool", .string(config.spool.dir)), ("spoolRecords", .int(report.records)), ("resumed", .int(spool.recovered.count)),
            ])

        while true {
            let sig = Signals.wait()
            if sig == SIGHUP {
                _ = reloader.reload(trigger: "SIGHUP")
                continue
            }
            logger.lifecycle("shutting down", [("signal", .string(sig == SIGTERM ? "SIGTERM" : "SIGINT"))])
            break
        }

        // Graceful shutdown, all within one grace period: not ready; stop accepting and let the
        // requests in flight finish (one whose bytes are still arriving included); start no new
        // delivery attempt and let running ones finish. What is still pending is in the spool and
        // resumes on the next start.
        state.setReady(false)
        let deadline = DispatchTime.now() + .milliseconds(config.server.shutdownGraceMs)
        dispatcher.stop()
        let done = DispatchSemaphore(value: 0)
        publicServer.drain { done.signal() }
        if done.wait(timeout: deadline) == .timedOut {
            logger.warning("shutdown grace period over with requests still open", [("open", .int(publicServer.openConnections))])
        }
        adminServer?.drain {}
        group.stop()
        let leftMs = max(0, Int((Int64(deadline.uptimeNanoseconds) - Int64(DispatchTime.now().uptimeNanoseconds)) / 1_000_000))
        if !dispatcher.waitIdle(timeoutMs: leftMs) {
            logger.warning("shutdown grace period over with delivery attempts still running; they are retried on the next start")
        }
        let unfinished = dispatcher.pending.values.reduce(0, +)
        if unfinished > 0 {
            logger.lifecycle("deliveries pending at exit resume on the next start", [("pending", .int(unfinished))])
        }
        logger.lifecycle("stopped", [("accepted", .int(state.stats.accepted.load(ordering: .relaxed)))])
        return 0
    }

    static func socketAddress(_ a: ListenAddress) -> SocketAddress {
        SocketAddress(host: a.host, port: a.port, isIPv6: a.isIPv6)
    }

    static func httpConfiguration(_ s: ServerConfig, name: String) -> HTTPServerConfiguration {
        var c = HTTPServerConfiguration()
        c.name = name
        c.parser.maxBodyBytes = s.maxBodyBytes
        c.parser.maxHeaderBytes = s.maxHeaderBytes
        c.parser.maxHeaderCount = s.maxHeaderCount
        c.parser.maxRequestTargetBytes = s.maxRequestTargetBytes
        c.maxConnections = s.maxConnections
        c.maxRequestsPerConnection = s.maxRequestsPerConnection
        c.headerTimeoutMs = UInt64(s.headerTimeoutMs)
        c.bodyTimeoutMs = UInt64(s.bodyTimeoutMs)
        c.idleTimeoutMs = UInt64(s.idleTimeoutMs)
        c.writeTimeoutMs = UInt64(s.writeTimeoutMs)
        return c
    }
}

func printError(_ s: String) {
    FileHandle.standardError.write(Data((s.hasSuffix("\n") ? s : s + "\n").utf8))
}

func printOut(_ s: String) {
    FileHandle.standardOutput.write(Data((s.hasSuffix("\n") ? s : s + "\n").utf8))
}
