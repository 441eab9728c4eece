import Foundation
import GatewayConfig
import GatewayCore
import GatewayHTTP
import Synchronization

/// Fans accepted notifications out to the routes that take them.
///
/// `submit` runs on an event-loop thread: it only matches routes (conditions read the tape, no
/// tree is built) and queues one `Delivery` per route; transforms and handlers run on the
/// routes' own workers.
public final class Dispatcher: Sendable {
    public enum SubmitResult: Sendable, Equatable {
        case accepted(routes: Int)
        /// No route took it; `unmatched: drop` dropped it, `deadletter` kept it.
        case unmatched
        /// A route's backlog is full: nothing was queued, the notification must not be acknowledged.
        case backlogFull(route: String)
    }

    private let runners: Locked<[String: RouteRunner]>
    private let table: Locked<RouteTable>
    let events: DeliveryEvents
    public var deadLetters: DeadLetterStore { events.deadLetters }

    public init(table: RouteTable, logger: Logger, deadLetters: DeadLetterStore = DeadLetterStore()) throws(SystemError) {
        let scheduler = try EventLoop(index: -1)
        scheduler.startThread(name: "gateway-retry-timer")
        let events = DeliveryEvents(logger: logger, deadLetters: deadLetters, scheduler: scheduler)
        self.events = events
        var rs: [String: RouteRunner] = [:]
        for r in table.routes {
            let runner = RouteRunner(route: r, events: events)
            runner.start()
            rs[r.name] = runner
        }
        runners = Locked(rs)
        self.table = Locked(table)
    }

    public func submit(_ n: GatewayEvent) -> SubmitResult {
        let t = table.withLock { $0 }
        let matched = t.matching(n)
        if matched.isEmpty {
            switch t.unmatched {
            case .drop:
                events.logger.debug("no route takes this notification; dropped", [("eventCode", .string(n.eventCode.rawValue)), ("msgID", .string(n.msgID))])
            case .deadletter:
                events.deadLetters.add(
                    DeadLetter(
                        deliveryID: "dl_unmatched_" + n.msgID, route: "(unmatched)", source: n.source, eventCode: n.eventCode.rawValue,
                        msgID: n.msgID, attempts: 0, lastError: "no route takes this notification", rawBody: n.rawBody,
                        epochSeconds: wallClockSeconds()))
                events.logger.warning("no route takes this notification; kept as a dead letter", [("eventCode", .string(n.eventCode.rawValue)), ("msgID", .string(n.msgID))])
            }
            return .unmatched
        }
        let rs = runners.withLock { $0 }
        var queued: [(RouteRunner, Delivery)] = []
        for route in matched {
            guard let runner = rs[route.name] else { continue }
            let d = Delivery(notification: n, route: route)
            guard runner.submit(d) else {
                // All or nothing would need a transaction; the spool gives that. Until then a full
                // backlog refuses the notification before any of its deliveries is queued, when it can.
                events.logger.error("route backlog full; refusing the notification", [("route", .string(route.name))])
                return .backlogFull(route: route.name)
            }
            queued.append((runner, d))
        }
        return .accepted(routes: queued.count)
    }

    /// Deliveries not finished yet, per route.
    public var pending: [String: Int] { runners.withLock { $0.mapValues { $0.pending.load(ordering: .relaxed) } } }

    public var delivered: Int { events.delivered.load(ordering: .relaxed) }

    /// Stops the workers (after their current attempt).
    public func stop() {
        for r in runners.withLock({ Array($0.values) }) { r.stop() }
        events.scheduler.stop()
    }

    /// Waits (at most `timeoutMs`) until no attempt is running.
    public func waitIdle(timeoutMs: Int) {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        while Date() < deadline {
            if runners.withLock({ $0.values.allSatisfy { $0.runningCount == 0 } }) { return }
            usleep(10_000)
        }
    }
}
