import Foundation
import GatewayCore
import GatewayTestKit
import Glibc
import Synchronization
import Testing

@testable import GatewaySpool

func tempSpoolDir() throws -> String {
    try GatewayProcess.makeTempDirectory("spool").path
}

/// Accepts synchronously (waits for the completion).
func store(_ spool: Spool, body: String, routes: [String] = ["r"], source: String = "evo", window: Int64 = 60_000, hash: [UInt8]? = nil) -> Spool.AcceptResult {
    let done = DispatchSemaphore(value: 0)
    let result = Locked<Spool.AcceptResult?>(nil)
    let h = hash ?? hash16(source + "\u{0}" + body)
    spool.accept(source: source, msgID: "m", eventCode: "Payment", dedupHash: h, dedupWindowMs: window, routes: routes, body: Array(body.utf8)) { r in
        result.withLock { $0 = r }
        done.signal()
    }
    _ = done.wait(timeout: .now() + 10)
    return result.withLock { $0 } ?? .failed("timed out")
}

/// A 16-byte test digest (two FNV-1a runs); the gateway uses SHA-256.
func hash16(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    for seed: UInt64 in [0xcbf2_9ce4_8422_2325, 0x8422_2325_cbf2_9ce4] {
        var h = seed
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: h >> UInt64(8 * k))) }
    }
    return out
}

func segmentFiles(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/segments")) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
}

@Suite("Spool format")
struct SpoolFormatTests {
    let records: [SpoolRecord] = [
        .accepted(AcceptedRecord(id: 7, receivedMs: 1_795_312_800_000, source: "evo", msgID: "m1", eventCode: "Payment", dedupHash: Array(repeating: 9, count: 16), dedupExpiresMs: 1_795_399_200_000, routes: ["ledger", "audit"], headers: [KeptHeader("DateTime", "2026-11-22T10:00:00+08:00"), KeptHeader("SignType", "SHA256")], body: Array(#"{"eventCode":"Payment"}"#.utf8))),
        .retry(RetryRecord(id: 7, route: "ledger", attempts: 2, nextAttemptMs: 1_795_312_801_000, handlerIndex: 1, body: Array("{}".utf8))),
        .retry(RetryRecord(id: 7, route: "ledger", attempts: 3, nextAttemptMs: 5, handlerIndex: 0, body: nil)),
        .outcome(id: 7, route: "audit", outcome: .delivered, attempts: 1),
    ]

    func segment(_ rs: [SpoolRecord]) -> [UInt8] { SpoolFormat.header + rs.flatMap { $0.encoded() } }

    @Test func roundTrip() {
        let (decoded, damage, valid) = decodeSegment(segment(records))
        #expect(decoded == records)
        #expect(damage == nil)
        #expect(valid == segment(records).count)
    }

    /// The spool encodes each record at the end of one shared buffer: framing and CRC must be
    /// those of the record alone, wherever it starts.
    @Test func encodingIntoABufferAppendsTheSameFrame() {
        var buffer = SpoolFormat.header
        for r in records { r.encode(into: &buffer) }
        #expect(buffer == segment(records))
        let (decoded, damage, _) = decodeSegment(buffer)
        #expect(decoded == records)
        #expect(damage == nil)
    }

    /// An outcome record's frame, byte by byte (the format segments on disk already hold):
    /// length and CRC-32C of the payload, then type 2, the id, the route with its length, the
    /// outcome and the attempts, little-endian. Routes of every length, ASCII and not.
    /// An accepted record's frame, written out field by field as the format documents it:
    /// length u32, CRC u32 | type u8, id u64, receivedMs i64, source, msgID, eventCode (u32
    /// length + UTF-8 each), the dedup hash as 16 bytes (shorter: zero-padded; longer: its first
    /// 16), dedupExpiresMs i64, routes (u16 count, strings), headers (u16 count, name and value
    /// strings), body (u32 length, bytes). Appended after what the buffer already holds.
    @Test func anAcceptedRecordsFrameIsTheDocumentedOne() {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func str(_ s: String) -> [UInt8] { le(UInt32(s.utf8.count)) + Array(s.utf8) }
        let cases: [(hash: [UInt8], routes: [String], headers: [KeptHeader], body: [UInt8])] = [
            ([], [], [], []),
            (Array(1...16), ["ledger"], [KeptHeader("DateTime", "2026-11-22T10:00:00+08:00")], Array("{}".utf8)),
            (Array(1...32), ["a", "ruté", String(repeating: "r", count: 300)], [KeptHeader("SignType", "SHA256"), KeptHeader("X", "")],
             Array(repeating: 0x41, count: 5000)),
            ([7, 8, 9], [""], [], [0]),
        ]
        for c in cases {
            let record = SpoolRecord.accepted(
                AcceptedRecord(
                    id: 0x0102_0304_0506_0708, receivedMs: -5, source: "evo", msgID: "mé", eventCode: "Payment", dedupHash: c.hash,
                    dedupExpiresMs: 1_795_000_000_000, routes: c.routes, headers: c.headers, body: c.body))
            var payload: [UInt8] = [SpoolRecord.acceptedType] + le(UInt64(0x0102_0304_0506_0708)) + le(Int64(-5))
            payload += str("evo") + str("mé") + str("Payment")
            payload += Array(c.hash.prefix(16)) + [UInt8](repeating: 0, count: max(0, 16 - c.hash.count))
            payload += le(Int64(1_795_000_000_000)) + le(UInt16(c.routes.count))
            for r in c.routes { payload += str(r) }
            payload += le(UInt16(c.headers.count))
            for h in c.headers { payload += str(h.name) + str(h.value) }
            payload += le(UInt32(c.body.count)) + c.body
            let frame = le(UInt32(payload.count)) + le(CRC32C.checksum(payload)) + payload
            var buffer: [UInt8] = [9, 9, 9]
            record.encode(into: &buffer)
            #expect(buffer == [9, 9, 9] + frame, "\(c.routes)")
            #expect(record.encoded() == frame)
        }
    }

    @Test func anOutcomeRecordsFrameIsTheDocumentedOne() {
        for route in ["", "r", "ledger", "ruté-" + String(repeating: "x", count: 300)] {
            let record = SpoolRecord.outcome(id: 0x0102_0304_0506_0708, route: route, outcome: .dropped, attempts: 0x0A0B_0C0D)
            var payload: [UInt8] = [2, 8, 7, 6, 5, 4, 3, 2, 1]
            let r = Array(route.utf8)
            payload += withUnsafeBytes(of: UInt32(r.count).littleEndian, Array.init) + r
            payload += [SpoolRecord.Outcome.dropped.rawValue, 0x0D, 0x0C, 0x0B, 0x0A]
            let frame = withUnsafeBytes(of: UInt32(payload.count).littleEndian, Array.init)
                + withUnsafeBytes(of: CRC32C.checksum(payload).littleEndian, Array.init) + payload
            #expect(record.encoded() == frame, "\(route)")
            var buffer: [UInt8] = [9, 9, 9]
            record.encode(into: &buffer)
            #expect(buffer == [9, 9, 9] + frame)
        }
    }

    @Test func tornTailIsDetectedAtEveryCut() {
        let full = segment(records)
        let lastStart = full.count - records.last!.encoded().count
        for cut in (lastStart + 1)..<full.count {
            let (decoded, damage, valid) = decodeSegment(Array(full[0..<cut]))
            #expect(decoded == Array(records.dropLast()), "cut at \(cut)")
            #expect(damage == .truncated(offset: lastStart))
            #expect(valid == lastStart)
        }
    }

    @Test func corruptionIsDetected() {
        var bytes = segment(records)
        let second = SpoolFormat.headerSize + records[0].encoded().count
        bytes[second + 12] ^= 0x40  // inside the retry record's payload
        let (decoded, damage, _) = decodeSegment(bytes)
        #expect(decoded == [records[0]])
        #expect(damage == .corrupt(offset: second))
        #expect(decodeSegment(Array("not a segment at all".utf8)).damage == .badHeader)
        // A length that claims gigabytes is refused, not allocated.
        var huge = SpoolFormat.header
        huge += [0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0, 1]
        #expect(decodeSegment(huge).damage == .corrupt(offset: SpoolFormat.headerSize))
    }

    @Test func recoveryKeepsWhatIsPendingAndWhereItResumes() {
        var r = SpoolRecovery()
        for rec in records { r.apply(rec, segment: 0) }
        let pending = r.pending
        #expect(pending.count == 1)
        #expect(pending.first?.route == "ledger")
        #expect(pending.first?.attempts == 3)
        #expect(pending.first?.handlerIndex == 0)
        #expect(pending.first?.body == nil)
        #expect(r.maxID == 7)
        #expect(r.unresolvedPerSegment == [0: 1])
        r.apply(.outcome(id: 7, route: "ledger", outcome: .dead, attempts: 5), segment: 1)
        #expect(r.pending.isEmpty)
        #expect(r.unresolvedPerSegment.isEmpty)
        // Progress for a notification whose segment is gone is ignored.
        r.apply(.retry(RetryRecord(id: 99, route: "x", attempts: 1, nextAttemptMs: 0, handlerIndex: 0, body: nil)), segment: 1)
        #expect(r.pending.isEmpty)
    }

    @Test func crc32cKnownAnswers() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        // Chaining (seed = the checksum so far) over every split of an odd-length input.
        let data = (0..<1003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = CRC32C.checksum(data)
        for cut in [0, 1, 7, 8, 9, 500, 1002, 1003] {
            let first = CRC32C.checksum(Array(data[..<cut]))
            let chained = data[cut...].withUnsafeBytes { CRC32C.checksum($0, seed: first) }
            #expect(chained == whole, "split at \(cut)")
        }
    }
}

/// What an event loop does: accepts with `deferWake`, then calls `commitDeferred`. Returns the
/// completion's result as it stood when that call returned (`immediate`) and once it arrived
/// (`eventual`, waited for up to 10 s), each with whether it ran on the calling thread.
func acceptDeferred(_ spool: Spool, msgID: String) -> (immediate: (result: Spool.AcceptResult, onCaller: Bool)?, eventual: (result: Spool.AcceptResult, onCaller: Bool)?) {
    let caller = pthread_self()
    let done = DispatchSemaphore(value: 0)
    let result = Locked<(result: Spool.AcceptResult, onCaller: Bool)?>(nil)
    let body = #"{"eventCode":"Payment","msgID":"\#(msgID)"}"#
    spool.accept(
        source: "evo", msgID: msgID, eventCode: "Payment", dedupHash: hash16(body), dedupWindowMs: 60_000, routes: ["r"],
        body: Array(body.utf8), deferWake: true
    ) { r in
        result.withLock { $0 = (r, pthread_equal(pthread_self(), caller) != 0) }
        done.signal()
    }
    spool.commitDeferred()
    let immediate = result.withLock { $0 }
    _ = done.wait(timeout: .now() + 10)
    return (immediate, result.withLock { $0 })
}

@Suite("Spool on disk", .serialized)
struct SpoolDiskTests {
    /// An event loop accepts with `deferWake` and calls `commitDeferred` once per iteration.
    /// With `commitOnCaller` the loop commits itself: the completion has run when the call
    /// returns, on the calling thread. Without it the call must wake the writer: otherwise every
    /// acceptance below would wait for the writer's 500 ms timeout (20 in a row: about 10 s).
    @Test(arguments: [true, false]) func aDeferredAcceptanceIsCommittedByTheLoopsCall(commitOnCaller: Bool) throws {
        var options = Spool.Options(dir: try tempSpoolDir())
        options.commitOnCaller = commitOnCaller
        options.loopCommitMaxSyncNs = 10_000_000_000  // whatever the test machine's disk does
        let spool = try Spool(options: options, logger: .disabled)
        defer { spool.close() }
        let start = monotonicNanoseconds()
        for i in 0..<20 {
            let (immediate, eventual) = acceptDeferred(spool, msgID: "m\(i)")
            if commitOnCaller {
                // Nothing to wait for: the call itself wrote, synced and completed.
                let r = try #require(immediate, "acceptance \(i) was not completed by commitDeferred")
                #expect(r.onCaller)
            } else {
                #expect(eventual?.onCaller == false)
            }
            guard case .stored = eventual?.result else {
                Issue.record("acceptance \(i) was not stored: \(String(describing: eventual))")
                return
            }
        }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        #expect(seconds < 4, "20 deferred acceptances took \(seconds) s: the commit did not happen at the call")
    }

    /// After `slowSyncsBeforeHold` slow syncs in a row the loops leave commits to the writer
    /// thread: the next deferred acceptance completes on the writer, not on the thread that
    /// called commitDeferred. Fewer slow syncs than that (a preempted sync on a busy host) do not.
    @Test func afterSlowSyncsInARowCommitsGoToTheWriter() throws {
        var options = Spool.Options(dir: try tempSpoolDir())
        options.simulatedSyncDelayMs = 5
        options.loopCommitMaxSyncNs = 2_000_000  // the simulated 5 ms is slow; a real sync here is not
        options.slowSyncsBeforeHold = 3
        let spool = try Spool(options: options, logger: .disabled)
        defer { spool.close() }
        var results: [Spool.AcceptResult] = []
        for i in 1...3 {
            let r = try #require(acceptDeferred(spool, msgID: "s\(i)").eventual)
            #expect(r.onCaller, "commit \(i) is the caller's: fewer than 3 slow syncs were seen before it")
            results.append(r.result)
        }
        let fourth = try #require(acceptDeferred(spool, msgID: "s4").eventual)
        #expect(!fourth.onCaller, "after 3 slow syncs in a row the writer thread commits")
        results.append(fourth.result)
        for r in results {
            guard case .stored = r else {
                Issue.record("not stored: \(r)")
                return
            }
        }
    }

    /// Records accepted after `close()` began fail; a loop's commit after the writer closed the
    /// segment fails the same way instead of writing to a closed descriptor.
    @Test func aCommitAfterCloseFailsCleanly() throws {
        let spool = try Spool(options: Spool.Options(dir: try tempSpoolDir()), logger: .disabled)
        spool.close()
        let result = Locked<Spool.AcceptResult?>(nil)
        let body = #"{"eventCode":"Payment"}"#
        spool.accept(
            source: "evo", msgID: "late", eventCode: "Payment", dedupHash: hash16(body), dedupWindowMs: 60_000, routes: ["r"],
            body: Array(body.utf8), deferWake: true
        ) { r in result.withLock { $0 = r } }
        spool.commitDeferred()
        guard case .failed = result.withLock({ $0 }) else {
            Issue.record("an acceptance after close was answered \(String(describing: result.withLock { $0 }))")
            return
        }
    }

    @Test func acceptedNotificationsSurviveAReopenUntilDelivered() throws {
        let dir = try tempSpoolDir()
        var opts = Spool.Options(dir: dir)
        opts.segmentBytes = 4096
        do {
            let spool = try Spool(options: opts, logger: .disabled)
            for i in 0..<50 {
                guard case .stored = store(spool, body: #"{"eventCode":"Payment","n":\#(i),"pad":"\#(String(repeating: "x", count: 200))"}"#, routes: ["a", "b"]) else {
                    Issue.record("not stored")
                    return
                }
            }
            // Route a got everything; b only the first 10.
            for id in 1...50 { spool.recordOutcome(id: UInt64(id), route: "a", outcome: .delivered, attempts: 1) }
            for id in 1...10 { spool.recordOutcome(id: UInt64(id), route: "b", outcome: .delivered, attempts: 1) }
            spool.recordRetry(RetryRecord(id: 11, route: "b", attempts: 2, nextAttemptMs: 42, handlerIndex: 1, body: Array("changed".utf8)))
            spool.close()
        }
        let spool = try Spool(options: opts, logger: .disabled)
        defer { spool.close() }
        let pending = spool.recovered
        #expect(pending.count == 40)
        #expect(Set(pending.map(\.route)) == ["b"])
        #expect(pending.map(\.record.id) == (11...50).map(UInt64.init))
        let eleven = try #require(pending.first)
        #expect(eleven.attempts == 2 && eleven.handlerIndex == 1 && eleven.body == Array("changed".utf8))
        #expect(String(decoding: eleven.record.body, as: UTF8.self).contains("\"n\":10"))
        // New ids continue after the old ones.
        #expect(store(spool, body: "{\"new\":1}") == .stored(id: 51))
        // The delivery id of a notification and route is the same after the restart.
        #expect(spool.deliveryID(id: 11, route: "b") == spool.deliveryID(id: 11, route: "b"))
        #expect(spool.deliveryID(id: 11, route: "b").hasPrefix(spool.spoolID))
        // The format is kept across versions (IDs of retries after an upgrade must not change).
        for id: UInt64 in [0, 1, 9, 10, 15, 16, 0xabc, 0xdead_beef, 1 << 32, .max] {
            for route in ["b", "ledger-é", ""] {
                #expect(spool.deliveryID(id: id, route: route) == "\(spool.spoolID)-\(String(id, radix: 16))-\(route)")
            }
        }
    }

    @Test func deliveredSegmentsAreDeleted() throws {
        let dir = try tempSpoolDir()
        var opts = Spool.Options(dir: dir)
        opts.segmentBytes = 2048
        let spool = try Spool(options: opts, logger: .disabled)
        defer { spool.close() }
        for i in 0..<40 { _ = store(spool, body: #"{"n":\#(i),"pad":"\#(String(repeating: "y", count: 300))"}"#) }
        #expect(segmentFiles(dir).count > 4)
        for id in 1...40 { spool.recordOutcome(id: UInt64(id), route: "r", outcome: .delivered, attempts: 1) }
        _ = store(spool, body: "{\"roll\":1}", routes: [])  // nudge the writer
        #expect(eventually { segmentFiles(dir).count <= 2 }, "segments left: \(segmentFiles(dir))")
        #expect(FileManager.default.fileExists(atPath: dir + "/dedup.idx"))
    }

    /// Records delivered while their segment is still the one being written are counted as
    /// resolved there too (the active segment's count is summed per batch): once writing moves
    /// on, that segment is deleted like the others.
    @Test func aSegmentWhoseRecordsWereDeliveredWhileActiveIsDeletedLater() throws {
        let dir = try tempSpoolDir()
        var opts = Spool.Options(dir: dir)
        opts.segmentBytes = 2048
        let spool = try Spool(options: opts, logger: .disabled)
        defer { spool.close() }
        for i in 0..<3 { _ = store(spool, body: #"{"early":\#(i)}"#) }
        let first = try #require(segmentFiles(dir).sorted().first)
        for id in 1...3 { spool.recordOutcome(id: UInt64(id), route: "r", outcome: .delivered, attempts: 1) }
        // Unrouted notifications (nothing to resolve) fill the next segments.
        for i in 0..<20 { _ = store(spool, body: #"{"n":\#(i),"pad":"\#(String(repeating: "y", count: 300))"}"#, routes: []) }
        #expect(eventually { !segmentFiles(dir).contains(first) }, "segments left: \(segmentFiles(dir))")
    }

    @Test func tornTailIsCutAndTheRestKept() throws {
        let dir = try tempSpoolDir()
        let opts = Spool.Options(dir: dir)
        do {
            let spool = try Spool(options: opts, logger: .disabled)
            for i in 0..<5 { _ = store(spool, body: #"{"n":\#(i)}"#) }
            spool.close()
        }
        let seg = dir + "/segments/" + (segmentFiles(dir).first ?? "")
        var st = stat()
        stat(seg, &st)
        truncate(seg, st.st_size - 3)
        let spool = try Spool(options: opts, logger: .disabled)
        defer { spool.close() }
        #expect(spool.recovered.count == 4)
        #expect(spool.report.damaged.count == 1)
        #expect(spool.report.damaged.first.map { "\($0.damage)" }?.hasPrefix("truncated record") == true)
        var after = stat()
        stat(seg, &after)
        #expect(after.st_size < st.st_size - 3, "the torn record was cut off")
        #expect(spool.report.damaged.first?.kept == false)
        // The cut bytes are kept for inspection.
        let saved = try FileManager.default.contentsOfDirectory(atPath: dir + "/damaged")
        #expect(saved.count == 1)
        let savedSize = (try FileManager.default.attributesOfItem(atPath: dir + "/damaged/" + (saved.first ?? ""))[.size] as? Int) ?? 0
        #expect(savedSize == Int(st.st_size - 3 - after.st_size))
    }

    @Test func eachRunWritesANewSegmentThatCompactionLeavesAlone() throws {
        // The last run rolled to a new segment and stopped before writing to it (here: one with a
        // version-1 header). The next run must write to a segment of its own, and compaction
        // must never delete the one being written.
        let dir = try tempSpoolDir()
        let opts = Spool.Options(dir: dir)
        do {
            let spool = try Spool(options: opts, logger: .disabled)
            for i in 0..<3 { _ = store(spool, body: #"{"n":\#(i)}"#) }
            for id in 1...3 { spool.recordOutcome(id: UInt64(id), route: "r", outcome: .delivered, attempts: 1) }
            spool.close()
        }
        #expect(segmentFiles(dir) == [SpoolFormat.segmentName(number: 1)])
        var v1 = SpoolFormat.header
        v1[8] = 1
        try SpoolFiles.writeAtomically(dir + "/segments/" + SpoolFormat.segmentName(number: 2), v1)
        do {
            let spool = try Spool(options: opts, logger: .disabled)
            #expect(spool.report.damaged.isEmpty)
            #expect(store(spool, body: "{\"pending\":1}") == .stored(id: 4))
            #expect(store(spool, body: "{\"pending\":2}") == .stored(id: 5))
            let passes = spool.state.withLock { $0.compactionPasses }
            #expect(eventually { spool.state.withLock { $0.compactionPasses } >= passes + 2 })
            // The delivered and the empty segment are gone; the active one is the third.
            #expect(segmentFiles(dir) == [SpoolFormat.segmentName(number: 3)])
            spool.close()
        }
        let spool = try Spool(options: opts, logger: .disabled)
        defer { spool.close() }
        #expect(spool.recovered.map(\.record.id) == [4, 5])
        #expect(store(spool, body: "{\"next\":1}") == .stored(id: 6))
        #expect(segmentFiles(dir).last == SpoolFormat.segmentName(number: 4))
    }

    /// Delivery IDs are made of record ids, and a downstream service may de-duplicate on them:
    /// once every segment that held the highest ids is deleted (all delivered), the next run
    /// must still not hand those ids out again.
    @Test func recordIdsAreNeverReusedAfterTheirSegmentsAreDeleted() throws {
        let dir = try tempSpoolDir()
        let opts = Spool.Options(dir: dir)
        do {
            let spool = try Spool(options: opts, logger: .disabled)
            for i in 0..<3 { #expect(store(spool, body: #"{"n":\#(i)}"#) == .stored(id: UInt64(i + 1))) }
            for id in 1...3 { spool.recordOutcome(id: UInt64(id), route: "r", outcome: .delivered, attempts: 1) }
            spool.close()
        }
        do {
            // This run stores nothing; compaction deletes the delivered segment of the last one.
            let spool = try Spool(options: opts, logger: .disabled)
            #expect(eventually { !segmentFiles(dir).contains(SpoolFormat.segmentName(number: 1)) })
            spool.close()
        }
        #expect(String(decoding: SpoolFiles.readFile(dir + "/NEXTID") ?? [], as: UTF8.self) == "4")
        var st = stat()
        #expect(stat(dir + "/NEXTID", &st) == 0 && st.st_mode & 0o777 == 0o600)
        let spool = try Spool(options: opts, logger: .disabled)
        defer { spool.close() }
        #expect(spool.recovered.isEmpty)
        #expect(store(spool, body: #"{"after":1}"#) == .stored(id: 4))
    }

    /// An id reserved before storing (a route's pure filters see the delivery ID first) is the
    /// one stored; one reserved and never stored (a duplicate) is a gap, never given twice.
    @Test func reservedIdsAreStoredAsReservedAndNeverGivenTwice() throws {
        let dir = try tempSpoolDir()
        let spool = try Spool(options: Spool.Options(dir: dir), logger: .disabled)
        defer { spool.close() }
        let a = spool.reserveID()
        let b = spool.reserveID()
        #expect(a == 1 && b == 2)
        #expect(store(spool, body: "{}") == .stored(id: 3))
        let done = DispatchSemaphore(value: 0)
        let result = Locked<Spool.AcceptResult?>(nil)
        spool.accept(id: b, source: "evo", msgID: "m", eventCode: "Payment", dedupHash: hash16("b"), dedupWindowMs: 60_000, routes: ["r"], body: Array(#"{"b":1}"#.utf8)) { r in
            result.withLock { $0 = r }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(result.withLock { $0 } == .stored(id: b))
        // Reserved from many threads at once: all distinct.
        let ids = Locked<Set<UInt64>>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            var mine: [UInt64] = []
            for _ in 0..<1000 { mine.append(spool.reserveID()) }
            ids.withLock { $0.formUnion(mine) }
        }
        #expect(ids.withLock { $0.count } == 8000)
        #expect(ids.withLock { $0.min() ?? 0 } == 4)
    }

    @Test func aSegmentDamagedInsideTheLogIsKeptAndNeverCompacted() throws {
        let dir = try tempSpoolDir()
        var opts = Spool.Options(dir: dir)
        opts.segmentBytes = 2048
        do {
            let spool = try Spool(options: opts, logger: .disabled)
            for i in 0..<30 { _ = store(spool, body: #"{"n":\#(i),"pad":"\#(String(repeating: "q", count: 300))"}"#) }
            spool.close()
        }
        let segments = segmentFiles(dir)
        #expect(segments.count > 3)
        // Flip a byte inside the second record of the first segment.
        let first = dir + "/segments/" + segments[0]
        var bytes = try #require(SpoolFiles.readFile(first))
        let firstLength = Int(bytes[16]) | Int(bytes[17]) << 8
        bytes[16 + 8 + firstLength + 20] ^= 0xFF
        try SpoolFiles.writeAtomically(first, bytes)
        let spool = try Spool(options: opts, logger: .disabled)
        defer { spool.close() }
        #expect(spool.report.damaged.count == 1)
        #expect(spool.report.damaged.first?.segment == segments[0] && spool.report.damaged.first?.kept == true)
        #expect(spool.recovered.contains { $0.record.id == 1 })  // before the damage: recovered
        // Every readable delivery ends; every segment but the damaged and the active one goes.
        for p in spool.recovered { spool.recordOutcome(id: p.record.id, route: p.route, outcome: .delivered, attempts: 1) }
        _ = store(spool, body: "{\"nudge\":1}", routes: [])
        #expect(eventually { segmentFiles(dir).count == 2 }, "segments: \(segmentFiles(dir))")
        #expect(segmentFiles(dir).contains(segments[0]))
    }

    @Test func versionOneSegmentsAreStillRead() throws {
        // A version-1 accepted record: no headers between the routes and the body.
        var p = ByteWriter()
        p.u8(SpoolRecord.acceptedType)
        p.u64(1)
        p.i64(1_795_312_800_000)
        p.str("evo")
        p.str("m1")
        p.str("Payment")
        p.bytes += [UInt8](repeating: 7, count: 16)
        p.i64(0)
        p.u16(1)
        p.str("ledger")
        p.data(Array("{}".utf8))
        var seg = SpoolFormat.header
        seg[8] = 1
        var framed = ByteWriter()
        framed.u32(UInt32(p.bytes.count))
        framed.u32(CRC32C.checksum(p.bytes))
        seg += framed.bytes + p.bytes
        let (records, damage, _) = decodeSegment(seg)
        #expect(damage == nil)
        guard case .accepted(let a) = records.first else {
            Issue.record("not decoded: \(records)")
            return
        }
        #expect(a.routes == ["ledger"] && a.headers.isEmpty && a.body == Array("{}".utf8))
        // The same bytes under a version-2 header do not decode: the version decides the layout.
        seg[8] = 2
        #expect(decodeSegment(seg).damage != nil)
    }

    @Test func duplicatesWithinTheWindowAreRecognisedAlsoAfterARestart() throws {
        let dir = try tempSpoolDir()
        let opts = Spool.Options(dir: dir)
        do {
            let spool = try Spool(options: opts, logger: .disabled)
            #expect(store(spool, body: "{\"a\":1}") == .stored(id: 1))
            #expect(store(spool, body: "{\"a\":1}") == .duplicate)
            #expect(store(spool, body: "{\"a\":1}", source: "other") == .stored(id: 2))
            #expect(store(spool, body: "{\"short\":1}", window: 150) == .stored(id: 3))
            spool.close()
        }
        let spool = try Spool(options: opts, logger: .disabled)
        defer { spool.close() }
        #expect(store(spool, body: "{\"a\":1}") == .duplicate)
        // Outside its window it is new again.
        usleep(200_000)
        #expect(store(spool, body: "{\"short\":1}", window: 150) == .stored(id: 4))
        // No window: never a duplicate.
        #expect(store(spool, body: "{\"a\":1}", window: 0) == .stored(id: 5))
    }

    @Test func concurrentDuplicatesWaitForTheOriginal() throws {
        let spool = try Spool(options: Spool.Options(dir: try tempSpoolDir()), logger: .disabled)
        defer { spool.close() }
        let results = Locked<[Spool.AcceptResult]>([])
        DispatchQueue.concurrentPerform(iterations: 20) { _ in
            let r = store(spool, body: "{\"same\":1}")
            results.withLock { $0.append(r) }
        }
        let all = results.withLock { $0 }
        #expect(all.filter { if case .stored = $0 { true } else { false } }.count == 1)
        #expect(all.filter { $0 == .duplicate }.count == 19)
    }

    @Test func oneGatewayPerSpoolAndPrivateModes() throws {
        let dir = try tempSpoolDir()
        chmod(dir, 0o755)
        let spool = try Spool(options: Spool.Options(dir: dir), logger: .disabled)
        defer { spool.close() }
        #expect(spool.report.tightenedDirectory)
        #expect(throws: SpoolError.self) { try Spool(options: Spool.Options(dir: dir), logger: .disabled) }
        _ = store(spool, body: "{}")
        var st = stat()
        stat(dir, &st)
        #expect(st.st_mode & 0o777 == 0o700)
        stat(dir + "/segments/" + (segmentFiles(dir).first ?? ""), &st)
        #expect(st.st_mode & 0o777 == 0o600)
    }

    @Test func maxBytesRefusesInsteadOfLosing() throws {
        var opts = Spool.Options(dir: try tempSpoolDir())
        opts.maxBytes = 2000
        let spool = try Spool(options: opts, logger: .disabled)
        defer { spool.close() }
        var refused = 0
        for i in 0..<20 {
            if case .failed(let why) = store(spool, body: #"{"n":\#(i),"pad":"\#(String(repeating: "z", count: 200))"}"#) {
                refused += 1
                #expect(why.contains("spool.maxBytes"))
            }
        }
        #expect(refused > 0 && refused < 20)
    }

    @Test func deadLetterFilesListReplayPurge() throws {
        let dir = try tempSpoolDir()
        let spool = try Spool(options: Spool.Options(dir: dir), logger: .disabled)
        spool.close()
        let dl = DeadLetterFiles(spoolDir: dir)
        for (i, route) in ["a", "a", "b"].enumerated() {
            try dl.write(DeadLetterEntry(id: "x-\(i)-\(route)", route: route, source: "evo", eventCode: "Payment", msgID: "m\(i)", attempts: 5, lastError: "HTTP 503", receivedMs: 1, deadMs: Int64(10 + i), headers: [KeptHeader("DateTime", "2026-11-22T10:00:0\(i)+08:00"), KeptHeader("SignType", "SHA256")], body: Array(#"{"eventCode":"Payment","i":\#(i)}"#.utf8)))
        }
        let all = dl.list()
        #expect(all.map(\.id) == ["x-0-a", "x-1-a", "x-2-b"])
        #expect(all[2].body == Array(#"{"eventCode":"Payment","i":2}"#.utf8))
        #expect(all[2].headers == [KeptHeader("DateTime", "2026-11-22T10:00:02+08:00"), KeptHeader("SignType", "SHA256")])
        #expect(DeadLetterEntry(json: all[2].json) == all[2])
        #expect(dl.list(route: "a").count == 2)
        #expect(dl.replay(route: "a") == 2)
        #expect(dl.list().map(\.id) == ["x-2-b"])
        #expect(dl.pendingReplays().map(\.entry.id) == ["x-0-a", "x-1-a"])
        #expect(dl.purge(deadBeforeMs: 5) == 0)
        #expect(dl.purge(id: "x-2-b") == 1)
        #expect(dl.list().isEmpty)
    }
}
