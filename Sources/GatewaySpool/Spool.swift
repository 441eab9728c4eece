import Foundation
import GatewayCore
import Glibc
import Synchronization

/// The durable log of accepted notifications and their delivery progress. See SpoolFormat.swift
/// for the format and the rules it keeps.
public final class Spool: @unchecked Sendable {
    // Unchecked: shared state lives in `state` (a lock); the writer's file descriptors are used
    // only by the writer thread; `recovered` and `report` are set in init and then only read.

    public struct Options: Sendable {
        public var dir: String
        /// Above this many bytes of segments, new notifications are refused (0: no limit).
        public var maxBytes: Int = 0
        /// Sync before acknowledging. Off only for throwaway setups and tmpfs benchmarks.
        public var fsync = true
        public var segmentBytes = 64 << 20
        /// Observes every group commit's sync (seconds), for `gateway_spool_fsync_duration_seconds`.
        public var fsyncDurations: Histogram? = nil
        /// Let `commitDeferred()` write and sync on the calling thread (an event loop) when no
        /// other commit is running and syncs are fast; otherwise the writer thread does it.
        public var commitOnCaller = true
        /// For tests: each sync takes at least this long, as on a slow disk.
        public var simulatedSyncDelayMs = 0
        /// `slowSyncsBeforeHold` syncs in a row longer than this (ns) send commits to the writer
        /// thread for a second (see `loopCommitsHeldUntilNs`).
        public var loopCommitMaxSyncNs: UInt64 = 100_000
        /// How many slow syncs in a row it takes. One is not evidence of a slow disk: a syscall's
        /// return is where the kernel preempts a thread whose CPU another thread was woken on, so
        /// on a busy host a 1 us tmpfs sync now and then "takes" a whole time slice. Counting one
        /// slow sync, the benchmark host (2 cores shared with the load generator) left most
        /// commits to the writer thread on tmpfs. A disk is slow on every sync: three in a row
        /// cost it three slow commits on a loop, once.
        public var slowSyncsBeforeHold = 3

        public init(dir: String) {
            self.dir = dir
        }
    }

    public enum AcceptResult: Sendable, Equatable {
        /// Stored and synced.
        case stored(id: UInt64)
        /// The same notification was accepted before, within its window (and is durable).
        case duplicate
        /// Nothing was stored (disk full, I/O error, over `maxBytes`, shutting down).
        case failed(String)
    }

    /// What opening found.
    public struct RecoveryReport: Sendable {
        public var segments = 0
        public var records = 0
        /// Damaged segments; `kept`: left whole and never compacted (damage inside the log),
        /// otherwise a torn tail that was cut off (and saved in `damaged/`).
        public var damaged: [(segment: String, damage: SegmentDamage, kept: Bool)] = []
        public var tightenedDirectory = false
    }

    public let options: Options
    /// Deliveries to resume, as the log had them when the spool was opened.
    public private(set) var recovered: [PendingDelivery] = []
    public private(set) var report = RecoveryReport()
    /// A random name for this spool, kept in `ID`: delivery IDs are built from it so they stay the
    /// same across restarts.
    public let spoolID: String
    /// `spoolID` and a dash, as bytes (the start of every delivery ID).
    private let spoolIDPrefix: [UInt8]

    private let lockFD: Int32
    /// The next accepted record's id. An atomic, not part of `State`: the ingress reserves the
    /// id of a notification before storing it when a route's pure filters run first (they see
    /// the delivery ID the delivery will have). A reserved id that is never stored (a duplicate,
    /// a refusal) leaves a gap, which nothing minds: ids are unique, not dense. Unique also
    /// across runs: compaction saves it in `spool.dir/NEXTID` before deleting a segment, so ids
    /// (and the delivery IDs made of them) are never handed out again once the segments that
    /// held them are gone.
    let nextRecordID: Atomic<UInt64>
    static func nextIDPath(_ dir: String) -> String { dir + "/NEXTID" }
    var segmentsDir: String { options.dir + "/segments" }

    /// A queued record's bookkeeping; its bytes are in `State.pending`, in queue order.
    struct Write {
        /// For accepted records: its id, dedup hash and who waits for the sync.
        var accepted: (id: UInt64, hash: DedupIndex.Hash, expiresMs: Int64, routes: Int, completion: @Sendable (AcceptResult) -> Void)?
        /// For outcome records: the id whose delivery ended.
        var resolvedID: UInt64?
    }

    struct State {
        var queue: [Write] = []
        /// The framed records of `queue`, end to end: encoded in place by `accept` and friends,
        /// taken whole by a group commit (which swaps in its emptied buffer, so both keep their
        /// capacity and no record allocates).
        var pending: [UInt8] = []
        var dedup = DedupIndex()
        /// Completions of duplicates that arrived while the original's write was not synced yet.
        var dedupWaiters: [DedupIndex.Hash: [@Sendable (AcceptResult) -> Void]] = [:]
        var closing = false
        var bytesOnDisk = 0
        /// Accepted ids with deliveries still pending: segment index and how many.
        var live: [UInt64: (segment: Int, remaining: Int)] = [:]
        /// Segment index -> pending deliveries of its notifications.
        var unresolved: [Int: Int] = [:]
        var segments: [Int: (name: String, bytes: Int)] = [:]
        /// Damaged segments: kept whatever their deliveries say (see init).
        var pinned: Set<Int> = []
        /// Segment index -> the latest de-duplication expiry of its records: compaction reads a
        /// segment back for its entries only while one may still be in its window.
        var dedupExpiry: [Int: Int64] = [:]
        /// Compaction passes run (tests await them).
        var compactionPasses = 0
        var activeSegment = 0
    }

    let state: Locked<State>
    private let wake = DispatchSemaphore(value: 0)
    /// An `accept(deferWake: true)` queued a record and left the commit to `commitDeferred`.
    private let wakeDeferred = Atomic<Bool>(false)
    /// Records queued without waking the writer (outcomes, retries) before one wake-up is due:
    /// they are not synced on their own, so they ride along with the next group commit.
    static let quietRecordLimit = 256
    private let stopped = DispatchSemaphore(value: 0)
    /// Serializes group commits: the writer thread and event loops (`commitDeferred`) both make
    /// them, one at a time, each taking the whole queue. Taken before `state`, never after.
    private let commitLock = NSLock()
    /// Until this monotonic time (ns) event loops leave commits to the writer thread: a sync took
    /// longer than `Options.loopCommitMaxSyncNs`. On a real disk (a sync of 150 us here) the loops then keep
    /// reading and parsing while the writer waits for the disk, and its batches are larger (an
    /// A/B on disk: commits on the loops cost 4% more CPU per request and 3% of throughput);
    /// where syncs cost next to nothing (tmpfs, `fsync: false`, a controller with a protected
    /// cache) the loops commit, and the hand-over to another thread and back is saved. Each
    /// second, one commit on a loop measures again.
    private let loopCommitsHeldUntilNs = Atomic<UInt64>(0)
    static let slowSyncHoldNs: UInt64 = 1_000_000_000
    let logger: Logger
    // Compactor thread only (and init):
    let dedupJournal: DedupJournal
    let compactorWake = DispatchSemaphore(value: 0)
    let compactorStopped = DispatchSemaphore(value: 0)
    /// Segments that could not be read for compaction (warned about once).
    var unreadableSegments: Set<String> = []
    // Under `commitLock` (and init), hence no run-time exclusivity check:
    @exclusivity(unchecked) private var fd: Int32 = -1
    /// The writer thread closed the active segment (after `close()`): commits fail from here on.
    @exclusivity(unchecked) private var writerClosed = false
    @exclusivity(unchecked) private var nextSegmentNumber: UInt64 = 1
    @exclusivity(unchecked) private var activeSize = 0
    @exclusivity(unchecked) private var lastSync: UInt64 = 0
    @exclusivity(unchecked) private var unsynced = false
    /// Syncs in a row that took longer than `Options.loopCommitMaxSyncNs`.
    @exclusivity(unchecked) private var slowSyncStreak = 0
    /// The group being committed: taken from `State.queue` and `State.pending` by swapping.
    @exclusivity(unchecked) private var commitQueue: [Write] = []
    @exclusivity(unchecked) private var commitBytes: [UInt8] = []
    /// A commit buffer larger than this after a burst is released rather than kept.
    static let keptBufferBytes = 4 << 20
    static let keptQueueEntries = 4096

    public init(options: Options, logger: Logger) throws(SpoolError) {
        self.options = options
        self.logger = logger
        var report = RecoveryReport()
        report.tightenedDirectory = try SpoolFiles.privateDirectory(options.dir)
        _ = try SpoolFiles.privateDirectory(options.dir + "/segments")
        _ = try SpoolFiles.privateDirectory(options.dir + "/deadletters")
        _ = try SpoolFiles.privateDirectory(options.dir + "/replay")
        _ = try SpoolFiles.privateDirectory(options.dir + "/damaged")

        let lock = open(options.dir + "/LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw SpoolError.errno("open \(options.dir)/LOCK") }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(lock)
            throw SpoolError("another gateway is using the spool in \(options.dir) (it holds \(options.dir)/LOCK)")
        }
        lockFD = lock

        let idPath = options.dir + "/ID"
        if let id = SpoolFiles.readText(idPath), id.count == 8 {
            spoolID = id
        } else {
            var g = SystemRandomNumberGenerator()
            spoolID = Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255, using: &g) })
            try SpoolFiles.writeAtomically(idPath, Array(spoolID.utf8))
        }

        spoolIDPrefix = Array(spoolID.utf8) + [UInt8(ascii: "-")]
        var s = State()
        let now = Spool.nowMs()
        dedupJournal = DedupJournal(path: options.dir + "/dedup.idx")
        let journal = try dedupJournal.open(now: now)
        if journal.unreadable {
            logger.warning("set aside an unreadable de-duplication file", [("file", .string(dedupJournal.path + ".unreadable"))])
        } else if journal.damaged > 0 {
            logger.warning("skipped damaged de-duplication entries", [("file", .string(dedupJournal.path)), ("entries", .int(journal.damaged))])
        }
        var dedupItems = journal.items
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: options.dir + "/segments")) ?? [])
            .filter { $0.hasSuffix(".seg") }.sorted()
        var recovery = SpoolRecovery()
        for (index, name) in names.enumerated() {
            let path = options.dir + "/segments/" + name
            // Mapped, not copied: recovery reads every segment, up to 64 MiB each.
            let scanned = SpoolFiles.withMappedFile(path) { raw -> (SegmentDamage?, Int, [UInt8]) in
                // A crash between creating a segment and syncing its header leaves (part of) a
                // header: an empty segment, not damage.
                if raw.count < SpoolFormat.headerSize && raw.elementsEqual(SpoolFormat.header.prefix(raw.count)) {
                    return (nil, raw.count, [])
                }
                let (records, damage, valid) = decodeSegment(raw)
                for r in records {
                    recovery.apply(r, segment: index)
                    if case .accepted(let a) = r, a.dedupExpiresMs > now {
                        dedupItems.append(DedupIndex.Item(hash: DedupIndex.Hash(a.dedupHash), expiresMs: a.dedupExpiresMs))
                        s.dedupExpiry[index] = max(s.dedupExpiry[index] ?? 0, a.dedupExpiresMs)
                    }
                }
                let tail = damage != nil && damage != .badHeader ? Array(raw[valid...]) : []
                return (damage, damage == .badHeader ? raw.count : valid, tail)
            }
            guard let (damage, valid, tail) = scanned else {
                // Unreadable: keep it, and everything it may hold, for a human.
                report.damaged.append((name, .unreadable, true))
                s.pinned.insert(index)
                s.segments[index] = (name, 0)
                continue
            }
            if let damage {
                let torn = index == names.count - 1 && damage != .badHeader
                report.damaged.append((name, damage, !torn))
                if torn {
                    // A torn tail: nothing from here on was synced, so nothing was acknowledged.
                    // Cut it off so the file ends with whole records, keeping the cut bytes in
                    // damaged/ for inspection (in case it was damage of another kind).
                    try? SpoolFiles.writeAtomically(options.dir + "/damaged/\(name).\(valid).tail", tail)
                    truncate(path, off_t(valid))
                } else {
                    // Damage inside the log, or a format this version cannot read: never delete
                    // it (what follows the damage may be acknowledged notifications).
                    s.pinned.insert(index)
                }
            }
            s.segments[index] = (name, valid)
            s.bytesOnDisk += valid
        }
        s.dedup.restore(dedupItems, now: now)
        report.segments = names.count
        report.records = recovery.records
        // The segments holding the highest ids may all have been deleted since (every delivery
        // done): NEXTID, saved before each deletion, is then the floor.
        let savedNext = SpoolFiles.readText(Spool.nextIDPath(options.dir)).flatMap { UInt64($0) } ?? 0
        nextRecordID = Atomic(max(recovery.maxID + 1, savedNext))
        for (id, remaining) in recovery.remainingPerID {
            if let seg = recovery.segmentOf[id] { s.live[id] = (seg, remaining) }
        }
        s.unresolved = recovery.unresolvedPerSegment
        s.activeSegment = names.count
        recovered = recovery.pending
        self.report = report
        state = Locked(s)

        // Every run writes to a new segment, numbered after the highest existing one: a file is
        // never appended to by two runs, and names sort in log order.
        nextSegmentNumber = (names.compactMap { SpoolFormat.segmentNumber($0) }.max() ?? 0) + 1
        try openSegment(index: names.count)
        NamedThread.start("gw-spool-writer") { [self] in writerLoop() }
        NamedThread.start("gw-compactor") { [self] in compactorLoop() }
    }

    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// The delivery ID of (notification, route): the same every time, also after a restart.
    public func deliveryID(id: UInt64, route: String) -> String {
        deliveryIDParts(id: id, route: route).description
    }

    /// The same as parts, written out when read (see `DeliveryID`).
    public func deliveryIDParts(id: UInt64, route: String) -> DeliveryID {
        DeliveryID(prefix: spoolIDPrefix, record: id, route: route)
    }

    public var bytesOnDisk: Int { state.withLock { $0.bytesOnDisk } }

    public var segmentCount: Int { state.withLock { $0.segments.count } }

    /// Group commits that failed to write or sync since start.
    public var writeFailures: Int { failures.load(ordering: .relaxed) }
    private let failures = Atomic<Int>(0)
    /// Whether the last group commit was stored (readiness: a spool that cannot write answers 503).
    public var isWritable: Bool { !lastWriteFailed.load(ordering: .relaxed) }
    private let lastWriteFailed = Atomic<Bool>(false)

    /// Notifications in their de-duplication window.
    public var dedupEntries: Int { state.withLock { $0.dedup.count } }

    // MARK: - Accepting

    /// An id for a notification about to be stored (`accept(id:)`), unique for this spool.
    public func reserveID() -> UInt64 {
        nextRecordID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Stores a notification (or recognises a duplicate) and calls `completion` once the answer
    /// is known: after the sync for `.stored`, after the original's sync for `.duplicate`. `id`:
    /// one `reserveID()` gave (nil: a new one).
    public func accept(
        id reserved: UInt64? = nil, source: String, msgID: String, eventCode: String, dedupHash: [UInt8], dedupWindowMs: Int64,
        routes: [String], headers: [KeptHeader] = [], receivedMs: Int64? = nil, body: [UInt8], deferWake: Bool = false,
        completion: @escaping @Sendable (AcceptResult) -> Void
    ) {
        let now = receivedMs ?? Spool.nowMs()
        let hash = DedupIndex.Hash(dedupHash)
        let immediate: AcceptResult? = state.withLock { s -> AcceptResult? in
            if s.closing { return .failed("the gateway is shutting down") }
            if dedupWindowMs > 0, let found = s.dedup.lookup(hash, now: now) {
                if found == .stored { return .duplicate }
                s.dedupWaiters[hash, default: []].append(completion)
                return nil
            }
            if options.maxBytes > 0 && s.bytesOnDisk + body.count > options.maxBytes {
                return .failed("the spool is full (spool.maxBytes)")
            }
            let id = reserved ?? reserveID()
            let expiresMs = now + dedupWindowMs
            if dedupWindowMs > 0 { s.dedup.insertUnsynced(hash, expiresMs: expiresMs, windowMs: dedupWindowMs) }
            // The caller's hash bytes when they encode the same hash (16 bytes, or none:
            // zeros), so that storing a notification does not allocate a copy of them.
            SpoolRecord.encodeAccepted(
                id: id, receivedMs: now, source: source, msgID: msgID, eventCode: eventCode,
                dedupHash: dedupHash.count == 16 || dedupHash.isEmpty ? dedupHash : hash.bytes, dedupExpiresMs: expiresMs,
                routes: routes, headers: headers, body: body, into: &s.pending)
            s.queue.append(Write(accepted: (id, hash, expiresMs, routes.count, completion), resolvedID: nil))
            return nil
        }
        if let immediate {
            completion(immediate)
        } else if deferWake {
            wakeDeferred.store(true, ordering: .releasing)
        } else {
            wake.signal()
        }
    }

    /// Commits what `accept(deferWake: true)` queued, if any. An event loop calls this once per
    /// iteration, after handling every ready connection, so the notifications of one iteration
    /// share one write and one sync.
    ///
    /// The loop makes the commit itself when it can (`Options.commitOnCaller`, no other commit
    /// running, syncs fast): no hand-over to the writer thread and back, which on a busy host
    /// costs two wake-ups and two context switches per batch, and the completions of this loop's
    /// own connections run right here, so their answers go out without another wake-up. Records
    /// queued by other threads ride along. Otherwise it wakes the writer, which commits the same
    /// way; a loop never waits for another commit to finish.
    public func commitDeferred() {
        guard wakeDeferred.load(ordering: .relaxed) && wakeDeferred.exchange(false, ordering: .acquiringAndReleasing) else { return }
        guard options.commitOnCaller, monotonicNanoseconds() >= loopCommitsHeldUntilNs.load(ordering: .relaxed), commitLock.try()
        else {
            wake.signal()
            return
        }
        takeQueue()
        let done = commitQueue.isEmpty ? [] : write()
        commitLock.unlock()
        Self.complete(done)
    }

    /// Records the progress of a delivery that will be retried (not synced on its own).
    public func recordRetry(_ r: RetryRecord) {
        enqueue(.retry(r), resolvedID: nil)
    }

    /// Records that a delivery ended (not synced on its own: if it is lost in a crash, the
    /// delivery is made again).
    public func recordOutcome(id: UInt64, route: String, outcome: SpoolRecord.Outcome, attempts: Int) {
        enqueue(.outcome(id: id, route: route, outcome: outcome, attempts: UInt32(clamping: attempts)), resolvedID: id)
    }

    /// Queues a record that needs no sync of its own. The writer is woken only when many have
    /// piled up; otherwise they go with the next group commit, or at the writer's next timeout
    /// (500 ms), so a delivery's outcome costs no context switch.
    private func enqueue(_ record: SpoolRecord, resolvedID: UInt64?) {
        let count = state.withLock { s in
            record.encode(into: &s.pending)
            s.queue.append(Write(accepted: nil, resolvedID: resolvedID))
            return s.queue.count
        }
        if count >= Self.quietRecordLimit { wake.signal() }
    }

    /// Stops compacting, writes what is queued, syncs and releases the lock. (Nothing else to
    /// save: the segments and `dedup.idx` already hold everything.)
    public func close() {
        let already = state.withLock { s -> Bool in
            let was = s.closing
            s.closing = true
            return was
        }
        guard !already else { return }
        compactorWake.signal()
        _ = compactorStopped.wait(timeout: .now() + 30)
        wake.signal()
        _ = stopped.wait(timeout: .now() + 30)
        Glibc.close(lockFD)
    }

    // MARK: - Writer thread

    /// Creates the next segment (never an existing file: O_EXCL) and makes it the active one.
    private func openSegment(index: Int) throws(SpoolError) {
        let name = SpoolFormat.segmentName(number: nextSegmentNumber)
        let path = segmentsDir + "/" + name
        let f = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        guard f >= 0 else { throw SpoolError.errno("create \(path)") }
        nextSegmentNumber += 1
        do {
            try SpoolFiles.writeAll(f, SpoolFormat.header)
            if options.fsync {
                try SpoolFiles.sync(f)
                try SpoolFiles.syncDirectory(segmentsDir)
            }
        } catch {
            Glibc.close(f)
            throw error
        }
        if fd >= 0 { Glibc.close(fd) }
        fd = f
        activeSize = SpoolFormat.headerSize
        state.withLock { s in
            s.activeSegment = index
            s.segments[index] = (name, SpoolFormat.headerSize)
            s.bytesOnDisk += SpoolFormat.headerSize
        }
    }

    private func writerLoop() {
        while true {
            _ = wake.wait(timeout: .now() + .milliseconds(500))
            commitLock.lock()
            let closing = takeQueue()
            let done = commitQueue.isEmpty ? [] : write()
            let now = monotonicMs()
            if unsynced && options.fsync && now - lastSync >= 1000 {
                try? SpoolFiles.sync(fd)
                unsynced = false
                lastSync = now
            }
            let finished = closing && state.withLock({ $0.queue.isEmpty })
            if finished {
                if unsynced && options.fsync { try? SpoolFiles.sync(fd) }
                Glibc.close(fd)
                fd = -1
                writerClosed = true
            }
            commitLock.unlock()
            Self.complete(done)
            if finished {
                stopped.signal()
                return
            }
        }
    }

    /// Calls each completion and lets go of it at once, in queue order. A completion usually
    /// hands its request to the request's own loop; if this thread kept its reference until all
    /// were called, it would often be the last to release the request's state, and so free
    /// memory another thread allocated.
    private static func complete(_ done: consuming [(@Sendable (AcceptResult) -> Void, AcceptResult)]) {
        done.drainInOrder { (c, r) in c(r) }
    }

    /// Moves everything queued into `commitQueue` and `commitBytes`, for one group commit
    /// (commitLock held), and returns whether the spool closes.
    @discardableResult
    private func takeQueue() -> Bool {
        return state.withLock { s in
            swap(&s.queue, &commitQueue)
            swap(&s.pending, &commitBytes)
            return s.closing
        }
    }

    private func monotonicMs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }

    /// One group: roll the segment if needed, one write, one sync. Returns the completions to
    /// call, which the caller does after releasing `commitLock` (commitLock held).
    private func write() -> [(@Sendable (AcceptResult) -> Void, AcceptResult)] {
        defer {
            // Emptied for the next swap; what a burst grew is given back.
            commitQueue.removeAll(keepingCapacity: commitQueue.capacity <= Self.keptQueueEntries)
            commitBytes.removeAll(keepingCapacity: commitBytes.capacity <= Self.keptBufferBytes)
        }
        let needsSync = commitQueue.contains { $0.accepted != nil }
        var failure: String? = nil
        do throws(SpoolError) {
            if writerClosed { throw SpoolError("the spool is closed") }
            if activeSize + commitBytes.count > options.segmentBytes && activeSize > SpoolFormat.headerSize {
                let index = state.withLock { $0.activeSegment + 1 }
                if unsynced && options.fsync { try SpoolFiles.sync(fd) }
                try openSegment(index: index)
                compactorWake.signal()
            }
            try SpoolFiles.writeAll(fd, commitBytes)
            activeSize += commitBytes.count
            if needsSync && options.fsync {
                let t0 = monotonicNanoseconds()
                try SpoolFiles.sync(fd)
                if options.simulatedSyncDelayMs > 0 { usleep(UInt32(options.simulatedSyncDelayMs) * 1000) }
                options.fsyncDurations?.observe(sinceNs: t0)
                let t1 = monotonicNanoseconds()
                if t1 - t0 > options.loopCommitMaxSyncNs {
                    slowSyncStreak += 1
                    if slowSyncStreak >= options.slowSyncsBeforeHold { loopCommitsHeldUntilNs.store(t1 + Self.slowSyncHoldNs, ordering: .relaxed) }
                } else {
                    slowSyncStreak = 0
                }
                lastSync = monotonicMs()
                unsynced = false
            } else {
                unsynced = true
            }
            lastWriteFailed.store(false, ordering: .relaxed)
        } catch {
            failure = error.message
            failures.add(1, ordering: .relaxed)
            lastWriteFailed.store(true, ordering: .relaxed)
            logger.error("spool write failed; the notifications of this group were not acknowledged", [("error", .string(error.message))])
            // What was written may be partly on disk: cut it off (else the next start finds damage
            // inside the log) and continue in a fresh segment.
            if !writerClosed {
                _ = ftruncate(fd, off_t(activeSize))
                let index = state.withLock { $0.activeSegment + 1 }
                try? openSegment(index: index)
            }
        }
        var done: [(@Sendable (AcceptResult) -> Void, AcceptResult)] = []
        state.withLock { s in
            s.bytesOnDisk += failure == nil ? commitBytes.count : 0
            s.segments[s.activeSegment]?.bytes = activeSize
            for w in commitQueue {
                if let a = w.accepted {
                    // Checked for emptiness first: hashing the key costs more than the check, and
                    // copies waiting for their original are rare.
                    let waiters = s.dedupWaiters.isEmpty ? [] : s.dedupWaiters.removeValue(forKey: a.hash) ?? []
                    if let failure {
                        s.dedup.discard(a.hash)
                        done.append((a.completion, .failed(failure)))
                        for c in waiters { done.append((c, .failed(failure))) }
                    } else {
                        s.dedup.confirm(a.hash)
                        done.append((a.completion, .stored(id: a.id)))
                        for c in waiters { done.append((c, .duplicate)) }
                    }
                }
            }
            if failure == nil { track(commitQueue, &s) }
        }
        return done
    }

    /// Keeps the per-segment counts of pending deliveries (lock held).
    private func track(_ batch: [Write], _ s: inout State) {
        // What concerns the active segment is summed over the batch and written once: two
        // dictionary updates per notification were 300 instructions each.
        let active = s.activeSegment
        var expiry = s.dedupExpiry[active, default: 0]
        var activeDelta = 0
        for w in batch {
            if let a = w.accepted {
                expiry = max(expiry, a.expiresMs)
                // Only accepted records of routed notifications hold a segment.
                if a.routes > 0 {
                    s.live[a.id] = (active, a.routes)
                    activeDelta += a.routes
                }
            }
            // One hash of the id: found by index, changed in place or removed at that index.
            if let id = w.resolvedID, let at = s.live.index(forKey: id) {
                s.live.values[at].remaining -= 1
                let l = s.live.values[at]
                if l.segment == active {
                    activeDelta -= 1
                } else {
                    s.unresolved[l.segment, default: 1] -= 1
                }
                if l.remaining <= 0 { s.live.remove(at: at) }
            }
        }
        if expiry > s.dedupExpiry[active, default: 0] { s.dedupExpiry[active] = expiry }
        if activeDelta != 0 { s.unresolved[active, default: 0] += activeDelta }
    }
}
