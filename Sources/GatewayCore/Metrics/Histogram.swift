import Glibc
import Synchronization

/// A distribution of durations in seconds over fixed buckets (Prometheus `histogram`).
///
/// One mutex (`Locked`: a plain futex mutex, see Locked.swift) per observation: tens of
/// nanoseconds, and the observations (requests,
/// fsyncs, delivery attempts) cost microseconds each anyway.
public final class Histogram: Sendable {
    /// Upper bounds, ascending; the `+Inf` bucket is implicit.
    public let bounds: [Double]
    private let state: Locked<(counts: [Int], sum: Double, count: Int)>

    /// Latency buckets from 100 µs to 30 s: covers an fsync on tmpfs as well as a slow downstream.
    public static let latencyBuckets: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
    ]

    public init(bounds: [Double] = Histogram.latencyBuckets) {
        self.bounds = bounds.sorted()
        state = Locked(([Int](repeating: 0, count: bounds.count), 0, 0))
    }

    public func observe(_ seconds: Double) {
        // Linear scan: 17 bounds, mostly hitting the first few.
        var i = 0
        while i < bounds.count && seconds > bounds[i] { i += 1 }
        state.withLock { s in
            if i < s.counts.count { s.counts[i] += 1 }
            s.sum += seconds
            s.count += 1
        }
    }

    /// Observes the time since `startNs` (a `monotonicNanoseconds()` reading).
    public func observe(sinceNs startNs: UInt64) {
        observe(Double(monotonicNanoseconds() &- startNs) / 1e9)
    }

    /// Cumulative bucket counts (as exposed), the sum and the count.
    public var snapshot: (cumulative: [Int], sum: Double, count: Int) {
        let (counts, sum, count) = state.withLock { ($0.counts, $0.sum, $0.count) }
        var running = 0
        return (counts.map { running += $0; return running }, sum, count)
    }
}

/// CLOCK_MONOTONIC in nanoseconds: for durations (never goes back when the wall clock is set).
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
