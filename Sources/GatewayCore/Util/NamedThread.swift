import CSystem
import Foundation

/// Starts the gateway's long-lived threads under names the operating system shows.
///
/// Why: `Thread.name` set before `start()` stays inside Foundation on Linux; `top -H`, `ps -L`,
/// `perf` and `/proc/PID/task/*/comm` all showed every thread as "gateway", so an operator
/// could not tell a busy event loop from a busy route worker or the spool writer. The kernel
/// keeps 15 bytes of a name: longer ones are cut there.
public enum NamedThread {
    public static func start(_ name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
        let t = Thread {
            setCurrent(name)
            body()
        }
        t.name = name
        if let stackSize { t.stackSize = stackSize }
        t.start()
    }

    /// Names the calling thread (its first 15 bytes, cut on a character boundary).
    public static func setCurrent(_ name: String) {
        var cut = Substring(name)
        while cut.utf8.count > 15 { cut = cut.dropLast() }
        _ = gw_set_thread_name(String(cut))
    }

    /// The calling thread's name as the kernel has it.
    public static var current: String {
        var buf = [CChar](repeating: 0, count: 64)
        guard gw_get_thread_name(&buf, buf.count) == 0 else { return "" }
        let end = buf.firstIndex(of: 0) ?? buf.count
        return String(decoding: buf[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
