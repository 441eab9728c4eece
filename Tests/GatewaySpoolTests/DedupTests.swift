import Foundation
import GatewayCore
import GatewayTestKit
import Glibc
import Testing

@testable import GatewaySpool

private func h(_ n: UInt64) -> DedupIndex.Hash { DedupIndex.Hash(a: n, b: ~n) }

@Suite("De-duplication index")
struct DedupIndexTests {
    @Test func unsyncedThenStoredThenExpired() {
        var d = DedupIndex()
        #expect(d.lookup(h(1), now: 0) == nil)
        d.insertUnsynced(h(1), expiresMs: 100, windowMs: 100)
        #expect(d.lookup(h(1), now: 10) == .unsynced)
        d.confirm(h(1))
        #expect(d.lookup(h(1), now: 99) == .stored)
        #expect(d.count == 1)
        #expect(d.lookup(h(1), now: 100) == nil)
        #expect(d.count == 0)
    }

    @Test func aFailedWriteIsForgotten() {
        var d = DedupIndex()
        d.insertUnsynced(h(1), expiresMs: 100, windowMs: 100)
        d.discard(h(1))
        #expect(d.lookup(h(1), now: 10) == nil)
        d.confirm(h(1))  // a late confirm of a discarded write stores nothing
        #expect(d.count == 0)
    }

    @Test func expiryFollowsEachWindowLength() {
        var d = DedupIndex()
        // Two sources with different windows, interleaved: the short one must not wait behind
        // the long one.
        for i in 0..<100 as Range<UInt64> {
            let long = h(1000 + i), short = h(2000 + i)
            d.insertUnsynced(long, expiresMs: Int64(i) + 10_000, windowMs: 10_000)
            d.insertUnsynced(short, expiresMs: Int64(i) + 50, windowMs: 50)
            d.confirm(long)
            d.confirm(short)
        }
        #expect(d.count == 200)
        _ = d.lookup(h(0), now: 100)  // shorts 0...50 have expired
        #expect(d.count == 200 - 51)
        #expect(d.lookup(h(2050), now: 100) == nil)
        #expect(d.lookup(h(2051), now: 100) == .stored)
        #expect(d.lookup(h(1000), now: 100) == .stored)
        _ = d.lookup(h(0), now: 10_099)
        #expect(d.count == 0)
    }

    @Test func restoreKeepsTheLatestExpiryAndDropsExpired() {
        var d = DedupIndex()
        d.restore(
            [
                .init(hash: h(1), expiresMs: 500), .init(hash: h(2), expiresMs: 50), .init(hash: h(1), expiresMs: 900),
                .init(hash: h(3), expiresMs: 300),
            ], now: 100)
        #expect(d.count == 2)
        #expect(d.lookup(h(2), now: 100) == nil)
        #expect(d.lookup(h(3), now: 299) == .stored)
        #expect(d.lookup(h(1), now: 600) == .stored)  // the later of its two expiries
        #expect(d.lookup(h(3), now: 600) == nil)
        #expect(d.lookup(h(1), now: 900) == nil)
        #expect(d.count == 0)
    }

    @Test func queueChunksAreReleasedAsTheyEmpty() {
        var q = ExpiryQueue()
        let n = ExpiryQueue.chunkSize * 3 + 7
        for i in 0..<n { q.append(.init(hash: h(UInt64(i)), expiresMs: Int64(i))) }
        for i in 0..<n {
            #expect(q.front?.expiresMs == Int64(i))
            q.removeFront()
        }
        #expect(q.front == nil)
        q.append(.init(hash: h(1), expiresMs: 1))
        #expect(q.front?.expiresMs == 1)
    }
}

@Suite("De-duplication file")
struct DedupJournalFormatTests {
    let items: [DedupIndex.Item] = (0..<5).map { DedupIndex.Item(hash: h(UInt64($0) * 77), expiresMs: 1_795_000_000_000 + Int64($0)) }

    @Test func roundTrip() throws {
        let file = DedupJournalFormat.header + DedupJournalFormat.encode(items)
        let d = try #require(DedupJournalFormat.decode(file))
        #expect(d.items == items)
        #expect(d.damaged == 0 && d.validLength == file.count && !d.isOldFormat)
    }

    @Test func tornTailAndDamagedEntries() throws {
        var file = DedupJournalFormat.header + DedupJournalFormat.encode(items)
        file.removeLast(5)
        let torn = try #require(DedupJournalFormat.decode(file))
        #expect(torn.items == Array(items.prefix(4)))
        #expect(torn.validLength == DedupJournalFormat.headerSize + 4 * DedupJournalFormat.entrySize)
        file[DedupJournalFormat.headerSize + DedupJournalFormat.entrySize + 3] ^= 0x40  // the second entry
        let damaged = try #require(DedupJournalFormat.decode(file))
        #expect(damaged.damaged == 1)
        #expect(damaged.items == [items[0], items[2], items[3]])
    }

    @Test func notADedupFile() {
        #expect(DedupJournalFormat.decode(Array("GWSPOOL\0\u{1}\0\0\0\0\0\0\0".utf8)) == nil)
        #expect(DedupJournalFormat.decode([]) == nil)
        var future = DedupJournalFormat.header
        future[8] = 9  // a newer version
        #expect(DedupJournalFormat.decode(future) == nil)
    }

    @Test func versionOneSnapshotsAreStillRead() throws {
        var w = ByteWriter()
        w.bytes += Array("GWDEDUP1".utf8)
        w.u32(UInt32(items.count))
        for item in items {
            w.bytes += item.hash.bytes
            w.i64(item.expiresMs)
        }
        let d = try #require(DedupJournalFormat.decode(w.bytes))
        #expect(d.items == items && d.isOldFormat)
    }

    @Test func segmentEntriesAreFoundWithoutDecodingBodies() {
        let a = AcceptedRecord(
            id: 1, receivedMs: 5, source: "evo", msgID: "m", eventCode: "Payment", dedupHash: items[1].hash.bytes,
            dedupExpiresMs: items[1].expiresMs, routes: ["r"], body: Array("{\"x\":1}".utf8))
        var b = a
        b.id = 2
        b.dedupHash = items[2].hash.bytes
        b.dedupExpiresMs = items[2].expiresMs
        let seg = SpoolFormat.header + SpoolRecord.accepted(a).encoded()
            + SpoolRecord.outcome(id: 1, route: "r", outcome: .delivered, attempts: 1).encoded() + SpoolRecord.accepted(b).encoded()
        #expect(seg.withUnsafeBytes { dedupItems(inSegment: $0) } == [items[1], items[2]])
        #expect(Array(seg.dropLast(3)).withUnsafeBytes { dedupItems(inSegment: $0) } == [items[1]])
    }
}

@Suite("De-duplication on disk", .serialized)
struct DedupDiskTests {
    @Test func entriesOfDeletedSegmentsSurviveARestart() throws {
        let dir = try tempSpoolDir()
        var opts = Spool.Options(dir: dir)
        opts.segmentBytes = 2048
        let bodies = (0..<30).map { #"{"n":\#($0),"pad":"\#(String(repeating: "z", count: 300))"}"# }
        do {
            let spool = try Spool(options: opts, logger: .disabled)
            for b in bodies { _ = store(spool, body: b) }
            for id in 1...30 { spool.recordOutcome(id: UInt64(id), route: "r", outcome: .delivered, attempts: 1) }
            _ = store(spool, body: "{\"roll\":1}", routes: [])
            #expect(eventually { segmentFiles(dir).count <= 2 }, "segments left: \(segmentFiles(dir))")
            spool.close()
        }
        // The entries now live in dedup.idx only (their segments are gone) ...
        let file = try #require(SpoolFiles.readFile(dir + "/dedup.idx"))
        let d = try #require(DedupJournalFormat.decode(file))
        #expect(d.items.count >= 25)
        var st = stat()
        stat(dir + "/dedup.idx", &st)
        #expect(st.st_mode & 0o777 == 0o600)
        // ... and every one is still a duplicate after a restart.
        let spool = try Spool(options: opts, logger: .disabled)
        defer { spool.close() }
        for b in bodies { #expect(store(spool, body: b) == .duplicate) }
        #expect(store(spool, body: "{\"new\":1}") == .stored(id: 32))
    }

    @Test func aTornDedupFileIsCutAndAppendingContinues() throws {
        let dir = try tempSpoolDir()
        _ = try SpoolFiles.privateDirectory(dir)
        let items = (0..<3).map { DedupIndex.Item(hash: h(UInt64($0) + 1), expiresMs: Spool.nowMs() + 60_000) }
        try SpoolFiles.writeAtomically(dir + "/dedup.idx", DedupJournalFormat.header + DedupJournalFormat.encode(items) + [1, 2, 3])
        let j = DedupJournal(path: dir + "/dedup.idx")
        let opened = try j.open(now: Spool.nowMs())
        #expect(opened.items == items)
        let more = DedupIndex.Item(hash: h(99), expiresMs: Spool.nowMs() + 60_000)
        try j.append([more])
        let bytes = try #require(SpoolFiles.readFile(dir + "/dedup.idx"))
        let d = try #require(DedupJournalFormat.decode(bytes))
        #expect(d.items == items + [more])
        #expect(d.damaged == 0)
    }

    @Test func anUnreadableDedupFileIsSetAside() throws {
        let dir = try tempSpoolDir()
        _ = try SpoolFiles.privateDirectory(dir)
        try SpoolFiles.writeAtomically(dir + "/dedup.idx", Array("garbage, not a dedup file".utf8))
        let spool = try Spool(options: Spool.Options(dir: dir), logger: .disabled)
        defer { spool.close() }
        #expect(FileManager.default.fileExists(atPath: dir + "/dedup.idx.unreadable"))
        #expect(store(spool, body: "{}") == .stored(id: 1))
    }
}
