import Foundation

/// A value behind a plain mutex (pthread_mutex through NSLock).
///
/// Why not `Synchronization.Mutex`: on Linux it is built on priority-inheritance futexes
/// (FUTEX_LOCK_PI), whose contended path always goes through the kernel's rt-mutex code. On the
/// gateway's hot queues (route queues, the log queue, the configuration snapshot), contended by
/// event-loop threads and delivery workers on two cores, that cost a quarter of all CPU time in
/// a profile; a normal futex mutex costs a fraction of it. Use this for anything touched per
/// request or per delivery.
public final class Locked<Value>: @unchecked Sendable {
    // Unchecked: `value` is only reached inside `withLock`.
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    @inline(__always)
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
