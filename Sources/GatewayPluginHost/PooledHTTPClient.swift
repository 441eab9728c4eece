import CGatewayPluginABI
import Foundation
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import Glibc

/// Outbound HTTP for plugins: keep-alive connections pooled per host:port, a deadline per
/// request, and `Retry-After` read from the answer.
///
/// Each delivery worker thread keeps its own idle connections (thread-specific data), so taking
/// and returning a connection needs no lock: with a shared pool, eight workers on two cores
/// spent a tenth of their time waiting for the pool's lock.
final class PooledHTTPClient: Sendable {
    struct Result {
        var status: Int
        var retryAfterMs: UInt32
        /// Static text: it is handed to plugins as borrowed bytes.
        var error: StaticString
    }

    private static let maxIdlePerHost = 8

    /// Idle connections to one host:port (with one set of trust settings), on one thread.
    final class Pool {
        var idle: [(conn: HTTPClientConnection, since: UInt64)] = []
    }

    /// One thread's destinations (most recently added last) and its pools by key.
    final class ThreadCache {
        var destinations: [Destination] = []
        var pools: [String: Pool] = [:]
    }

    /// What a URL (with its trust settings) turns into, worked out once per thread: parsing
    /// the URL, the pool key and the `Host` header are Character-level String work that cost
    /// several microseconds on every delivery, and a route sends to the same URL every time.
    /// Found again by comparing the plugin's bytes (no String made, nothing hashed).
    final class Destination {
        let url: [UInt8]
        let caFileBytes: [UInt8]
        let verify: Bool
        let parts: URLParts
        let caFile: String?
        /// `" <target> HTTP/1.1\r\nHost: <host>\r\n"`, the request line after its method.
        let requestLineTail: [UInt8]
        /// Shared by every destination of this thread with the same host, port and trust.
        let pool: Pool

        init?(url: UnsafeBufferPointer<UInt8>, caFile: UnsafeBufferPointer<UInt8>, verify: Bool, pools: inout [String: Pool]) {
            guard let u = URLParts(String(decoding: url, as: UTF8.self)) else { return nil }
            self.url = Array(url)
            caFileBytes = Array(caFile)
            self.verify = verify
            parts = u
            let ca = String(decoding: caFile, as: UTF8.self)
            self.caFile = ca.isEmpty ? nil : ca
            let key = u.scheme == "https" ? "https|\(verify)|\(ca)|\(u.host):\(u.port)" : "\(u.host):\(u.port)"
            if let p = pools[key] {
                pool = p
            } else {
                pool = Pool()
                pools[key] = pool
            }
            requestLineTail = HTTPClient.requestLineTail(u)
        }

        func matches(url u: UnsafeBufferPointer<UInt8>, caFile c: UnsafeBufferPointer<UInt8>, verify v: Bool) -> Bool {
            v == verify && ByteSearch.equal(url, u) && ByteSearch.equal(caFileBytes, c)
        }
    }

    /// At most this many destinations are remembered per thread (then the memory starts over).
    private static let maxDestinations = 64

    private func destination(url: UnsafeBufferPointer<UInt8>, caFile: UnsafeBufferPointer<UInt8>, verify: Bool) -> Destination? {
        let c = cache
        for d in c.destinations.reversed() where d.matches(url: url, caFile: caFile, verify: verify) { return d }
        if c.destinations.count >= Self.maxDestinations {
            c.destinations.removeAll()
            c.pools.removeAll()
        }
        guard let d = Destination(url: url, caFile: caFile, verify: verify, pools: &c.pools) else { return nil }
        c.destinations.append(d)
        return d
    }

    /// Each thread's cache, released (closing its connections) when the thread exits.
    private static let caches = PerThread { ThreadCache() }

    private var cache: ThreadCache { Self.caches.current }

    /// TLS client contexts by trust settings: loading a CA bundle is expensive, so once each.
    private static let tlsContexts = Locked<[String: TLSClientContext]>([:])

    static func tlsContext(caFile: String?, verify: Bool) -> TLSClientContext? {
        let key = "\(verify)|\(caFile ?? "")"
        return tlsContexts.withLock { cache in
            if let c = cache[key] { return c }
            guard let c = try? TLSClientContext(caFile: caFile, verify: verify) else { return nil }
            cache[key] = c
            return c
        }
    }

    /// `send` with Swift values (for tests and Swift callers): the same path.
    func send(
        method: String, url: String, headers: [(String, String)], body: [UInt8], timeoutMs: Int, caFile: String? = nil,
        verify: Bool = true
    ) -> Result {
        // Every string in one buffer, so the request borrows stable pointers (as a plugin's does).
        var arena: [UInt8] = []
        var ranges: [Range<Int>] = []
        for s in [method, url, caFile ?? ""] + headers.flatMap({ [$0.0, $0.1] }) {
            ranges.append(arena.count..<(arena.count + s.utf8.count))
            arena.append(contentsOf: s.utf8)
        }
        return arena.withUnsafeBufferPointer { a in
            func part(_ i: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: a[ranges[i]]) }
            let fields = headers.indices.map { i in
                gw_header(name: gw_bytes(ptr: part(3 + 2 * i).baseAddress, len: ranges[3 + 2 * i].count),
                          value: gw_bytes(ptr: part(4 + 2 * i).baseAddress, len: ranges[4 + 2 * i].count))
            }
            return fields.withUnsafeBufferPointer { hs in
                body.withUnsafeBytes { b in
                    send(method: part(0), url: part(1), headers: hs, body: b, timeoutMs: timeoutMs, caFile: part(2), verify: verify)
                }
            }
        }
    }

    /// Sends one request as a plugin passed it, borrowed: the request's bytes are written straight
    /// from the plugin's (no String per header, no copy of the body before the request's own).
    func send(
        method: UnsafeBufferPointer<UInt8>, url: UnsafeBufferPointer<UInt8>, headers: UnsafeBufferPointer<gw_header>,
        body: UnsafeRawBufferPointer, timeoutMs: Int, caFile: UnsafeBufferPointer<UInt8>, verify: Bool
    ) -> Result {
        guard let d = destination(url: url, caFile: caFile, verify: verify) else { return Result(status: 0, retryAfterMs: 0, error: "invalid URL") }
        // Whatever a plugin passes, the head cannot end early or start another request: the
        // method and the names are tokens, values carry no CR, LF or other control byte (tab aside).
        guard !method.isEmpty, method.allSatisfy(ASCII.isTokenChar) else {
            return Result(status: 0, retryAfterMs: 0, error: "invalid method (not a token)")
        }
        var size = method.count + d.requestLineTail.count + body.count + 40
        for h in headers {
            guard HTTPClient.isValidHeader(name: h.name.bytes, value: h.value.bytes) else {
                return Result(status: 0, retryAfterMs: 0, error: "invalid header (a name that is not a token, or a control character in a value)")
            }
            size += h.name.len + h.value.len + 4
        }
        let u = d.parts
        var tls: TLSClientContext? = nil
        if u.scheme == "https" {
            guard let c = Self.tlsContext(caFile: d.caFile, verify: verify) else {
                return Result(status: 0, retryAfterMs: 0, error: "cannot load the TLS trust settings (caFile)")
            }
            tls = c
        }
        var request: [UInt8] = []
        request.reserveCapacity(size)
        request.append(contentsOf: method)
        request.append(contentsOf: d.requestLineTail)
        for h in headers {
            request.append(contentsOf: h.name.bytes)
            request.append(UInt8(ascii: ":"))
            request.append(UInt8(ascii: " "))
            request.append(contentsOf: h.value.bytes)
            request.append(0x0D)
            request.append(0x0A)
        }
        request.append(contentsOf: "Content-Length: ".utf8)
        appendDecimal(body.count, to: &request)
        request.append(contentsOf: "\r\n\r\n".utf8)
        request.append(contentsOf: body)
        // A pooled connection may have been closed by the server meanwhile; then one fresh try.
        for attempt in 0..<2 {
            let reused = attempt == 0 ? take(d.pool) : nil
            let conn: HTTPClientConnection
            if let reused {
                conn = reused
            } else {
                do {
                    conn = try HTTPClientConnection(host: u.host, port: u.port, timeoutMs: timeoutMs, tls: tls)
                } catch {
                    let m = error.message
                    let why: StaticString =
                        m.contains("certificate verification failed") ? "TLS certificate verification failed"
                        : m.contains("TLS") ? "TLS handshake failed" : m.contains("timed out") ? "connect timed out" : "cannot connect"
                    return Result(status: 0, retryAfterMs: 0, error: why)
                }
            }
            do {
                try conn.write(request)
                let answer = try conn.readResponse(maxBody: 1 << 20)
                if !answer.headers.hasToken("Connection", "close") { put(d.pool, conn) }
                return Result(status: answer.status, retryAfterMs: Self.retryAfter(answer.headers["Retry-After"]), error: "")
            } catch {
                if reused != nil && !error.message.contains("timed out") { continue }
                return Result(status: 0, retryAfterMs: 0, error: error.message.contains("timed out") ? "timed out" : "connection failed")
            }
        }
        return Result(status: 0, retryAfterMs: 0, error: "connection failed")
    }

    private func take(_ pool: Pool) -> HTTPClientConnection? {
        let now = monotonicMillis()
        while let (conn, since) = pool.idle.popLast() {
            // A connection idle for a while may have been closed by the server: look (one poll)
            // before using it. A fresh one is used as is; if the server closed it anyway, the
            // request is retried once on a new connection.
            if now - since < 1000 || !conn.peerClosed(waitMs: 0) { return conn }
        }
        return nil
    }

    private func put(_ pool: Pool, _ conn: HTTPClientConnection) {
        if pool.idle.count < Self.maxIdlePerHost { pool.idle.append((conn, monotonicMillis())) }
    }

    /// `Retry-After: <seconds>` or an HTTP date, as milliseconds from now (at most a day).
    static func retryAfter(_ value: String?) -> UInt32 {
        guard let v = value?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return 0 }
        if let s = Int(v), s >= 0 { return UInt32(min(s, 86_400) * 1000) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let d = f.date(from: v) else { return 0 }
        let delta = d.timeIntervalSinceNow
        return delta > 0 ? UInt32(min(delta, 86_400) * 1000) : 0
    }
}
