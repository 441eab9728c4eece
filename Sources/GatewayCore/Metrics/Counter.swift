import Synchronization

/// A monotonically increasing count (Prometheus `counter`). Lock-free: the ingress counts from
/// every event loop.
public final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    public init() {}

    @inline(__always)
    public func add(_ n: Int = 1) { value.add(n, ordering: .relaxed) }

    public var count: Int { value.load(ordering: .relaxed) }
}

/// A value that goes up and down (Prometheus `gauge`), kept as an integer: what the gateway
/// tracks this way (connections, generations) is whole.
public final class Gauge: Sendable {
    private let value = Atomic<Int>(0)

    public init() {}

    public func set(_ v: Int) { value.store(v, ordering: .relaxed) }
    public func add(_ n: Int) { value.add(n, ordering: .relaxed) }
    public var current: Int { value.load(ordering: .relaxed) }
}
