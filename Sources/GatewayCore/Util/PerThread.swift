import Glibc
import Synchronization

/// One value per thread, made on a thread's first use and released when the thread exits
/// (pthread thread-specific data).
///
/// Why: a value read on every request from both event loops (a metrics series, the
/// configuration in force) costs, behind a shared lock, two atomic operations on a cache line
/// the other core then has to fetch back: more than the work it guards. A per-thread copy is
/// touched by one core only. Keep instances long-lived: each takes one of the process's
/// pthread keys (1024 on Linux).
public final class PerThread<Value: AnyObject>: @unchecked Sendable {
    // Unchecked: each thread reaches only its own value, through the pthread key.
    /// nil when the process has no key left (`PTHREAD_KEYS_MAX`): then every use gets a fresh
    /// value, which is slower but still correct for what this holds (caches, scratch state).
    private let key: pthread_key_t?
    private let make: @Sendable () -> Value

    public init(_ make: @escaping @Sendable () -> Value) {
        self.make = make
        var k = pthread_key_t()
        let r = pthread_key_create(&k) { raw in
            // A thread ending: release the value it held.
            if let raw { Unmanaged<AnyObject>.fromOpaque(raw).release() }
        }
        key = r == 0 ? k : nil
    }

    deinit {
        // Values of threads still alive are leaked (pthread_key_delete runs no destructors;
        // glibc never hands a stale value to the key's next owner). Instances live as long as
        // what they serve: the process, a configuration generation, a route.
        if let key { pthread_key_delete(key) }
    }

    /// This thread's value (made now if it has none).
    @inline(__always)
    public var current: Value {
        if let key, let raw = pthread_getspecific(key) {
            return Unmanaged<Value>.fromOpaque(raw).takeUnretainedValue()
        }
        return makeCurrent()
    }

    @inline(never)
    private func makeCurrent() -> Value {
        let v = make()
        // Retained for the thread: released by the key's destructor when it exits.
        if let key {
            let held = Unmanaged<AnyObject>.passRetained(v as AnyObject)
            if pthread_setspecific(key, held.toOpaque()) != 0 { held.release() }
        }
        return v
    }
}

/// A reference that is read on every request and replaced rarely (the configuration in force,
/// the redactor): reads take no lock and touch no shared cache line but one atomic version.
///
/// A reader compares the version with the one its thread saw last and uses its thread's cached
/// reference when they match; otherwise it reads under the lock and caches again. A writer
/// replaces the reference under the lock, then bumps the version.
///
/// A thread keeps the last value it read until its next read (and forever, if the instance
/// goes away first). So hold here only values whose lifetime does not matter: configuration
/// and redaction rules, not plugin instances or anything whose deinit closes a resource (the
/// routing table and route runners stay behind `Locked` for that reason: a route removed by a
/// reload must let go of its plugins at once).
public final class ReadMostly<Value: AnyObject & Sendable>: Sendable {
    private final class Slot {
        // One thread's: no run-time exclusivity check needed.
        @exclusivity(unchecked) var version: UInt64 = .max
        @exclusivity(unchecked) var value: Value?
    }

    private let locked: Locked<Value>
    private let version = Atomic<UInt64>(0)
    private let slots = PerThread<Slot> { Slot() }

    public init(_ value: Value) {
        locked = Locked(value)
    }

    public var value: Value {
        let v = version.load(ordering: .acquiring)
        let slot = slots.current
        if slot.version == v, let cached = slot.value { return cached }
        let fresh = locked.withLock { $0 }
        slot.value = fresh
        slot.version = v
        return fresh
    }

    /// Replaces the value; returns what `update` returns. Readers see the new value from their
    /// next read on.
    @discardableResult
    public func update<R>(_ update: (inout Value) -> R) -> R {
        let r = locked.withLock { update(&$0) }
        version.add(1, ordering: .releasing)
        return r
    }
}
