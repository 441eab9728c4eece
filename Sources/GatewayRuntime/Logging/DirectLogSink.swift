import GatewayCore
import Glibc

/// Writes each line at once (for short-lived commands such as `check` and `send`).
public struct DirectLogSink: LogSink {
    let fd: Int32
    public init(fd: Int32 = 2) { self.fd = fd }
    public func write(_ line: [UInt8]) {
        line.withUnsafeBytes { b in
            var off = 0
            while off < b.count, let base = b.baseAddress {
                let n = Glibc.write(fd, base + off, b.count - off)
                if n <= 0 { return }
                off += n
            }
        }
    }
}
