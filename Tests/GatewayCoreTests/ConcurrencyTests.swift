import Foundation
import Synchronization
import Testing

@testable import GatewayCore

/// The per-thread and read-mostly helpers the request path reads shared state through.
@Suite("Per-thread values and read-mostly references", .serialized)
struct ConcurrencyTests {
    final class Tracked: @unchecked Sendable {
        static let alive = Atomic<Int>(0)
        let serial: Int
        init(_ serial: Int) {
            self.serial = serial
            Tracked.alive.add(1, ordering: .relaxed)
        }
        deinit { Tracked.alive.subtract(1, ordering: .relaxed) }
    }

    /// Runs `body` on a new thread and waits for it (and for the thread to end).
    func onThread(_ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            body()
            done.signal()
        }
        t.start()
        #expect(done.wait(timeout: .now() + 10) == .success)
        // The key's destructor runs as the thread exits, after `body`.
        let deadline = Date().addingTimeInterval(10)
        while !t.isFinished && Date() < deadline { usleep(1000) }
        #expect(t.isFinished)
    }

    @Test func eachThreadHasItsOwnValueUntilItEnds() {
        let made = Atomic<Int>(0)
        let values = PerThread { Tracked(made.add(1, ordering: .relaxed).newValue) }
        let mine = values.current
        #expect(values.current === mine, "the same thread gets the same value")
        let before = Tracked.alive.load(ordering: .relaxed)
        let other = Locked<Int?>(nil)
        onThread {
            let v = values.current
            other.withLock { $0 = v.serial }
            #expect(values.current === v)
        }
        #expect(other.withLock { $0 } != nil)
        #expect(other.withLock { $0 } != mine.serial, "another thread gets another value")
        #expect(made.load(ordering: .relaxed) == 2)
        // The other thread's value was released when it ended; this thread's is still held.
        let deadline = Date().addingTimeInterval(10)
        while Tracked.alive.load(ordering: .relaxed) > before && Date() < deadline { usleep(1000) }
        #expect(Tracked.alive.load(ordering: .relaxed) == before)
        #expect(values.current === mine)
    }

    final class Other: @unchecked Sendable {
        let tag = "other"
    }

    final class Numbered: @unchecked Sendable {
        let serial: Int
        init(_ serial: Int) { self.serial = serial }
    }

    /// More instances than the process has pthread keys (1024): the ones without a key make a
    /// fresh value per use, and no instance ever gets another's value.
    @Test func runningOutOfThreadKeysIsSlowerNotWrong() {
        let made = Atomic<Int>(0)
        var numberedOnes: [PerThread<Numbered>] = []
        var otherOnes: [PerThread<Other>] = []
        for _ in 0..<700 {
            numberedOnes.append(PerThread { Numbered(made.add(1, ordering: .relaxed).newValue) })
            otherOnes.append(PerThread { Other() })
        }
        var kept = 0
        for p in numberedOnes {
            let a = p.current
            let b = p.current
            #expect(type(of: a) == Numbered.self)
            if a === b { kept += 1 }
        }
        for p in otherOnes { #expect(p.current.tag == "other") }
        // Some instances got keys (they keep their value), the rest could not.
        #expect(kept > 0)
        #expect(kept < numberedOnes.count)
        // A read-mostly reference made now, with no key left, still reads what was installed.
        let shared = ReadMostly(Box(1))
        shared.update { $0 = Box(2) }
        #expect(shared.value.n == 2)
    }

    final class Box: Sendable {
        let n: Int
        init(_ n: Int) { self.n = n }
    }

    @Test func aReaderSeesAnUpdateOnItsNextRead() {
        let shared = ReadMostly(Box(1))
        #expect(shared.value.n == 1)
        #expect(shared.value.n == 1, "cached read")
        shared.update { $0 = Box(2) }
        #expect(shared.value.n == 2, "this thread's cached reference is replaced")
        // Another thread that cached the old one sees the new one too.
        let seen = Locked<[Int]>([])
        let step = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        Thread {
            seen.withLock { $0.append(shared.value.n) }
            step.signal()
            _ = go.wait(timeout: .now() + 10)
            seen.withLock { $0.append(shared.value.n) }
            done.signal()
        }.start()
        #expect(step.wait(timeout: .now() + 10) == .success)
        let returned = shared.update { b -> Int in
            b = Box(3)
            return 42
        }
        #expect(returned == 42)
        go.signal()
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(seen.withLock { $0 } == [2, 3])
    }

    /// Readers on several threads while a writer replaces the value: every read returns a value
    /// that was installed, and once the writer is done every reader sees the last one.
    @Test func concurrentReadersNeverSeeAnythingButInstalledValues() {
        let shared = ReadMostly(Box(0))
        let last = 2000
        let bad = Atomic<Int>(0)
        let readersDone = DispatchSemaphore(value: 0)
        let writerDone = Atomic<Bool>(false)
        for _ in 0..<3 {
            Thread {
                var previous = 0
                var reads = 0
                // Bounded: until the writer is done and the last value is seen, at most 10 s.
                let deadline = Date().addingTimeInterval(10)
                while Date() < deadline {
                    let n = shared.value.n
                    reads += 1
                    if n < previous || n > last { bad.add(1, ordering: .relaxed) }
                    previous = n
                    if writerDone.load(ordering: .acquiring) && n == last { break }
                }
                if previous != last { bad.add(1, ordering: .relaxed) }
                readersDone.signal()
            }.start()
        }
        for i in 1...last { shared.update { $0 = Box(i) } }
        writerDone.store(true, ordering: .releasing)
        for _ in 0..<3 { #expect(readersDone.wait(timeout: .now() + 15) == .success) }
        #expect(bad.load(ordering: .relaxed) == 0)
    }
}
