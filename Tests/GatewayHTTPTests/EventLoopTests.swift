import Foundation
import GatewayCore
import Synchronization
import Testing

@testable import GatewayHTTP

@Suite("Event loop")
struct EventLoopTests {
    @Test func timersMayScheduleTimersAndTasksRunInOrder() throws {
        let loop = try EventLoop(index: 0)
        loop.startThread(name: "test-loop")
        defer { loop.stop() }
        let seen = Locked<[String]>([])
        let done = DispatchSemaphore(value: 0)
        loop.scheduleTask(afterMs: 20) {
            seen.withLock { $0.append("first") }
            // A timer callback scheduling another timer (this once tripped exclusivity checking).
            loop.scheduleTask(afterMs: 10) {
                seen.withLock { $0.append("second") }
                done.signal()
            }
        }
        loop.execute { seen.withLock { $0.append("task") } }
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(seen.withLock { $0 } == ["task", "first", "second"])
    }
}
