import CSystem
import Glibc

/// The answers of one event-loop iteration, sent together in one system call through io_uring.
///
/// Why: the provider (or a load generator on the same host) is woken by each answer it gets. A
/// `send()` that wakes it returns to user space through the scheduler, which switches to the
/// woken reader there and then; the loop gets the CPU back only after the reader has handled
/// that one answer and waited again. A spool group commit releases tens of answers at once, so
/// the loop paid a context switch per answer (0.4 per request measured, against 0.03 for nginx
/// in the same run). One `io_uring_enter` for the whole batch returns to user space once: the
/// reader is woken once and finds every answer waiting.
///
/// Connections stage their pending output here instead of sending it (`add`); the loop calls
/// `flush()` at the end of the iteration. Bytes are copied into one staging buffer (answers are
/// a few hundred bytes), so no connection's buffer has to stay pinned across the call. A send the
/// socket cannot take (`-EAGAIN`), a short send, or a batch the kernel refused falls back to the
/// connection's ordinary write path, which waits for `EPOLLOUT`.
///
/// Off when the kernel has no usable io_uring (older than 5.6, disabled by
/// `kernel.io_uring_disabled`, blocked by a container's seccomp profile) or when
/// `GATEWAY_IO_URING=off`: each answer is then sent by its own `send()`, as before.
final class SendBatch {
    /// Connections whose pending output is larger go straight to `send()`: copying it would cost
    /// more than the call it saves.
    static let maxStagedBytes = 64 << 10
    /// Submission slots; a larger batch goes in several calls.
    static let ringEntries: UInt32 = 256

    private let ring: OpaquePointer
    @exclusivity(unchecked) private var pending: [HTTPConnection] = []
    @exclusivity(unchecked) private var sending: [HTTPConnection] = []
    @exclusivity(unchecked) private var staging: [UInt8] = []
    @exclusivity(unchecked) private var fds: [Int32] = []
    @exclusivity(unchecked) private var offsets: [UInt32] = []
    @exclusivity(unchecked) private var lengths: [UInt32] = []
    @exclusivity(unchecked) private var results: [Int32] = []
    /// Bytes each connection of `sending` staged (0: left out of the call).
    @exclusivity(unchecked) private var staged: [Int] = []
    /// Set when the kernel refused a batch outright: the loop sends one by one from then on.
    @exclusivity(unchecked) private(set) var disabled = false

    /// Whether the environment allows batching (`GATEWAY_IO_URING=off` turns it off).
    static var enabledByEnvironment: Bool {
        enabled(setting: getenv("GATEWAY_IO_URING").map { String(cString: $0) })
    }

    /// `GATEWAY_IO_URING`'s value read as a switch: unset or anything else means on.
    static func enabled(setting: String?) -> Bool {
        guard let s = setting?.lowercased() else { return true }
        return !(s == "off" || s == "0" || s == "false" || s == "no")
    }

    /// A batch on a new ring, or nil when io_uring is unavailable here.
    static func make() -> SendBatch? {
        guard let r = gw_uring_create(ringEntries) else { return nil }
        return SendBatch(ring: r)
    }

    private init(ring: OpaquePointer) {
        self.ring = ring
    }

    deinit {
        gw_uring_destroy(ring)
    }

    /// Queues `connection`'s pending output for the next `flush()`. Loop thread only.
    func add(_ connection: HTTPConnection) {
        pending.append(connection)
    }

    /// Sends every queued connection's pending output (what it holds now, including bytes added
    /// after it was queued) and tells each connection what was taken. Loop thread only.
    func flush() {
        while !pending.isEmpty {
            // Connections queued while this batch completes wait for the next round.
            swap(&pending, &sending)
            staging.removeAll(keepingCapacity: true)
            fds.removeAll(keepingCapacity: true)
            offsets.removeAll(keepingCapacity: true)
            lengths.removeAll(keepingCapacity: true)
            staged.removeAll(keepingCapacity: true)
            for c in sending {
                let start = staging.count
                let n = c.stagePendingOutput(into: &staging)
                staged.append(n)
                // A connection closed meanwhile stages nothing; it is left out of the call.
                guard n > 0 else { continue }
                fds.append(c.fd)
                offsets.append(UInt32(start))
                lengths.append(UInt32(n))
            }
            results.removeAll(keepingCapacity: true)
            results.append(contentsOf: repeatElement(-ECANCELED, count: fds.count))
            if !disabled && !fds.isEmpty {
                let status = staging.withUnsafeBufferPointer { base in
                    gw_uring_send_batch(ring, fds, base.baseAddress, offsets, lengths, &results, UInt32(fds.count))
                }
                // Refused for a reason that will not pass (not EINTR, EAGAIN or EBUSY): this loop
                // sends one by one from now on. The connections below fall back either way.
                if status != 0 && status != -EINTR && status != -EAGAIN && status != -EBUSY { disabled = true }
            }
            var slot = 0
            for (k, c) in sending.enumerated() {
                // The same order as staged: a connection that staged bytes owns the next result.
                if staged[k] > 0 {
                    c.batchedSendCompleted(results[slot])
                    slot += 1
                } else {
                    c.batchedSendCompleted(nil)
                }
            }
            sending.removeAll(keepingCapacity: true)
        }
        // A burst (thousands of answers at once) leaves no megabytes behind.
        if staging.capacity > 1 << 20 { staging = [] }
    }
}
