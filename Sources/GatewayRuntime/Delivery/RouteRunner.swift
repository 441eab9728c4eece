import Foundation
import GatewayCore
import GatewayHTTP
import GatewayPluginHost
import GatewaySpool
import Synchronization

/// Runs one route's deliveries on its own worker threads, so a slow or failing route never holds
/// up another, and within the route a delivery waiting for its retry never holds up the others
/// (it sits in the scheduler, not in a worker).
final class RouteRunner: @unchecked Sendable {
    // Unchecked: shared state is in mutexes and atomics; `Delivery` objects are handed from owner
    // to owner (queue -> worker -> scheduler -> queue), never shared.

    /// The route in force and its metric series: replaced whole by a reload.
    private let current: Locked<(route: CompiledRoute, metrics: RouteMetrics)>
    /// Queued deliveries, and those waiting in the timer for their retry. Once `retired` is set
    /// (the route was removed by a reload), nothing is queued any more: what arrives becomes a
    /// dead letter.
    private let queue = Locked<(items: [Delivery], head: Int, waiting: [ObjectIdentifier: Delivery], retired: String?)>(([], 0, [:], nil))
    /// `queue.retired != nil`, readable without the lock (set under it): a delivery submitted on
    /// a receiving thread asks this; one that is queued is checked again under the lock.
    private let retiredFlag = Atomic<Bool>(false)
    private let available = DispatchSemaphore(value: 0)
    /// Queued + running + waiting for a retry.
    let pending = Atomic<Int>(0)
    /// Receive time of each pending notification (by record id), for the oldest-pending metric.
    private let pendingSince = Locked<[UInt64: Int64]>([:])
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Int>(0)
    /// Workers asleep on `available`, and whether a wake-up is already on its way: a delivery
    /// arriving while one is wakes nobody else. Waking a sleeping thread per delivery cost a
    /// context switch each; now a burst wakes one worker, which wakes the next only while work
    /// is left (see `work`).
    private let idleWorkers = Atomic<Int>(0)
    private let wakePending = Atomic<Bool>(false)
    /// Worker threads: the wanted number (the route's `concurrency`) and the indices alive. A
    /// reload that lowers `concurrency` lets workers with higher indices exit after their attempt.
    private let targetWorkers = Atomic<Int>(0)
    private let workers = Locked<Set<Int>>([])
    let events: DeliveryEvents

    init(route: CompiledRoute, events: DeliveryEvents, metrics: GatewayMetrics?) {
        current = Locked((route, RouteMetrics(route: route.name, handlerNames: route.handlerNames, metrics: metrics)))
        self.events = events
    }

    var route: CompiledRoute { current.withLock { $0.route } }
    private var routeAndMetrics: (route: CompiledRoute, metrics: RouteMetrics) { current.withLock { $0 } }

    func start() {
        setConcurrency(route.concurrency)
    }

    /// Starts workers up to `n`; above it, workers exit after their current attempt.
    private func setConcurrency(_ n: Int) {
        targetWorkers.store(n, ordering: .sequentiallyConsistent)
        let name = route.name
        let toStart = workers.withLock { live -> [Int] in
            let missing = (0..<n).filter { !live.contains($0) }
            live.formUnion(missing)
            return missing
        }
        for i in toStart {
            NamedThread.start("gw-r\(i)-\(name)") { [self] in work(index: i) }
        }
        // Sleeping workers above the new limit wake up and leave.
        let extra = workers.withLock { $0.filter { $0 >= n }.count }
        for _ in 0..<extra { available.signal() }
    }

    /// Installs a reloaded definition of this route (same name). Deliveries queued or waiting
    /// for a retry continue under it at their next attempt.
    func update(_ route: CompiledRoute, metrics: GatewayMetrics?) {
        let m = RouteMetrics(route: route.name, handlerNames: route.handlerNames, metrics: metrics)
        current.withLock { $0 = (route, m) }
        setConcurrency(route.concurrency)
    }

    /// The route was removed by a reload: workers stop after their current attempt, and every
    /// delivery still pending (queued now, or coming back from a retry delay or a running attempt
    /// later) becomes a dead letter with `reason`: never silently discarded.
    func retire(reason: String) {
        let orphans = queue.withLock { q -> [Delivery] in
            q.retired = reason
            retiredFlag.store(true, ordering: .releasing)
            let rest = Array(q.items[q.head...]) + Array(q.waiting.values)
            q.items.removeAll()
            q.head = 0
            q.waiting.removeAll()
            return rest
        }
        stop()
        for d in orphans { bury(d, reason: reason) }
    }

    private func bury(_ d: Delivery, reason: String) {
        d.lastError = reason
        finish(d, .dead, handler: -1)
    }

    /// Adds a new delivery of a stored notification (the backlog was checked when it was planned).
    /// The route's leading non-blocking handlers run right here, on the caller's thread: a filter
    /// that drops the event ends the delivery without a hand-off to a worker (a lock, a wake-up
    /// and a context switch each). What they pass on goes to the workers.
    func submitStored(_ d: Delivery) {
        // The route and its metrics are read once (one lock) for the whole inline attempt.
        let current = routeAndMetrics
        if current.route.inlineHandlers > 0 && !isRetired {
            // Counted as pending (for the backlog) but entered in the pending-since table only
            // if it is handed over (see `handOver`): most filtered events end right here.
            pending.add(1, ordering: .relaxed)
            attempt(d, inlineUpTo: current.route.inlineHandlers, current: current)
        } else {
            track(d)
            enqueue(d)
        }
    }

    private var isRetired: Bool { retiredFlag.load(ordering: .acquiring) }

    /// Asks the route's screening handlers (its leading pure filters, `GW_PLUGIN_PURE`) whether
    /// it takes `n`, before `n` is stored, on the receiving thread. Nothing is counted, logged
    /// or recorded here: the notification may yet turn out a duplicate or be refused. A delivery
    /// is made only for an event they pass on; it continues after them once `n` is stored
    /// (`submitStored`), its first attempt already begun. Retry or fail from a pure filter
    /// decides nothing: the attempt starts over after the store, where such answers are handled.
    func screen(_ n: GatewayEvent, id: DeliveryID) -> Screening {
        // One lock for both: a drop is counted in these metrics later (`screenedOut`).
        let (route, metrics) = routeAndMetrics
        guard route.screeningHandlers > 0 && !isRetired else { return .undecided }
        let t0 = monotonicNanoseconds()
        var view = route.transformed(n)
        var body: [UInt8]? = view == nil ? n.rawBody : nil
        var document: JSONDocument? = route.transforms.isEmpty ? n.document : nil
        for i in 0..<route.screeningHandlers {
            let handler = route.handlers[i]
            if body == nil && handler.plugin.readsBody { body = view?.serialized() ?? n.rawBody }
            let outcome = handler.handle(
                body: body ?? [], eventCode: n.eventCode.rawValue, source: n.source, route: route.name, msgID: n.msgID,
                deliveryID: .parts(id), attempt: 1, document: document, view: view)
            switch outcome {
            case .proceed(let newBody):
                Self.continueWith(newBody, body: &body, document: &document, view: &view)
            case .drop:
                return .dropped(Screening.Drop(route: route, metrics: metrics, handler: i, attemptNs: monotonicNanoseconds() &- t0))
            case .retry, .fail:
                return .undecided
            }
        }
        let d = Delivery(id: id, notification: n, route: route)
        d.attempts = 1
        d.continuesAttempt = true
        d.handlerIndex = route.screeningHandlers
        d.body = body
        d.view = view
        return .passed(d)
    }

    /// What the next handler reads after one answered continue: a new body it set replaces
    /// the event (the parsed document and the transformed view no longer describe it).
    @inline(__always)
    private static func continueWith(
        _ newBody: [UInt8]?, body: inout [UInt8]?, document: inout JSONDocument?, view: inout TransformedEvent?
    ) {
        guard let newBody else { return }
        body = newBody
        document = nil
        view = nil
    }

    /// Counts and logs a drop `screen` decided, once the notification is stored (without
    /// this route): as a delivery the filter dropped, minus the spool's outcome record.
    func screenedOut(_ n: GatewayEvent, recordID: UInt64, _ drop: Screening.Drop) {
        let m = drop.metrics
        m.attemptSeconds.observe(Double(drop.attemptNs) / 1e9)
        m.finished(.dropped, handler: drop.handler)
        if n.receivedMs > 0 { m.deliverySeconds.observe(Double(max(0, wallClockMilliseconds() - n.receivedMs)) / 1000) }
        // The level read through `control`: `logger.isEnabled` copied the Logger out of
        // `events` first (its sink, fields and control retained and released).
        guard events.logger.control.level <= .debug else { return }
        events.logger.debug(
            "dropped by a handler",
            events.fields(
                route: drop.route, id: events.spool.deliveryID(id: recordID, route: drop.route.name), n: n, attempts: 1,
                handler: drop.handler, outcome: "dropped"))
    }

    private func track(_ d: Delivery) {
        pending.add(1, ordering: .relaxed)
        trackSince(d)
    }

    private func trackSince(_ d: Delivery) {
        let since = d.notification.receivedMs
        pendingSince.withLock { $0[d.recordID] = since }
        d.inPendingSince = true
    }

    /// The receive time of the oldest notification still pending here (nil when none).
    var oldestPendingMs: Int64? { pendingSince.withLock { $0.values.min() } }

    /// Queues a delivery (new, or back from its retry delay).
    func enqueue(_ d: Delivery) {
        let retired = queue.withLock { q -> String? in
            if let r = q.retired { return r }
            q.items.append(d)
            return nil
        }
        if let retired {
            bury(d, reason: retired)
        } else {
            wakeOne()
        }
    }

    private func wakeOne() {
        if idleWorkers.load(ordering: .sequentiallyConsistent) > 0
            && !wakePending.exchange(true, ordering: .sequentiallyConsistent)
        {
            available.signal()
        }
    }

    private var hasQueued: Bool { queue.withLock { $0.head < $0.items.count } }

    /// The next delivery, and whether more are waiting (one lock for both).
    private func next() -> (Delivery, Bool)? {
        queue.withLock { q -> (Delivery, Bool)? in
            guard q.head < q.items.count else { return nil }
            let d = q.items[q.head]
            q.head += 1
            let more = q.head < q.items.count
            // Compact now and then instead of shifting the array on every pop.
            if q.head > 1024 && q.head * 2 > q.items.count {
                q.items.removeFirst(q.head)
                q.head = 0
            } else if q.head == q.items.count {
                q.items.removeAll(keepingCapacity: true)
                q.head = 0
            }
            return (d, more)
        }
    }

    /// Whether worker `index` must leave (stopping, or above a lowered `concurrency`); decided
    /// under the workers lock so that a concurrent raise never leaves an index without a thread.
    private func shouldExit(_ index: Int) -> Bool {
        if stopping.load(ordering: .relaxed) { return true }
        guard index >= targetWorkers.load(ordering: .sequentiallyConsistent) else { return false }
        return workers.withLock { live in
            guard index >= targetWorkers.load(ordering: .sequentiallyConsistent) else { return false }
            live.remove(index)
            return true
        }
    }

    private func work(index: Int) {
        while !shouldExit(index) {
            if let (d, more) = next() {
                // More waiting: hand it to a sleeping colleague rather than leave it queued
                // behind this (possibly slow) attempt.
                if more { wakeOne() }
                running.add(1, ordering: .relaxed)
                attempt(d)
                running.subtract(1, ordering: .relaxed)
                continue
            }
            idleWorkers.add(1, ordering: .sequentiallyConsistent)
            // Look again after announcing ourselves idle: a delivery queued in between would
            // otherwise wait for the next wake-up.
            if hasQueued {
                idleWorkers.subtract(1, ordering: .sequentiallyConsistent)
                continue
            }
            available.wait()
            idleWorkers.subtract(1, ordering: .sequentiallyConsistent)
            wakePending.store(false, ordering: .sequentiallyConsistent)
        }
        // Leaving while others sleep and work is queued: pass the wake-up on.
        if hasQueued { available.signal() }
    }

    /// Stops the workers after their current delivery (queued ones stay queued).
    func stop() {
        stopping.store(true, ordering: .relaxed)
        let n = workers.withLock { $0.count }
        for _ in 0..<max(n, 1) { available.signal() }
    }

    var runningCount: Int { running.load(ordering: .relaxed) }

    /// One attempt: run the handler chain from where the delivery stands.
    ///
    /// With `inlineUpTo` (on a receiving thread), only handlers before that index run, and only
    /// their fast answers count here: past them, or when one answers retry or fail, the delivery
    /// goes to a worker, which continues the same attempt from that handler (calling it again
    /// for a retry or fail, so that dead letters and retry records are written off the
    /// receiving thread).
    func attempt(_ d: Delivery, inlineUpTo limit: Int? = nil, current: (route: CompiledRoute, metrics: RouteMetrics)? = nil) {
        let (route, metrics) = current ?? routeAndMetrics
        if d.route !== route {
            // Reloaded since this delivery last ran: keep its place only if the chain is the same.
            if d.route.chainFingerprint != route.chainFingerprint {
                d.handlerIndex = 0
                d.body = nil
                d.view = nil
            }
            d.route = route
        }
        // The event is read through `d` (`d.notification.x`): a local copy of it retained and
        // released each of its dozen strings and arrays on every attempt.
        let t0 = monotonicNanoseconds()
        // An attempt handed from a receiving thread to a worker is observed once, by the worker.
        // (A local flag: once handed over, `d` belongs to the worker and is not read here.)
        var handedOver = false
        defer { if !handedOver { metrics.attemptSeconds.observe(sinceNs: t0) } }
        // The transforms run once per delivery; what they made is written out (serialized) only
        // when a handler reads the body. A filter that reads values only (GW_PLUGIN_BODY_UNUSED)
        // and drops the event never costs one; one it passes on is written for the next handler.
        if d.body == nil && d.view == nil { d.view = route.transformed(d.notification) }
        if d.continuesAttempt {
            d.continuesAttempt = false
        } else {
            d.attempts += 1
        }
        // nil: not written out yet (the view holds the event).
        var body: [UInt8]? = d.body ?? (d.view == nil ? d.notification.rawBody : nil)
        var view = d.view
        func written() -> [UInt8] { body ?? view?.serialized() ?? d.notification.rawBody }
        // While the body is the event as received, handlers read it through its tape; while it
        // is what the transforms made, through their edited view: no second parse either way.
        var document: JSONDocument? = route.transforms.isEmpty && d.handlerIndex == 0 ? d.notification.document : nil
        var i = d.handlerIndex
        while i < route.handlers.count {
            if let limit, i >= limit {
                handedOver = true
                return handOver(d, at: i, body: body, view: view)
            }
            let handler = route.handlers[i]
            if body == nil && handler.plugin.readsBody { body = written() }
            let outcome = handler.handle(
                body: body ?? [], eventCode: d.notification.eventCode.rawValue, source: d.notification.source, route: route.name,
                msgID: d.notification.msgID, deliveryID: d.idParts.map { HandlerCall.DeliveryIDText.parts($0) } ?? .text(d.id),
                attempt: d.attempts, document: document, view: view)
            if limit != nil && !outcome.isAnsweredOnTheReceivingThread {
                handedOver = true
                return handOver(d, at: i, body: body, view: view)
            }
            switch outcome {
            case .proceed(let newBody):
                Self.continueWith(newBody, body: &body, document: &document, view: &view)
                i += 1
            case .drop:
                finish(d, .dropped, handler: i, metrics: metrics)
                return
            case .retry(let reason, let afterMs):
                d.handlerIndex = i
                // Written out now: the retry record keeps the body a later handler resumes with.
                d.body = written()
                d.view = view
                d.lastError = reason
                if d.attempts >= route.retry.maxAttempts {
                    d.lastError = "gave up after \(d.attempts) attempts: \(reason)"
                    finish(d, .dead, handler: i, metrics: metrics)
                } else {
                    let delay = max(route.retry.delayMs(afterAttempt: d.attempts, random: Double.random(in: 0..<1)), Int(afterMs))
                    metrics.retried(handler: i)
                    events.retrying(d, handler: i, reason: reason, delayMs: delay)
                    schedule(d, afterMs: delay)
                }
                return
            case .fail(let reason):
                d.handlerIndex = i
                d.lastError = reason
                finish(d, .dead, handler: i, metrics: metrics)
                return
            }
        }
        finish(d, .delivered, handler: route.handlers.count - 1, metrics: metrics)
    }

    /// Gives a delivery whose attempt began on a receiving thread to the workers, to continue at
    /// handler `i`.
    private func handOver(_ d: Delivery, at i: Int, body: [UInt8]?, view: TransformedEvent?) {
        d.handlerIndex = i
        d.body = body
        d.view = view
        d.continuesAttempt = true
        trackSince(d)
        enqueue(d)
    }

    /// Queues `d` again after `ms` (it waits in the timer, not in a worker).
    func schedule(_ d: Delivery, afterMs ms: Int) {
        if ms <= 0 {
            enqueue(d)
            return
        }
        let key = ObjectIdentifier(d)
        let retired = queue.withLock { q -> String? in
            if let r = q.retired { return r }
            q.waiting[key] = d
            return nil
        }
        if let retired { return bury(d, reason: retired) }
        events.scheduler.scheduleTask(afterMs: UInt64(ms)) { [self] in
            // Gone from `waiting`: the route was retired meanwhile and the delivery buried.
            if queue.withLock({ $0.waiting.removeValue(forKey: key) }) != nil { enqueue(d) }
        }
    }

    /// Adds a delivery recovered from the spool (counted as pending) and schedules it.
    func resume(_ d: Delivery, afterMs ms: Int) {
        track(d)
        schedule(d, afterMs: ms)
    }

    private func finish(_ d: Delivery, _ outcome: DeliveryOutcome, handler: Int, metrics: RouteMetrics? = nil) {
        let m = metrics ?? routeAndMetrics.metrics
        m.finished(outcome, handler: handler)
        let since = d.notification.receivedMs
        if since > 0 { m.deliverySeconds.observe(Double(max(0, wallClockMilliseconds() - since)) / 1000) }
        if d.inPendingSince { pendingSince.withLock { _ = $0.removeValue(forKey: d.recordID) } }
        pending.subtract(1, ordering: .relaxed)
        events.finished(d, outcome, handler: handler)
    }
}

/// What runners report to (the spool, dead letters, logging, counters) and the timer they use
/// for retries.
final class DeliveryEvents: Sendable {
    let logger: Logger
    let spool: Spool
    let deadLetters: DeadLetterFiles
    let scheduler: EventLoop
    let delivered = Atomic<Int>(0)

    init(logger: Logger, spool: Spool, scheduler: EventLoop) {
        self.logger = logger
        self.spool = spool
        self.deadLetters = DeadLetterFiles(spoolDir: spool.options.dir)
        self.scheduler = scheduler
    }

    /// A delivery's log fields, built in one array (a line per delivery: the concatenation of
    /// two literals it replaced allocated three).
    private func fields(_ d: Delivery, handler: Int, outcome: LogValue, error: String? = nil, delayMs: Int? = nil) -> [(String, LogValue)] {
        fields(route: d.route, id: d.id, n: d.notification, attempts: d.attempts, handler: handler, outcome: outcome, error: error, delayMs: delayMs)
    }

    func fields(
        route: CompiledRoute, id: String, n: GatewayEvent, attempts: Int, handler: Int, outcome: LogValue, error: String? = nil,
        delayMs: Int? = nil
    ) -> [(String, LogValue)] {
        let plugin = handler >= 0 && handler < route.handlerNames.count ? route.handlerNames[handler] : "-"
        var f: [(String, LogValue)] = []
        f.reserveCapacity(9)
        f.append(("route", .string(route.name)))
        f.append(("deliveryID", .string(id)))
        f.append(("eventCode", .string(n.eventCode.rawValue)))
        f.append(("msgID", .string(n.msgID)))
        f.append(("attempt", .int(attempts)))
        f.append(("plugin", .string(plugin)))
        f.append(("outcome", outcome))
        if let error { f.append(("error", .string(error))) }
        if let delayMs { f.append(("delayMs", .int(delayMs))) }
        return f
    }

    func retrying(_ d: Delivery, handler: Int, reason: String, delayMs: Int) {
        spool.recordRetry(
            RetryRecord(
                id: d.recordID, route: d.route.name, attempts: UInt32(clamping: d.attempts),
                nextAttemptMs: Int64(wallClockSeconds()) * 1000 + Int64(delayMs), handlerIndex: UInt32(clamping: d.handlerIndex),
                body: d.handlerIndex > 0 ? d.body : nil))
        logger.warning("delivery will be retried", fields(d, handler: handler, outcome: "retry", error: reason, delayMs: delayMs))
    }

    func finished(_ d: Delivery, _ outcome: DeliveryOutcome, handler: Int) {
        switch outcome {
        case .delivered:
            delivered.add(1, ordering: .relaxed)
            spool.recordOutcome(id: d.recordID, route: d.route.name, outcome: .delivered, attempts: d.attempts)
            logger.info("delivered", fields(d, handler: handler, outcome: "delivered"))
        case .dropped:
            spool.recordOutcome(id: d.recordID, route: d.route.name, outcome: .dropped, attempts: d.attempts)
            logger.debug("dropped by a handler", fields(d, handler: handler, outcome: "dropped"))
        case .dead:
            let reason = d.lastError ?? ""
            if keepDeadLetter(id: d.id, route: d.route.name, n: d.notification, attempts: d.attempts, reason: reason) {
                // Only once the dead letter is on disk does the log say the delivery ended.
                spool.recordOutcome(id: d.recordID, route: d.route.name, outcome: .dead, attempts: d.attempts)
            }
            logger.error("dead letter", fields(d, handler: handler, outcome: "dead", error: reason))
        }
    }

    /// Writes a dead letter durably; false (and an error in the log) when it cannot.
    @discardableResult
    func keepDeadLetter(id: String, route: String, n: GatewayEvent, attempts: Int, reason: String) -> Bool {
        let now = wallClockMilliseconds()
        return keepDeadLetter(
            DeadLetterEntry(
                id: id, route: route, source: n.source, eventCode: n.eventCode.rawValue, msgID: n.msgID, attempts: attempts,
                lastError: reason, receivedMs: n.receivedMs > 0 ? n.receivedMs : now, deadMs: now, headers: n.keptHeaders,
                body: n.rawBody))
    }

    @discardableResult
    func keepDeadLetter(_ entry: DeadLetterEntry) -> Bool {
        do {
            try deadLetters.write(entry)
            return true
        } catch {
            logger.error(
                "cannot write a dead letter; the delivery stays pending", [("route", .string(entry.route)), ("error", .string(error.message))])
            return false
        }
    }
}

/// What a route's screening handlers decided before the notification was stored
/// (`RouteRunner.screen`).
enum Screening {
    /// What `screenedOut` counts and logs of a drop (the route and metrics as screened).
    struct Drop: Sendable {
        let route: CompiledRoute
        let metrics: RouteMetrics
        let handler: Int
        let attemptNs: UInt64
    }

    /// A handler dropped the event: the route does not take this notification.
    case dropped(Drop)
    /// Passed on: stored with the route, the delivery continues after the screening handlers.
    case passed(Delivery)
    /// No screening handlers ran, or one answered retry or fail: stored with the route, the
    /// delivery made and attempted from its first handler as for any route.
    case undecided
}

extension HandlerOutcome {
    /// Continue and drop end on the receiving thread; retry and fail are handed to a worker,
    /// which writes the retry record or the dead letter.
    fileprivate var isAnsweredOnTheReceivingThread: Bool {
        switch self {
        case .proceed, .drop: true
        case .retry, .fail: false
        }
    }
}
