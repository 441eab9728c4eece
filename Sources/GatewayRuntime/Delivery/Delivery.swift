import GatewayCore
import GatewayCrypto

/// One notification on its way through one route. Owned by one worker at a time (queued,
/// running, or waiting for its retry), hence the unchecked `Sendable`, and for the same reason
/// its `var`s skip the run-time exclusivity check (five per attempt otherwise).
public final class Delivery: @unchecked Sendable {
    /// Stable across retries and restarts: `X-Gateway-Delivery-Id`, `GATEWAY_DELIVERY_ID`.
    /// Written out the first time it is read (logs, dead letters); plugin calls take `idParts`.
    public var id: String {
        if let made = madeID { return made }
        let made = idParts?.description ?? ""
        madeID = made
        return made
    }
    /// The id as its parts, when the delivery was made from them (not for a resumed one).
    public let idParts: DeliveryID?
    @exclusivity(unchecked) private var madeID: String?
    /// The spool record of the notification.
    public let recordID: UInt64
    public let notification: GatewayEvent
    /// The route definition of its last attempt (a reload installs a new one).
    @exclusivity(unchecked) public internal(set) var route: CompiledRoute
    /// Attempts made so far.
    @exclusivity(unchecked) public internal(set) var attempts = 0
    /// The handler the next attempt starts at (earlier handlers already passed it on).
    @exclusivity(unchecked) public internal(set) var handlerIndex = 0
    /// The input of `handlers[handlerIndex]`; nil until the route's transforms have run, and
    /// after that while it is only in `view` (not written out until a handler reads the body).
    @exclusivity(unchecked) public internal(set) var body: [UInt8]?
    /// The route's transforms over the event, while what they make is the handlers' input: run
    /// when a handler first needs a value they touch or the body, which is written from it
    /// (not persisted: after a restart the body is parsed when a handler reads a value).
    @exclusivity(unchecked) var view: TransformedEvent?
    @exclusivity(unchecked) public internal(set) var lastError: String?
    /// The current attempt began on a receiving thread (its non-blocking handlers passed it on)
    /// and continues on a worker: the worker does not count it as a new attempt.
    @exclusivity(unchecked) var continuesAttempt = false
    /// Its receive time is in the route's pending-since table (the oldest-pending metric). A
    /// delivery that ends on the receiving thread, within the call that started it, never is.
    @exclusivity(unchecked) var inPendingSince = false

    init(id: String, recordID: UInt64, notification: GatewayEvent, route: CompiledRoute) {
        self.madeID = id
        self.idParts = nil
        self.recordID = recordID
        self.notification = notification
        self.route = route
    }

    init(id: DeliveryID, notification: GatewayEvent, route: CompiledRoute) {
        self.madeID = nil
        self.idParts = id
        self.recordID = id.record
        self.notification = notification
        self.route = route
    }
}

/// How a delivery ended.
public enum DeliveryOutcome: String, Sendable {
    /// Every handler passed it on.
    case delivered
    /// A handler stopped the chain (a filter).
    case dropped
    /// Permanent failure, or retries exhausted: kept as a dead letter.
    case dead
}

