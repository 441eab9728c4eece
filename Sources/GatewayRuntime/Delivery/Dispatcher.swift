import Foundation
import GatewayConfig
import GatewayCore
import GatewayHTTP
import GatewaySpool

/// Fans accepted notifications out to the routes that take them, once the spool holds them.
///
/// The ingress asks for a `plan` (on an event-loop thread: route matching reads the tape, no tree
/// is built), stores the notification with the planned route names, and only then `start`s the
/// deliveries: nothing is delivered that the spool could not bring back after a crash.
public final class Dispatcher: Sendable {
    public enum Plan: Sendable {
        case routes([PlannedRoute])
        /// No route takes it: `unmatched: drop` or `deadletter` decides.
        case unmatched(UnmatchedAction)
        /// A route's backlog is full: the notification must be refused (503), not acknowledged.
        case backlogFull(route: String)
    }

    /// The routes in force and their runners, swapped together by a reload. `inOrder` holds
    /// the runner of `table.routes[i]` at `i`: planning a notification finds its runners
    /// without hashing route names (some 330 instructions per matched route).
    private let current: Locked<(table: RouteTable, runners: [String: RouteRunner], inOrder: [RouteRunner])>
    let events: DeliveryEvents
    let metrics: GatewayMetrics?
    public var spool: Spool { events.spool }

    private var runners: [String: RouteRunner] { current.withLock { $0.runners } }

    public init(table: RouteTable, spool: Spool, logger: Logger, metrics: GatewayMetrics? = nil) throws(SystemError) {
        let scheduler = try EventLoop(index: -1)
        scheduler.startThread(name: "gw-retry-timer")
        let events = DeliveryEvents(logger: logger, spool: spool, scheduler: scheduler)
        self.events = events
        self.metrics = metrics
        var rs: [String: RouteRunner] = [:]
        var inOrder: [RouteRunner] = []
        for r in table.routes {
            let runner = RouteRunner(route: r, events: events, metrics: metrics)
            runner.start()
            rs[r.name] = runner
            inOrder.append(runner)
        }
        current = Locked((table, rs, inOrder))
    }

    /// What a reload changed.
    public struct Change: Sendable {
        public var added: [String] = []
        public var updated: [String] = []
        public var removed: [String] = []
    }

    /// Installs a reloaded route table. Routes that keep their name keep their pending
    /// deliveries (which continue under the new definition); new routes get workers; removed
    /// routes stop, and what they still had pending becomes dead letters with that reason.
    /// Notifications planned against the old table just before the swap are handled the same way.
    @discardableResult
    public func apply(_ table: RouteTable, generation: Int) -> Change {
        var change = Change()
        let retired = current.withLock { c -> [RouteRunner] in
            var next: [String: RouteRunner] = [:]
            var inOrder: [RouteRunner] = []
            for r in table.routes {
                if let runner = c.runners[r.name] {
                    runner.update(r, metrics: metrics)
                    next[r.name] = runner
                    inOrder.append(runner)
                    change.updated.append(r.name)
                } else {
                    let runner = RouteRunner(route: r, events: events, metrics: metrics)
                    runner.start()
                    next[r.name] = runner
                    inOrder.append(runner)
                    change.added.append(r.name)
                }
            }
            let gone = c.runners.filter { next[$0.key] == nil }
            change.removed = gone.keys.sorted()
            c = (table, next, inOrder)
            return Array(gone.values)
        }
        for runner in retired {
            runner.retire(reason: "route '\(runner.route.name)' was removed by configuration reload (generation \(generation))")
        }
        return change
    }

    public func plan(_ n: GatewayEvent) -> Plan {
        let (t, inOrder) = current.withLock { ($0.table, $0.inOrder) }
        var planned: [PlannedRoute] = []
        for (i, route) in t.routes.enumerated() where route.rule.matches(n) {
            let runner = inOrder[i]
            if runner.pending.load(ordering: .relaxed) >= route.maxPending { return .backlogFull(route: route.name) }
            planned.append(PlannedRoute(route: route, runner: runner))
        }
        return planned.isEmpty ? .unmatched(t.unmatched) : .routes(planned)
    }

    /// Starts the deliveries of a stored notification.
    public func start(_ n: GatewayEvent, recordID: UInt64, routes: [CompiledRoute]) {
        let rs = runners
        submit(prepare(n, recordID: recordID, planned: routes.map { PlannedRoute(route: $0, runner: rs[$0.name]) }))
    }

    /// `start` in two steps: the deliveries are made (each holding its copy of `n`) where `n`
    /// is at hand, and submitted later. The ingress makes them before it answers and submits
    /// them after: a closure capturing `n` for that was one more copy of the event (a dozen
    /// strings and arrays retained and released) per notification. The runners are those
    /// `plan` found (no second lookup, no lock): a runner retired by a reload since then makes
    /// what it is given a dead letter.
    func prepare(_ n: GatewayEvent, recordID: UInt64, planned: [PlannedRoute]) -> [(RouteRunner, Delivery)] {
        var prepared: [(RouteRunner, Delivery)] = []
        prepared.reserveCapacity(planned.count)
        for p in planned {
            if let made = prepare(n, recordID: recordID, p) { prepared.append(made) }
        }
        return prepared
    }

    /// One route's delivery of a stored notification (nil: the route is gone, the notification
    /// kept as its dead letter).
    private func prepare(_ n: GatewayEvent, recordID: UInt64, _ p: PlannedRoute) -> (RouteRunner, Delivery)? {
        let route = p.route
        guard let runner = p.runner else {
            // Planned just before a reload removed the route: stored, so kept, not dropped.
            let id = spool.deliveryID(id: recordID, route: route.name)
            if events.keepDeadLetter(id: id, route: route.name, n: n, attempts: 0, reason: "route '\(route.name)' was removed by configuration reload") {
                spool.recordOutcome(id: recordID, route: route.name, outcome: .dead, attempts: 0)
            }
            return nil
        }
        return (runner, Delivery(id: spool.deliveryIDParts(id: recordID, route: route.name), notification: n, route: route))
    }

    func submit(_ prepared: [(RouteRunner, Delivery)]) {
        for (runner, d) in prepared { runner.submitStored(d) }
    }

    /// Asks the screening handlers of the planned routes (their leading pure filters) whether
    /// each route takes `n`, before it is stored; nil when no planned route has any (nothing to
    /// decide, no id reserved). A route they drop is left out of the record: a tenant split
    /// stores one pending delivery per event, not one per tenant, where each of the others cost
    /// a delivery, its bookkeeping and an outcome record only to be dropped after the store.
    func screen(_ n: GatewayEvent, planned: [PlannedRoute]) -> Screened? {
        guard planned.contains(where: { $0.route.screeningHandlers > 0 && $0.runner != nil }) else { return nil }
        let recordID = spool.reserveID()
        var routes: [Screened.Route] = []
        routes.reserveCapacity(planned.count)
        for p in planned {
            guard p.route.screeningHandlers > 0, let runner = p.runner else {
                routes.append(.unscreened(p))
                continue
            }
            switch runner.screen(n, id: spool.deliveryIDParts(id: recordID, route: p.route.name)) {
            case .dropped(let drop): routes.append(.dropped(runner, drop))
            case .passed(let d): routes.append(.ready(runner, d))
            case .undecided: routes.append(.unscreened(p))
            }
        }
        return Screened(recordID: recordID, routes: routes)
    }

    /// Once a screened notification is stored: counts the drops and makes the deliveries of the
    /// routes it was stored with (started after the answer, like `prepare`'s).
    func settle(_ n: GatewayEvent, _ s: Screened) -> [(RouteRunner, Delivery)] {
        var deliveries: [(RouteRunner, Delivery)] = []
        for r in s.routes {
            switch r {
            case .dropped(let runner, let drop): runner.screenedOut(n, recordID: s.recordID, drop)
            case .ready(let runner, let d): deliveries.append((runner, d))
            case .unscreened(let p): if let made = prepare(n, recordID: s.recordID, p) { deliveries.append(made) }
            }
        }
        return deliveries
    }

    /// Keeps a stored notification no route takes as a dead letter (`unmatched: deadletter`).
    public func keepUnmatched(_ n: GatewayEvent, recordID: UInt64) {
        events.keepDeadLetter(id: spool.deliveryID(id: recordID, route: "unmatched"), route: "(unmatched)", n: n, attempts: 0, reason: "no route takes this notification")
        events.logger.warning("no route takes this notification; kept as a dead letter", [("eventCode", .string(n.eventCode.rawValue)), ("msgID", .string(n.msgID))])
    }

    /// Resumes what the spool had pending at start. `classify` rebuilds a notification from its
    /// stored body (nil when the current configuration refuses it).
    public func resume(_ recovered: [PendingDelivery], classify: (AcceptedRecord) -> GatewayEvent?) {
        let rs = runners
        let now = Int64(wallClockSeconds()) * 1000
        var resumed = 0
        for p in recovered {
            let id = spool.deliveryID(id: p.record.id, route: p.route)
            guard let n = classify(p.record) else {
                // Its source is gone or its rules changed: kept as it was stored, never dropped.
                let r = p.record
                let entry = DeadLetterEntry(
                    id: id, route: p.route, source: r.source, eventCode: r.eventCode, msgID: r.msgID, attempts: Int(p.attempts),
                    lastError: "the stored notification no longer passes source '\(r.source)' of the configuration",
                    receivedMs: r.receivedMs, deadMs: wallClockMilliseconds(), headers: r.headers, body: r.body)
                if events.keepDeadLetter(entry) {
                    spool.recordOutcome(id: r.id, route: p.route, outcome: .dead, attempts: Int(p.attempts))
                }
                events.logger.error(
                    "a stored notification no longer passes its source's rules; kept as a dead letter",
                    [("msgID", .string(r.msgID)), ("route", .string(p.route))])
                continue
            }
            guard let runner = rs[p.route] else {
                // The route was removed from the configuration: never silently discarded.
                if events.keepDeadLetter(id: id, route: p.route, n: n, attempts: Int(p.attempts), reason: "route '\(p.route)' no longer exists") {
                    spool.recordOutcome(id: p.record.id, route: p.route, outcome: .dead, attempts: Int(p.attempts))
                }
                continue
            }
            let d = Delivery(id: id, recordID: p.record.id, notification: n, route: runner.route)
            d.attempts = Int(p.attempts)
            d.handlerIndex = Int(p.handlerIndex)
            d.body = p.body
            if d.handlerIndex >= runner.route.handlers.count { d.handlerIndex = 0 }
            runner.resume(d, afterMs: Int(max(0, p.nextAttemptMs - now)))
            resumed += 1
        }
        if resumed > 0 { events.logger.lifecycle("resuming deliveries from the spool", [("deliveries", .int(resumed))]) }
    }

    /// The route of this name in the configuration in force.
    public func route(named name: String) -> CompiledRoute? {
        current.withLock { c in c.table.routes.first { $0.name == name } }
    }

    /// The routes in force, in configuration order.
    public var routes: [CompiledRoute] { current.withLock { $0.table.routes } }

    /// Deliveries not finished yet, per route.
    public var pending: [String: Int] { runners.mapValues { $0.pending.load(ordering: .relaxed) } }

    /// Receive time of the oldest notification pending, per route (nil: none pending).
    public var oldestPendingMs: [String: Int64?] { runners.mapValues { $0.oldestPendingMs } }

    public var delivered: Int { events.delivered.load(ordering: .relaxed) }

    /// Runs `task` every `ms` milliseconds on the dispatcher's timer thread.
    public func every(ms: UInt64, _ task: @escaping @Sendable () -> Void) {
        events.scheduler.scheduleTask(afterMs: ms) { [self] in
            task()
            every(ms: ms, task)
        }
    }

    /// Stops the workers (after their current attempt).
    public func stop() {
        for r in runners.values { r.stop() }
        events.scheduler.stop()
    }

    /// Waits (at most `timeoutMs`) until no attempt is running; false if some still are.
    @discardableResult
    public func waitIdle(timeoutMs: Int) -> Bool {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        while true {
            if runners.values.allSatisfy({ $0.runningCount == 0 }) { return true }
            if Date() >= deadline { return false }
            usleep(10_000)
        }
    }
}

/// A route an event matched, with the runner that delivers on it (nil when none: a reload
/// removed the route in between; the event then becomes a dead letter there).
public struct PlannedRoute: Sendable {
    public let route: CompiledRoute
    let runner: RouteRunner?
}

/// What the screening handlers of a notification's planned routes decided before it was stored
/// (`Dispatcher.screen`).
struct Screened: Sendable {
    enum Route: Sendable {
        /// A screening handler dropped it: stored without this route.
        case dropped(RouteRunner, Screening.Drop)
        /// Passed on: the delivery, made while screening, continues once it is stored.
        case ready(RouteRunner, Delivery)
        /// No screening (or it could not decide): delivered as for any stored notification.
        case unscreened(PlannedRoute)
    }

    /// The id it is to be stored under, reserved: the deliveries made while screening carry it.
    let recordID: UInt64
    /// One per planned route, in order.
    let routes: [Route]

    /// The routes it is stored with: every planned route not dropped.
    var storedRouteNames: [String] {
        routes.compactMap { r -> String? in
            switch r {
            case .dropped: nil
            case .ready(_, let d): d.route.name
            case .unscreened(let p): p.route.name
            }
        }
    }
}
