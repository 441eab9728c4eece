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

    /// One thread's idle connections, and the destinations it sent to.
    final class ThreadCache {
        var idle: [String: [(conn: HTTPClientConnection, since: UInt64)]] = [:]
        var destinations: [String: Destination] = [:]
    }

    /// What a URL (with its trust settings) turns into, worked out once per thread: parsing
    /// the URL, the pool key and the `Host` header are Character-level String work that cost
    /// several microseconds on every delivery, and a route sends to the same URL every time.
    struct Destination {
        let parts: URLParts
        let caFile: String?
        let verify: Bool
        /// Connections are pooled per destination and per trust settings.
        let poolKey: String
        /// `" <target> HTTP/1.1\r\nHost: <host>\r\n"`, the request line after its method.
        let requestLineTail: [UInt8]

        init?(url: String, caFile: String?, verify: Bool) {
            guard let u = URLParts(url) else { return nil }
            parts = u
            self.caFile = caFile
            self.verify = verify
            poolKey = u.scheme == "https" ? "https|\(verify)|\(caFile ?? "")|\(u.host):\(u.port)" : "\(u.host):\(u.port)"
            requestLineTail = HTTPClient.requestLineTail(u)
        }
    }

    /// At most this many destinations are remembered per thread (then the memory starts over).
    private static let maxDestinations = 64

    private func destination(url: String, caFile: String?, verify: Bool) -> Destination? {
        let c = cache
        if let d = c.destinations[url], d.caFile == caFile, d.verify == verify { return d }
        guard let d = Destination(url: url, caFile: caFile, verify: verify) else { return nil }
        if c.destinations.count >= Self.maxDestinations { c.destinations.removeAll() }
        c.destinations[url] = d
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

    func send(
        method: String, url: String, headers: [(String, String)], body: [UInt8], timeoutMs: Int, caFile: String? = nil,
        verify: Bool = true
    ) -> Result {
        guard let d = destination(url: url, caFile: caFile, verify: verify) else { return Result(status: 0, retryAfterMs: 0, error: "invalid URL") }
        // Whatever a plugin passes, a header cannot end the head early or start another request:
        // names are tokens, values carry no CR, LF or other control byte (tab aside).
        for (n, v) in headers where !HTTPClient.isValidHeader(name: n, value: v) {
            return Result(status: 0, retryAfterMs: 0, error: "invalid header (a name that is not a token, or a control character in a value)")
        }
        let u = d.parts
        var tls: TLSClientContext? = nil
        if u.scheme == "https" {
            guard let c = Self.tlsContext(caFile: caFile, verify: verify) else {
                return Result(status: 0, retryAfterMs: 0, error: "cannot load the TLS trust settings (caFile)")
            }
            tls = c
        }
        let key = d.poolKey
        let request = HTTPClient.request(method: method, lineTail: d.requestLineTail, headers: headers, body: body)
        // A pooled connection may have been closed by the server meanwhile; then one fresh try.
        for attempt in 0..<2 {
            let reused = attempt == 0 ? take(key) : nil
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
                if !answer.headers.hasToken("Connection", "close") { put(key, conn) }
                return Result(status: answer.status, retryAfterMs: Self.retryAfter(answer.headers["Retry-After"]), error: "")
            } catch {
                if reused != nil && !error.message.contains("timed out") { continue }
                return Result(status: 0, retryAfterMs: 0, error: error.message.contains("timed out") ? "timed out" : "connection failed")
            }
        }
        return Result(status: 0, retryAfterMs: 0, error: "connection failed")
    }

    private func take(_ key: String) -> HTTPClientConnection? {
        let c = cache
        let now = monotonicMillis()
        while let (conn, since) = c.idle[key]?.popLast() {
            // A connection idle for a while may have been closed by the server: look (one poll)
            // before using it. A fresh one is used as is; if the server closed it anyway, the
            // request is retried once on a new connection.
            if now - since < 1000 || !conn.peerClosed(waitMs: 0) { return conn }
        }
        return nil
    }

    private func put(_ key: String, _ conn: HTTPClientConnection) {
        let c = cache
        if c.idle[key, default: []].count < Self.maxIdlePerHost { c.idle[key, default: []].append((conn, monotonicMillis())) }
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
