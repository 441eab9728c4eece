import GatewayCore
import GatewaySpool
import Synchronization

/// Picks up dead letters queued for replay (`gateway deadletter replay` moves them into
/// `spool/replay/`, whether or not a gateway runs) and delivers them again: each is stored in the
/// spool as a new notification for its route, and the replay file is removed only after that.
final class ReplayInbox: Sendable {
    let dispatcher: Dispatcher
    let state: GatewayState
    let logger: Logger
    private let busy = Atomic<Bool>(false)
    /// Replays being stored: not to be picked up again by the next poll.
    private let inFlight = Locked<Set<String>>([])

    init(dispatcher: Dispatcher, state: GatewayState, logger: Logger) {
        self.dispatcher = dispatcher
        self.state = state
        self.logger = logger
    }

    func poll() {
        guard !busy.exchange(true, ordering: .acquiringAndReleasing) else { return }
        defer { busy.store(false, ordering: .releasing) }
        let files = DeadLetterFiles(spoolDir: dispatcher.spool.options.dir)
        for (path, entry) in files.pendingReplays() {
            guard inFlight.withLock({ $0.insert(path).inserted }) else { continue }
            guard let route = dispatcher.route(named: entry.route) else {
                files.returnToDead(path: path, entry: entry, reason: "cannot replay: route '\(entry.route)' no longer exists")
                inFlight.withLock { _ = $0.remove(path) }
                logger.warning("dead letter not replayed: its route no longer exists", [("deliveryID", .string(entry.id)), ("route", .string(entry.route))])
                continue
            }
            guard let source = state.sources.sources.first(where: { $0.name == entry.source }),
                // Still the notification the provider sent: its original receive time and headers.
                let event = try? source.classifier.classify(
                    source: entry.source, msgID: entry.msgID, rawBody: entry.body, receivedMs: entry.receivedMs, keptHeaders: entry.headers)
            else {
                files.returnToDead(path: path, entry: entry, reason: "cannot replay: the notification no longer passes its source's rules")
                inFlight.withLock { _ = $0.remove(path) }
                continue
            }
            let (dispatcher, logger, inFlight) = (self.dispatcher, self.logger, self.inFlight)
            dispatcher.spool.accept(
                source: event.source, msgID: event.msgID, eventCode: event.eventCode.rawValue, dedupHash: [], dedupWindowMs: 0, routes: [route.name],
                headers: event.keptHeaders, receivedMs: event.receivedMs, body: event.rawBody
            ) { result in
                let n = event
                defer { inFlight.withLock { _ = $0.remove(path) } }
                guard case .stored(let id) = result else {
                    logger.error("dead letter replay not stored; it stays queued", [("deliveryID", .string(entry.id))])
                    return
                }
                files.finishReplay(path: path)
                dispatcher.start(n, recordID: id, routes: [route])
                logger.info("dead letter replayed", [("deliveryID", .string(entry.id)), ("route", .string(route.name))])
            }
        }
    }
}
