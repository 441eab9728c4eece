import Glibc

/// A failed system call: the call's name and `errno`.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public init(_ call: String, errno: Int32 = Glibc.errno) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// Outcome of a non-blocking call.
enum IOResult<T> {
    case done(T)
    case wouldBlock
}

/// The one wrapper for syscalls that return -1 and set errno: retries `EINTR`, reports
/// `EAGAIN`/`EWOULDBLOCK` as `.wouldBlock`, throws everything else.
@inline(__always)
func syscall<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> IOResult<T> {
    while true {
        let r = body()
        if r >= 0 { return .done(r) }
        let e = errno
        if e == EINTR { continue }
        if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
        throw SystemError(name(), errno: e)
    }
}

/// Monotonic time in milliseconds, for deadlines (never goes back, unlike wall-clock time).
public func monotonicMillis() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}

/// Wall-clock seconds since the epoch.
public func wallClockSeconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec)
}

/// Milliseconds since the epoch (CLOCK_REALTIME).
public func wallClockMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Raises the open-files soft limit to the hard limit, so the gateway can hold as many
/// connections as the system lets it. Returns the new soft limit.
@discardableResult
public func raiseOpenFileLimit() -> Int {
    var lim = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return -1 }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
    }
    return Int(lim.rlim_cur)
}
