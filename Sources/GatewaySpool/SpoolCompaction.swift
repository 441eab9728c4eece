import Foundation
import GatewayCore
import Glibc
import Synchronization

/// Compaction: deleting segments whose notifications are all delivered, on a thread of its own so
/// that reading segments back and rewriting `dedup.idx` never delays an acknowledgement.
///
/// Order of a compaction, and why it is safe at any crash point:
/// 1. The de-duplication entries of the doomed segments (still in their window) are appended to
///    `dedup.idx` and synced. A crash here leaves them in both places: harmless.
/// 2. The next record id is saved in `NEXTID` (atomically: temp file, sync, rename), so the ids
///    of the doomed segments' records are never handed out again.
/// 3. The segments are unlinked and the directory synced. A segment that reappears after a crash
///    (the unlink was not durable) is simply recovered again: its outcome records say delivered,
///    or, if those were lost too, its deliveries are made again (at least once).
/// The outcome records need no sync of their own before the unlink: a deleted segment takes its
/// accepted records with it, so nothing is left to redeliver, and dead letters are written
/// durably before their outcome record is.
extension Spool {
    func compactorLoop() {
        while true {
            _ = compactorWake.wait(timeout: .now() + .seconds(1))
            if state.withLock({ $0.closing }) {
                compactorStopped.signal()
                return
            }
            compact(now: Spool.nowMs())
            state.withLock { $0.compactionPasses += 1 }
        }
    }

    /// One compaction pass (compactor thread only).
    func compact(now: Int64) {
        let (doomed, indexed) = state.withLock { s -> ([Doomed], Int) in
            let d = s.segments.filter { index, _ in
                index != s.activeSegment && !s.pinned.contains(index) && (s.unresolved[index] ?? 0) <= 0
            }
                .map { Doomed(index: $0.key, name: $0.value.name, bytes: $0.value.bytes, dedupExpiry: s.dedupExpiry[$0.key] ?? 0) }
                .sorted { $0.index < $1.index }
            return (d, s.dedup.count)
        }
        if !doomed.isEmpty { delete(doomed, now: now) }
        // Rewrite dedup.idx once most of it has expired: its size stays within about twice the
        // window's entries.
        let liveBytes = DedupJournalFormat.headerSize + indexed * DedupJournalFormat.entrySize
        if dedupJournal.size > 1 << 20 && dedupJournal.size > 2 * liveBytes {
            do {
                try dedupJournal.dropExpired(now: now)
            } catch {
                logger.error("cannot rewrite the de-duplication file", [("error", .string(error.message))])
            }
        }
    }

    struct Doomed {
        var index: Int
        var name: String
        var bytes: Int
        var dedupExpiry: Int64
    }

    private func delete(_ doomed: [Doomed], now: Int64) {
        var items: [DedupIndex.Item] = []
        var deletable: [Doomed] = []
        for d in doomed {
            if d.dedupExpiry <= now {
                deletable.append(d)  // no entry still in its window: nothing to read back
                continue
            }
            let path = segmentsDir + "/" + d.name
            var st = stat()
            if stat(path, &st) != 0 && errno == ENOENT {
                deletable.append(d)  // gone already: only forget it
                continue
            }
            guard let found = SpoolFiles.withMappedFile(path, { dedupItems(inSegment: $0) }) else {
                if unreadableSegments.insert(d.name).inserted {
                    logger.error("cannot read a delivered segment back; keeping it", [("segment", .string(d.name))])
                }
                continue
            }
            items += found.filter { $0.expiresMs > now }
            deletable.append(d)
        }
        guard !deletable.isEmpty else { return }
        do {
            try dedupJournal.append(items)
        } catch {
            logger.error("cannot save de-duplication entries; keeping delivered segments", [("error", .string(error.message))])
            return
        }
        // The next record id, saved before the records that held the highest ids go: ids (and
        // delivery IDs, which a downstream service may de-duplicate on) are never reused.
        do {
            try SpoolFiles.writeAtomically(Spool.nextIDPath(options.dir), Array(String(nextRecordID.load(ordering: .relaxed)).utf8))
        } catch {
            logger.error("cannot save the next record id; keeping delivered segments", [("error", .string(error.message))])
            return
        }
        for d in deletable {
            unlink(segmentsDir + "/" + d.name)
            state.withLock { s in
                s.segments[d.index] = nil
                s.unresolved[d.index] = nil
                s.dedupExpiry[d.index] = nil
                s.bytesOnDisk -= d.bytes
            }
        }
        try? SpoolFiles.syncDirectory(segmentsDir)
    }
}
