import Foundation
import GatewayCore

/// The event-loop threads: one per core by default, shared by every listener.
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]

    /// `batchSends`: see `EventLoop.init` (default: on unless `GATEWAY_IO_URING=off`).
    public init(count: Int, batchSends: Bool? = nil) throws(SystemError) {
        var loops: [EventLoop] = []
        for i in 0..<max(1, count) { loops.append(try EventLoop(index: i, batchSends: batchSends)) }
        self.loops = loops
    }

    /// Whether every loop sends its answers in batches through io_uring (see `SendBatch`).
    public var batchesSends: Bool { loops.allSatisfy { $0.sendBatch != nil } }

    /// Number of CPUs this process may run on.
    public static var defaultCount: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Starts one thread per loop. Signal masks are inherited from the calling thread.
    public func start() {
        for loop in loops {
            NamedThread.start("gw-loop-\(loop.index)", stackSize: 1 << 20) { loop.run() }
        }
    }

    public func stop() {
        for loop in loops { loop.stop() }
    }
}
