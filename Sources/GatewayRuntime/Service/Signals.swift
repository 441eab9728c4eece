import CSystem
import Glibc

/// Process signals the gateway handles. They are blocked in every thread (the mask is set
/// before any thread starts and inherited) and received synchronously by `wait()` on the main
/// thread, so no code runs in a signal handler.
public enum Signals {
    public static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Call first thing in `main`, before any thread is created.
    public static func blockHandled() {
        gw_ignore_sigpipe()
        _ = handled.withUnsafeBufferPointer { gw_block_signals($0.baseAddress, Int32($0.count)) }
    }

    /// Blocks until one of the handled signals arrives.
    public static func wait() -> Int32 {
        handled.withUnsafeBufferPointer { gw_sigwait($0.baseAddress, Int32($0.count)) }
    }
}
