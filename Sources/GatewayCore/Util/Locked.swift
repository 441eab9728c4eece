import CSystem
import Glibc

/// A value behind an adaptive pthread mutex: a contended lock spins briefly before it sleeps.
///
/// Why not `Synchronization.Mutex`: on Linux it is built on priority-inheritance futexes
/// (FUTEX_LOCK_PI), whose contended path always goes through the kernel's rt-mutex code. On the
/// gateway's hot queues (route queues, the log queue, the configuration snapshot), contended by
/// event-loop threads and delivery workers on two cores, that cost a quarter of all CPU time in
/// a profile; a normal futex mutex costs a fraction of it. Use this for anything touched per
/// request or per delivery.
///
/// Why adaptive rather than `NSLock` (a default pthread mutex): the critical sections here are
/// short (appending to a queue, a dedup lookup), so a thread that finds the lock taken usually
/// gets it within a microsecond. A default mutex sleeps in the kernel at once, and the holder
/// then pays a futex wake on unlock: with the two event loops storing notifications in one
/// spool, that was a third of a futex call per request.
public final class Locked<Value>: @unchecked Sendable {
    // Unchecked: `value` is only reached inside `withLock`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// The value, out of line: a class's `var` is checked for exclusive access at run time on
    /// every access (`swift_beginAccess`/`swift_endAccess`, about 110 instructions a pair, nine
    /// pairs per notification); the mutex already makes access exclusive.
    private let storage: UnsafeMutablePointer<Value>

    public init(_ value: Value) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: value)
        mutex = .allocate(capacity: 1)
        if gw_mutex_init_adaptive(mutex) != 0 {
            // Only fails without memory for the attribute; a default mutex needs none.
            pthread_mutex_init(mutex, nil)
        }
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        storage.deinitialize(count: 1)
        storage.deallocate()
    }

    @inline(__always)
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&storage.pointee)
    }
}
