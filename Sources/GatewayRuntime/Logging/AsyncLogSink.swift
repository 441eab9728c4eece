import Foundation
import GatewayCore
import GatewayHTTP
import Glibc
import Synchronization

/// Writes log lines to stdout, stderr or a file from a background thread, in batches, so event
/// loops never wait on a slow terminal, pipe or disk.
///
/// The queue is bounded (`maxQueuedBytes`); beyond it lines are dropped and counted, and the
/// count is reported in the log once there is room again. Dropping is preferred to blocking:
/// a stalled log reader must not stop the gateway from acknowledging notifications.
public final class AsyncLogSink: LogSink, @unchecked Sendable {
    // Unchecked: all mutable state is inside `state` (a Mutex); the semaphore is thread-safe.

    private struct State {
        /// Lines waiting, end to end. The writer swaps it with its own (emptied) buffer, so both
        /// keep their capacity: no allocation per line survives the call that formatted it, and
        /// no line's memory is freed by another thread (which in glibc takes the allocating
        /// thread's arena lock, contended by that thread's own allocations).
        var pending: [UInt8] = []
        var dropped = 0
        var writing = false
        var stopped = false
        /// Set by `reopen()`; the writer thread opens the file again before its next batch.
        var reopen = false
    }

    /// Used by the writer thread only (and replaced by it on reopen).
    private var fd: Int32
    /// The file written to, when it is one (nil: stdout or stderr).
    public let path: String?
    private let maxQueuedBytes: Int
    private let state = Locked(State())
    private let wake = DispatchSemaphore(value: 0)
    private let idle = DispatchSemaphore(value: 0)
    private let format: LogFormat
    /// Lines dropped since start (`gateway_log_lines_dropped_total`).
    public var droppedTotal: Int { droppedCount.load(ordering: .relaxed) }
    private let droppedCount = Atomic<Int>(0)

    static let batchIntervalMs = 20
    static let earlyWakeBytes = 256 << 10

    public init(fd: Int32 = 1, maxQueuedBytes: Int = 8 << 20, format: LogFormat = .json) {
        self.fd = fd
        self.path = nil
        self.format = format
        self.maxQueuedBytes = maxQueuedBytes
        NamedThread.start("gw-log") { [self] in run() }
    }

    /// Appends to the file at `path` (created with mode 0600).
    public init(path: String, maxQueuedBytes: Int = 8 << 20, format: LogFormat = .json) throws(SystemError) {
        let f = AsyncLogSink.openLog(path)
        guard f >= 0 else { throw SystemError("open \(path)") }
        self.fd = f
        self.path = path
        self.format = format
        self.maxQueuedBytes = maxQueuedBytes
        NamedThread.start("gw-log") { [self] in run() }
    }

    static func openLog(_ path: String) -> Int32 {
        open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    }

    /// Opens the file again (after logrotate moved it); a no-op for stdout and stderr.
    public func reopen() {
        guard path != nil else { return }
        state.withLock { $0.reopen = true }
        wake.signal()
    }

    public func write(_ line: [UInt8]) {
        let signal = state.withLock { s -> Bool in
            let before = s.pending.count
            if before + line.count > maxQueuedBytes {
                s.dropped += 1
                droppedCount.add(1, ordering: .relaxed)
                return false
            }
            s.pending.append(contentsOf: line)
            // The writer wakes on its own every `batchIntervalMs`; a semaphore post per line
            // would cost a futex wake-up per request. Only a large backlog calls it early.
            return s.pending.count >= Self.earlyWakeBytes && before < Self.earlyWakeBytes
        }
        if signal { wake.signal() }
    }

    /// Waits (at most `timeoutMs`) until everything queued so far is written.
    public func flush(timeoutMs: Int = 2000) {
        let deadline = DispatchTime.now() + .milliseconds(timeoutMs)
        while DispatchTime.now() < deadline {
            let empty = state.withLock { $0.pending.isEmpty && !$0.writing }
            if empty { return }
            wake.signal()
            _ = idle.wait(timeout: .now() + .milliseconds(10))
        }
    }

    private func run() {
        var out: [UInt8] = []
        while true {
            _ = wake.wait(timeout: .now() + .milliseconds(Self.batchIntervalMs))
            if let path, state.withLock({ s in defer { s.reopen = false }; return s.reopen }) {
                let f = AsyncLogSink.openLog(path)
                if f >= 0 {
                    Glibc.close(fd)
                    fd = f
                }  // else keep writing to the old file rather than lose lines
            }
            var dropped = 0
            state.withLock { s in
                swap(&s.pending, &out)
                dropped = s.dropped
                s.dropped = 0
                s.writing = !out.isEmpty || dropped > 0
            }
            if !out.isEmpty || dropped > 0 {
                if dropped > 0 {
                    let r = LogRecord(
                        epochMillis: Int64(Date().timeIntervalSince1970 * 1000), level: .warning,
                        message: "log lines dropped: the log output could not keep up", fields: [("dropped", .int(dropped))])
                    out += LogFormatter.format(r, as: format)
                }
                writeAll(out)
                // Keep the capacity of ordinary batches; give back what a burst grew.
                if out.capacity > Self.earlyWakeBytes * 4 { out = [] } else { out.removeAll(keepingCapacity: true) }
                state.withLock { $0.writing = false }
                idle.signal()
            }
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { b -> Int in
                guard let base = b.baseAddress else { return 0 }
                return Glibc.write(fd, base + off, b.count - off)
            }
            if n > 0 {
                off += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EAGAIN {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 100)
            } else {
                return  // stdout closed: nothing sensible to do
            }
        }
    }
}
