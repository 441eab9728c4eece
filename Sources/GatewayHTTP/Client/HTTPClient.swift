import CSystem
import GatewayCore
import GatewayCrypto
import Glibc

/// An answer read by `HTTPClientConnection`.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A blocking HTTP/1.1 client connection with deadlines, for `gateway send`, the test kit and
/// (through the host services) outbound deliveries; over TLS when given a `TLSClientContext`
/// (certificates verified unless the context says otherwise).
///
/// Used by one thread at a time; a connection pool hands it from one user to the next (hence
/// the unchecked `Sendable`).
public final class HTTPClientConnection: @unchecked Sendable {
    public let fd: Int32
    private var buffer: [UInt8] = []
    /// Start of the unread bytes in `buffer` (consumed bytes are dropped in batches, not one
    /// line at a time).
    private var start = 0
    private let timeoutMs: Int
    /// Reused for every read (allocated once per connection, not per read).
    private var chunk = [UInt8](repeating: 0, count: 16 << 10)
    /// A request went out on the plain socket and nothing was read since: the next read waits
    /// for readiness first. The answer is rarely there yet, so reading at once returned EAGAIN
    /// and cost one system call more per exchange (three instead of two).
    private var sentSinceRead = false
    private var tls: TLSSession?
    /// A plain connection is switched to blocking mode, with the deadline as the socket's send
    /// and receive timeouts, before its first request: a blocking `recv` waits for the answer
    /// in one system call where `poll` then `recv` took two (an outbound delivery is a `send`
    /// and a `recv`). TLS connections stay non-blocking (OpenSSL's calls wait through `poll`).
    private var blocking = false

    /// Connects to `host:port` (names resolved with getaddrinfo) within `timeoutMs`, then, with
    /// `tls`, completes a TLS handshake (SNI and certificate checked against `host`).
    public convenience init(host: String, port: Int, timeoutMs: Int = 10_000, tls: TLSClientContext?) throws(HTTPClientError) {
        try self.init(host: host, port: port, timeoutMs: timeoutMs)
        guard let tls else { return }
        let session: TLSSession
        do {
            session = try tls.connect(fd: fd, host: host)
        } catch {
            throw HTTPClientError("TLS setup failed: \(error)")
        }
        while true {
            let r = session.handshake()
            if case .bytes = r {
                self.tls = session
                return
            }
            try waitAfterTLS(r, timedOut: "TLS handshake timed out", failed: "TLS handshake failed")
        }
    }

    /// The negotiated TLS version (nil for plain HTTP).
    public var tlsVersion: String? { tls?.version }
    /// The subject of the server's certificate (nil for plain HTTP).
    public var tlsPeerSubject: String? { tls?.peerSubject }

    /// Connects to `host:port` (names resolved with getaddrinfo) within `timeoutMs`.
    public init(host: String, port: Int, timeoutMs: Int = 10_000) throws(HTTPClientError) {
        self.timeoutMs = timeoutMs
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            throw HTTPClientError("cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(res) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            let fd = socket(a.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd >= 0 {
                _ = gw_set_nonblocking(fd)
                let r = connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen)
                if r == 0 || errno == EINPROGRESS {
                    if HTTPClientConnection.wait(fd: fd, events: Int16(POLLOUT), timeoutMs: timeoutMs) {
                        var err: Int32 = 0
                        var len = socklen_t(MemoryLayout<Int32>.size)
                        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                        if err == 0 {
                            var one: Int32 = 1
                            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                            self.fd = fd
                            return
                        }
                        lastError = String(cString: strerror(err))
                    } else {
                        lastError = "connect timed out"
                    }
                } else {
                    lastError = String(cString: strerror(errno))
                }
                Glibc.close(fd)
            }
            ai = a.pointee.ai_next
        }
        throw HTTPClientError("cannot connect to \(host):\(port): \(lastError)")
    }

    deinit {
        tls?.shutdown()
        tls = nil
        Glibc.close(fd)
    }

    static func wait(fd: Int32, events: Int16, timeoutMs: Int) -> Bool {
        var p = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let r = poll(&p, 1, Int32(timeoutMs))
            if r < 0 && errno == EINTR { continue }
            return r > 0
        }
    }

    /// See `blocking`.
    private func makeBlocking() {
        blocking = true
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else { return blocking = false }
        var t = timeval(tv_sec: timeoutMs / 1000, tv_usec: Int((timeoutMs % 1000) * 1000))
        if t.tv_sec == 0 && t.tv_usec == 0 { t.tv_usec = 1000 }  // 0 would mean "no timeout"
        let size = socklen_t(MemoryLayout<timeval>.size)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, size) == 0, setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, size) == 0 else {
            // Without the timeouts a blocking socket could wait forever: back to poll.
            _ = fcntl(fd, F_SETFL, flags)
            return blocking = false
        }
    }

    /// Writes all of `bytes` within the deadline.
    public func write(_ bytes: [UInt8]) throws(HTTPClientError) {
        if let tls { return try tlsWrite(tls, bytes) }
        if !blocking { makeBlocking() }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { b -> Int in
                guard let base = b.baseAddress else { return 0 }
                return send(fd, base + off, b.count - off, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                off += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EAGAIN {
                // Blocking: the send timeout passed.
                guard !blocking, HTTPClientConnection.wait(fd: fd, events: Int16(POLLOUT), timeoutMs: timeoutMs) else {
                    throw HTTPClientError("write timed out")
                }
            } else {
                throw HTTPClientError("write failed: \(String(cString: strerror(errno)))")
            }
        }
        sentSinceRead = true
    }

    /// After a TLS call that did not complete: waits (within the deadline) for the readiness
    /// OpenSSL asked for, or throws for a closed or failed session.
    private func waitAfterTLS(_ r: TLS.IOResult, timedOut: String, failed: String) throws(HTTPClientError) {
        switch r {
        case .bytes: return
        case .wantRead:
            guard Self.wait(fd: fd, events: Int16(POLLIN), timeoutMs: timeoutMs) else { throw HTTPClientError(timedOut) }
        case .wantWrite:
            guard Self.wait(fd: fd, events: Int16(POLLOUT), timeoutMs: timeoutMs) else { throw HTTPClientError(timedOut) }
        case .closed: throw HTTPClientError("\(failed): connection closed")
        case .failed(let why): throw HTTPClientError("\(failed): \(why)")
        }
    }

    private func tlsWrite(_ tls: TLSSession, _ bytes: [UInt8]) throws(HTTPClientError) {
        var off = 0
        while off < bytes.count {
            let r = bytes.withUnsafeBytes { b in tls.write(UnsafeRawBufferPointer(rebasing: b[off...])) }
            if case .bytes(let n) = r { off += n } else { try waitAfterTLS(r, timedOut: "write timed out", failed: "write failed") }
        }
    }

    /// Reads more bytes into the buffer; returns false at end of stream.
    private func fill() throws(HTTPClientError) -> Bool {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 4096 {
            buffer.removeFirst(start)
            start = 0
        }
        if let tls {
            while true {
                let r = chunk.withUnsafeMutableBytes { tls.read(into: $0) }
                switch r {
                case .bytes(let n):
                    chunk.withUnsafeBufferPointer { buffer.append(contentsOf: UnsafeBufferPointer(rebasing: $0[0..<n])) }
                    return true
                case .closed: return false
                default: try waitAfterTLS(r, timedOut: "timed out waiting for the answer", failed: "read failed")
                }
            }
        }
        if sentSinceRead && !blocking {
            sentSinceRead = false
            guard HTTPClientConnection.wait(fd: fd, events: Int16(POLLIN), timeoutMs: timeoutMs) else {
                throw HTTPClientError("timed out waiting for the answer")
            }
        }
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                chunk.withUnsafeBufferPointer { buffer.append(contentsOf: UnsafeBufferPointer(rebasing: $0[0..<n])) }
                return true
            }
            if n == 0 { return false }
            if errno == EINTR { continue }
            if errno == EAGAIN {
                // Blocking: the receive timeout passed.
                guard !blocking, HTTPClientConnection.wait(fd: fd, events: Int16(POLLIN), timeoutMs: timeoutMs) else {
                    throw HTTPClientError("timed out waiting for the answer")
                }
                continue
            }
            throw HTTPClientError("read failed: \(String(cString: strerror(errno)))")
        }
    }

    /// True when the peer has closed the connection (or reset it) and nothing is buffered.
    public func peerClosed(waitMs: Int) -> Bool {
        guard start == buffer.count else { return false }
        guard HTTPClientConnection.wait(fd: fd, events: Int16(POLLIN), timeoutMs: waitMs) else { return false }
        var b: UInt8 = 0
        let n = recv(fd, &b, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN)
    }

    /// The next line's bytes in `buffer` (without its CR LF, or a bare LF), reading more as
    /// needed; the range is valid until the next read.
    private func nextLine() throws(HTTPClientError) -> Range<Int> {
        var scanned = start
        while true {
            let lf = buffer.withUnsafeBufferPointer { b -> Int? in
                guard scanned < b.count, let base = b.baseAddress, let p = memchr(base + scanned, 0x0A, b.count - scanned) else { return nil }
                return base.distance(to: p.assumingMemoryBound(to: UInt8.self))
            }
            if let lf {
                let end = lf > start && buffer[lf - 1] == 0x0D ? lf - 1 : lf
                let line = start..<end
                start = lf + 1
                return line
            }
            scanned = buffer.count
            if buffer.count - start > 1 << 20 { throw HTTPClientError("answer header line too long") }
            let before = start
            guard try fill() else { throw HTTPClientError("connection closed before a complete answer") }
            scanned -= before - start  // fill() may have dropped consumed bytes
        }
    }

    private func readLine() throws(HTTPClientError) -> String {
        let r = try nextLine()
        return buffer.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[r]), as: UTF8.self) }
    }

    /// The status of a status line (`HTTP/1.x <status> ...`), or nil when it is not one.
    static func status(ofLine l: UnsafeBufferPointer<UInt8>) -> Int? {
        guard l.count >= 8, l.starts(with: "HTTP/1.".utf8) else { return nil }
        var i = 0
        while i < l.count && l[i] != 0x20 { i += 1 }
        while i < l.count && l[i] == 0x20 { i += 1 }
        var status = 0
        var digits = 0
        while i < l.count && l[i] != 0x20 {
            guard l[i] &- 0x30 < 10, digits < 9 else { return nil }
            status = status * 10 + Int(l[i] &- 0x30)
            digits += 1
            i += 1
        }
        return digits > 0 ? status : nil
    }

    /// Adds a `name: value` answer line to `headers` (the value without the spaces and tabs
    /// around it); false when the line has no colon.
    static func addField(_ l: UnsafeBufferPointer<UInt8>, to headers: inout HTTPHeaders) -> Bool {
        guard let colon = l.firstIndex(of: UInt8(ascii: ":")) else { return false }
        headers.add(
            String(decoding: UnsafeBufferPointer(rebasing: l[0..<colon]), as: UTF8.self),
            String(decoding: UnsafeBufferPointer(rebasing: l[HTTPHeaders.trimmingSpacesAndTabs(l, (colon + 1)..<l.count)]), as: UTF8.self))
        return true
    }

    /// Reads exactly `n` raw bytes (for tests of interim answers and framing).
    public func readExactly(_ n: Int) throws(HTTPClientError) -> [UInt8] {
        while buffer.count - start < n {
            guard try fill() else { throw HTTPClientError("connection closed in the middle of the answer body") }
        }
        let out = Array(buffer[start..<(start + n)])
        start += n
        return out
    }

    /// Reads one answer (skipping 1xx interim answers). `headRequest` answers have no body.
    public func readResponse(headRequest: Bool = false, maxBody: Int = 64 << 20) throws(HTTPClientError) -> HTTPClientResponse {
        while true {
            // The head is read as bytes: each line's String, split and trimmed as Characters,
            // cost more than the rest of a forwarded delivery's user-space work.
            let statusLine = try nextLine()
            guard let status = buffer.withUnsafeBufferPointer({ Self.status(ofLine: UnsafeBufferPointer(rebasing: $0[statusLine])) }) else {
                throw HTTPClientError("malformed status line")
            }
            var headers = HTTPHeaders(capacity: 8)
            while true {
                let line = try nextLine()
                if line.isEmpty { break }
                guard buffer.withUnsafeBufferPointer({ Self.addField(UnsafeBufferPointer(rebasing: $0[line]), to: &headers) }) else {
                    throw HTTPClientError("malformed header line")
                }
            }
            if status >= 100 && status < 200 { continue }
            var body: [UInt8] = []
            if headRequest || status == 204 || status == 304 {
                // no body
            } else if headers.hasToken("Transfer-Encoding", "chunked") {
                while true {
                    let sizeLine = try readLine()
                    let hex = sizeLine.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
                    guard let size = Int(hex.trimmingCharacters(), radix: 16), size >= 0 else {
                        throw HTTPClientError("malformed chunk size")
                    }
                    if size == 0 {
                        while try !readLine().isEmpty {}
                        break
                    }
                    if body.count + size > maxBody { throw HTTPClientError("answer body too large") }
                    body += try readExactly(size)
                    _ = try readLine()
                }
            } else if let cl = headers["Content-Length"] {
                guard let n = Int(cl), n >= 0, n <= maxBody else { throw HTTPClientError("bad Content-Length in answer") }
                body = try readExactly(n)
            } else {
                while try fill() { if buffer.count - start > maxBody { throw HTTPClientError("answer body too large") } }
                body = Array(buffer[start...])
                buffer = []
                start = 0
            }
            return HTTPClientResponse(status: status, headers: headers, body: body)
        }
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        Substring(self).trimmingASCIISpaces()
    }
}

/// One-shot requests, and how a request is written.
public enum HTTPClient {
    /// Sends one request and reads its answer, on a new connection.
    public static func send(
        url: URLParts, method: String = "POST", headers: [(String, String)], body: [UInt8], timeoutMs: Int = 10_000
    ) throws(HTTPClientError) -> HTTPClientResponse {
        guard url.scheme == "http" else { throw HTTPClientError("https:// is not supported by this client yet") }
        let conn = try HTTPClientConnection(host: url.host, port: url.port, timeoutMs: timeoutMs)
        try conn.write(request(method: method, lineTail: requestLineTail(url), headers: headers + [("Connection", "close")], body: body))
        return try conn.readResponse(headRequest: method == "HEAD")
    }

    /// `" <target> HTTP/1.1\r\nHost: <host>\r\n"`: the request line after its method, with
    /// the `Host` header (a pooled client keeps it per destination).
    public static func requestLineTail(_ url: URLParts) -> [UInt8] {
        Array(" \(url.target) HTTP/1.1\r\nHost: \(url.hostHeader)\r\n".utf8)
    }

    /// The request bytes: head and body, in one buffer sized up front.
    public static func request(method: String, lineTail: [UInt8], headers: [(String, String)], body: [UInt8]) -> [UInt8] {
        var size = method.utf8.count + lineTail.count + body.count + 40
        for (n, v) in headers { size += n.utf8.count + v.utf8.count + 4 }
        var out: [UInt8] = []
        out.reserveCapacity(size)
        out.append(contentsOf: method.utf8)
        out.append(contentsOf: lineTail)
        for (n, v) in headers {
            out.append(contentsOf: n.utf8)
            out.append(UInt8(ascii: ":"))
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: v.utf8)
            out.append(0x0D)
            out.append(0x0A)
        }
        out.append(contentsOf: "Content-Length: ".utf8)
        out.append(contentsOf: String(body.count).utf8)
        out.append(contentsOf: "\r\n\r\n".utf8)
        out.append(contentsOf: body)
        return out
    }

    /// Whether a header can be sent as it is: the name a token, the value without CR, LF or
    /// another control byte (tab aside), which could end the head early or start a request.
    public static func isValidHeader(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Bool {
        !name.isEmpty && name.allSatisfy(ASCII.isTokenChar) && !value.contains(where: ASCII.isControlInFieldValue)
    }
}
