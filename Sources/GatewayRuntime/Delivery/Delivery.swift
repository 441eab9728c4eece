import GatewayCore
import GatewayCrypto
import Synchronization

/// One notification on its way through one route. Owned by one worker at a time (queued,
/// running, or waiting for its retry), hence the unchecked `Sendable`.
public final class Delivery: @unchecked Sendable {
    /// Stable across retries: `X-Gateway-Delivery-Id`, `GATEWAY_DELIVERY_ID`.
    public let id: String
    public let notification: GatewayEvent
    public let route: CompiledRoute
    /// Attempts made so far.
    public internal(set) var attempts = 0
    /// The handler the next attempt starts at (earlier handlers already passed it on).
    public internal(set) var handlerIndex = 0
    /// The input of `handlers[handlerIndex]`; nil until the route's transforms have run.
    public internal(set) var body: [UInt8]?
    public internal(set) var lastError: String?

    init(notification: GatewayEvent, route: CompiledRoute) {
        self.id = Delivery.nextID()
        self.notification = notification
        self.route = route
    }
}

extension Delivery {
    /// 8 random bytes per process, then a counter: unique across restarts and processes, and
    /// no random bytes drawn per delivery.
    private static let prefix = "dl_" + Hex.encode(SecureRandom.bytes(8)) + "_"
    private static let counter = Atomic<UInt64>(0)

    static func nextID() -> String {
        prefix + String(counter.add(1, ordering: .relaxed).newValue, radix: 16)
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

/// A delivery that could not be made, kept for inspection and replay.
public struct DeadLetter: Sendable {
    public let deliveryID: String
    public let route: String
    public let source: String
    public let eventCode: String
    public let msgID: String
    public let attempts: Int
    public let lastError: String
    public let rawBody: [UInt8]
    public let epochSeconds: Int64
}
