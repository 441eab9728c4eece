import Foundation
import GatewayCore

/// The event-loop threads: one per core by default, shared by every listener.
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]

    public init(count: Int) throws(SystemError) {
        var loops: [EventLoop] = []
        for i in 0..<max(1, count) { loops.append(try EventLoop(index: i)) }
        self.loops = loops
    }

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
