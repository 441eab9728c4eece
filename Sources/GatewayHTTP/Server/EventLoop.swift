import CSystem
import Foundation
import GatewayCore
import Glibc
import Synchronization

/// Something registered with an event loop for readiness events on one descriptor.
/// All calls happen on the loop's thread.
protocol EventHandler: AnyObject {
    func handle(events: UInt32)
    /// Called every sweep (about twice a second) to enforce deadlines.
    func checkTimeouts(now: UInt64)
}

extension EventHandler {
    func checkTimeouts(now: UInt64) {}
}

/// One thread running an epoll loop: readiness events, tasks sent from other threads (through
/// an eventfd), and timers.
///
/// Everything registered with a loop is touched only by that loop's thread. Other threads talk
/// to it with `execute(_:)`, which queues a closure and wakes the loop.
public final class EventLoop: @unchecked Sendable {
    // Unchecked: the mutable state below is confined to the loop thread (see each comment);
    // the task queue is behind a Mutex and the thread id is atomic. For the same reason its
    // `var`s skip the run-time exclusivity check (`@exclusivity(unchecked)`, see HTTPConnection).

    public let index: Int
    let epfd: Int32
    private let wakeFD: Int32
    /// Handlers by descriptor number. Loop thread only.
    @exclusivity(unchecked) private var handlers: [(any EventHandler)?] = []
    /// Tasks from other threads.
    private let tasks = Locked<[@Sendable () -> Void]>([])
    /// The loop thread's side of `tasks` (see `runTasks`).
    @exclusivity(unchecked) private var taskBatch: [@Sendable () -> Void] = []
    private let thread = Atomic<UInt>(0)
    private let stopRequested = Atomic<Bool>(false)
    /// Timers. Loop thread only.
    @exclusivity(unchecked) private var timers = TimerQueue()
    /// Run at the end of every iteration, before the loop waits again (set before the thread
    /// starts, read only by it).
    @exclusivity(unchecked) private var iterationHooks: [@Sendable () -> Void] = []
    /// Cached monotonic time of the last wake-up, ms. Loop thread only.
    @exclusivity(unchecked) private(set) var now: UInt64 = monotonicMillis()
    /// A read buffer shared by every connection of this loop, so an idle connection holds none.
    let readBuffer: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var lastSweep: UInt64 = 0
    /// The `Date` header value, refreshed once a second.
    @exclusivity(unchecked) private(set) var httpDate = ""
    @exclusivity(unchecked) private var httpDateSecond: Int64 = -1
    /// The answers of this iteration, sent together at its end; nil when io_uring is
    /// unavailable or turned off (each answer is then sent on its own). Loop thread only.
    let sendBatch: SendBatch?

    static let sweepIntervalMs: UInt64 = 250

    /// `batchSends`: send the answers of an iteration together (see `SendBatch`) when the kernel
    /// allows; by default unless `GATEWAY_IO_URING=off` is in the environment.
    public init(index: Int, batchSends: Bool? = nil) throws(SystemError) {
        self.index = index
        let ep = gw_epoll_create()
        guard ep >= 0 else { throw SystemError("epoll_create1") }
        let wake = gw_eventfd()
        guard wake >= 0 else {
            close(ep)
            throw SystemError("eventfd")
        }
        epfd = ep
        wakeFD = wake
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        sendBatch = batchSends ?? SendBatch.enabledByEnvironment ? SendBatch.make() : nil
        _ = gw_epoll_ctl(epfd, gw_epoll_ctl_add(), wakeFD, GW_EPOLLIN, UInt64(wakeFD))
        refreshDate()
    }

    deinit {
        readBuffer.deallocate()
        close(wakeFD)
        close(epfd)
    }

    public var inEventLoop: Bool { thread.load(ordering: .acquiring) == UInt(pthread_self()) }

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        thread.store(UInt(pthread_self()), ordering: .releasing)
        let maxEvents: Int32 = 256
        let evs = UnsafeMutablePointer<UInt32>.allocate(capacity: Int(maxEvents))
        let data = UnsafeMutablePointer<UInt64>.allocate(capacity: Int(maxEvents))
        defer {
            evs.deallocate()
            data.deallocate()
        }
        while !stopRequested.load(ordering: .relaxed) {
            let timeout = timers.nextDeadline.map { d in d > now ? Int32(min(d - now, Self.sweepIntervalMs)) : 0 }
                ?? Int32(Self.sweepIntervalMs)
            let n = gw_epoll_wait(epfd, evs, data, maxEvents, timeout)
            now = monotonicMillis()
            if n > 0 {
                for i in 0..<Int(n) {
                    let fd = Int32(truncatingIfNeeded: data[i])
                    if fd == wakeFD {
                        _ = gw_eventfd_drain(wakeFD)
                        continue
                    }
                    if Int(fd) < handlers.count, let h = handlers[Int(fd)] { h.handle(events: evs[i]) }
                }
            }
            runTasks()
            // Due tasks are taken out first and run after: a task may schedule another timer.
            for task in timers.popDue(now: now) { task() }
            if now &- lastSweep >= Self.sweepIntervalMs {
                lastSweep = now
                refreshDate()
                sweep()
            }
            for hook in iterationHooks { hook() }
            // Last: the hooks (the spool's group commit) release most of the answers.
            sendBatch?.flush()
        }
        runTasks()
        sendBatch?.flush()
    }

    /// Adds work to do once per iteration, after every ready descriptor, task and timer was
    /// handled: a place to flush what the iteration batched up (e.g. one wake-up of the spool
    /// writer for all the notifications it accepted). Only before the loop's thread starts.
    public func addIterationHook(_ hook: @escaping @Sendable () -> Void) {
        precondition(thread.load(ordering: .acquiring) == 0, "iteration hooks are added before the loop runs")
        iterationHooks.append(hook)
    }

    public func stop() {
        stopRequested.store(true, ordering: .relaxed)
        _ = gw_eventfd_signal(wakeFD)
    }

    /// Runs `task` on the loop thread, soon. Safe from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        let wasEmpty = tasks.withLock { q in
            q.append(task)
            return q.count == 1
        }
        if wasEmpty { _ = gw_eventfd_signal(wakeFD) }
    }

    private func runTasks() {
        while true {
            // Swapped with this thread's spare array: both keep their capacity, no allocation
            // per wake-up. Each task is released right after it ran.
            tasks.withLock { q in swap(&q, &taskBatch) }
            if taskBatch.isEmpty { return }
            taskBatch.drainInOrder { $0() }
        }
    }

    private func sweep() {
        for h in handlers {
            h?.checkTimeouts(now: now)
        }
    }

    private func refreshDate() {
        let s = wallClockSeconds()
        if s != httpDateSecond {
            httpDateSecond = s
            httpDate = CivilTime.httpDate(epochSeconds: s)
        }
    }

    // MARK: - Registration (loop thread only)

    func register(fd: Int32, events: UInt32, handler: any EventHandler) throws(SystemError) {
        if Int(fd) >= handlers.count {
            handlers.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - handlers.count + 64))
        }
        guard gw_epoll_ctl(epfd, gw_epoll_ctl_add(), fd, events, UInt64(fd)) == 0 else {
            throw SystemError("epoll_ctl(ADD)")
        }
        handlers[Int(fd)] = handler
    }

    func modify(fd: Int32, events: UInt32) {
        _ = gw_epoll_ctl(epfd, gw_epoll_ctl_mod(), fd, events, UInt64(fd))
    }

    func unregister(fd: Int32) {
        _ = gw_epoll_ctl(epfd, gw_epoll_ctl_del(), fd, 0, 0)
        if Int(fd) < handlers.count { handlers[Int(fd)] = nil }
    }

    /// Runs `task` on this loop after `ms` milliseconds. Loop thread only.
    @discardableResult
    func schedule(afterMs ms: UInt64, _ task: @escaping () -> Void) -> TimerQueue.Handle {
        timers.add(deadline: monotonicMillis() + ms, task)
    }

    /// Runs `task` on this loop after `ms` milliseconds. Safe from any thread.
    public func scheduleTask(afterMs ms: UInt64, _ task: @escaping @Sendable () -> Void) {
        if inEventLoop {
            schedule(afterMs: ms, task)
        } else {
            execute { [self] in schedule(afterMs: ms, task) }
        }
    }

    /// Starts a thread running this loop (for a loop outside an `EventLoopGroup`).
    public func startThread(name: String) {
        NamedThread.start(name) { [self] in run() }
    }

    /// Calls `body` for every registered handler of type `T`. Loop thread only.
    func forEachHandler<T>(of type: T.Type, _ body: (T) -> Void) {
        for h in handlers { if let t = h as? T { body(t) } }
    }
}

/// Timers of one loop: a binary min-heap on deadline. Loop thread only.
struct TimerQueue {
    final class Handle {
        var cancelled = false
        func cancel() { cancelled = true }
    }

    private struct Entry {
        var deadline: UInt64
        var seq: UInt64
        var handle: Handle
        var task: () -> Void
    }

    private var heap: [Entry] = []
    private var seq: UInt64 = 0

    var nextDeadline: UInt64? { heap.first?.deadline }

    mutating func add(deadline: UInt64, _ task: @escaping () -> Void) -> Handle {
        seq += 1
        let h = Handle()
        heap.append(Entry(deadline: deadline, seq: seq, handle: h, task: task))
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if less(heap[i], heap[p]) {
                heap.swapAt(i, p)
                i = p
            } else {
                break
            }
        }
        return h
    }

    private func less(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.seq < b.seq)
    }

    private mutating func popFirst() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < heap.count && less(heap[l], heap[m]) { m = l }
            if r < heap.count && less(heap[r], heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return top
    }

    /// Removes and returns the tasks due at `now`, in deadline order (cancelled ones dropped).
    mutating func popDue(now: UInt64) -> [() -> Void] {
        var due: [() -> Void] = []
        while let first = heap.first, first.deadline <= now {
            guard let e = popFirst() else { break }
            if !e.handle.cancelled { due.append(e.task) }
        }
        return due
    }
}
