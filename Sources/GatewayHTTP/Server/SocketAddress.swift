import CSystem
import Glibc

/// An IPv4 or IPv6 address and port, for binding listeners and connecting clients.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var isIPv6: Bool

    public init(host: String, port: Int, isIPv6: Bool = false) {
        self.host = host
        self.port = port
        self.isIPv6 = isIPv6
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls `body` with this address as a `sockaddr`.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> R) throws(SystemError) -> R {
        if isIPv6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &a.sin6_addr) == 1 else { throw SystemError("inet_pton(\(host))", errno: EINVAL) }
            return try withUnsafePointer(to: &a) { p throws(SystemError) in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp throws(SystemError) in
                    try body(sp, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, host, &a.sin_addr) == 1 else { throw SystemError("inet_pton(\(host))", errno: EINVAL) }
            return try withUnsafePointer(to: &a) { p throws(SystemError) in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp throws(SystemError) in
                    try body(sp, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// The address a `sockaddr_storage` holds (peer or local address).
    static func from(_ storage: sockaddr_storage) -> SocketAddress {
        var s = storage
        switch Int32(s.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &s) { p in
                p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ap in
                    var addr = ap.pointee.sin_addr
                    var buf = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                    inet_ntop(AF_INET, &addr, &buf, socklen_t(buf.count))
                    return SocketAddress(host: cString(buf), port: Int(UInt16(bigEndian: ap.pointee.sin_port)))
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &s) { p in
                p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { ap in
                    var addr = ap.pointee.sin6_addr
                    var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                    inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count))
                    return SocketAddress(host: cString(buf), port: Int(UInt16(bigEndian: ap.pointee.sin6_port)), isIPv6: true)
                }
            }
        default:
            return SocketAddress(host: "unknown", port: 0)
        }
    }
}

/// A bound, listening, non-blocking TCP socket.
public final class ListeningSocket: Sendable {
    public let fd: Int32
    /// The address actually bound (the real port when 0 was asked for).
    public let address: SocketAddress

    public init(address: SocketAddress, backlog: Int32 = 4096) throws(SystemError) {
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if address.isIPv6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        do {
            try address.withSockAddr { sa, len throws(SystemError) in
                guard bind(fd, sa, len) == 0 else { throw SystemError("bind(\(address))") }
            }
            guard listen(fd, backlog) == 0 else { throw SystemError("listen(\(address))") }
        } catch let e as SystemError {
            _ = Glibc.close(fd)
            throw e
        } catch {
            _ = Glibc.close(fd)
            throw SystemError("bind", errno: EINVAL)
        }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &len) }
        }
        self.fd = fd
        self.address = SocketAddress.from(storage)
    }

    /// Stops accepting: closes the socket. Queued but unaccepted connections are reset.
    public func close() {
        _ = Glibc.close(fd)
    }
}

/// A Swift string from a NUL-terminated C buffer.
func cString(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
