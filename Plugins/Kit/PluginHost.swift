import CGatewayPluginABI
import Foundation

/// The services the gateway lends to a plugin (logging, outbound HTTP, HMAC).
public final class PluginHost: @unchecked Sendable {
    // Unchecked: `api` points to the host's table, which lives for the whole process and is
    // never written after the plugin is loaded.
    let api: UnsafePointer<gw_host_api>

    init(api: UnsafePointer<gw_host_api>) {
        self.api = api
    }

    public enum Level: Int32 {
        case debug = 0, info = 1, warning = 2, error = 3
    }

    /// A line in the gateway's log (redacted like every log line).
    public func log(_ level: Level, _ message: String) {
        guard let log = api.pointee.log else { return }
        var m = message
        m.withUTF8 { b in log(api.pointee.host_ctx, level.rawValue, gw_bytes(ptr: b.baseAddress, len: b.count)) }
    }

    /// The outcome of `http`.
    public struct HTTPResult: Sendable {
        /// 0 when no answer arrived (connection error or timeout; see `error`).
        public var status: Int
        /// From a `Retry-After` answer header, in milliseconds (0 when absent).
        public var retryAfterMs: UInt32
        public var error: String
    }

    /// Sends a request through the gateway's HTTP client (connections are reused).
    public func http(
        method: String, url: String, headers: [(String, String)], body: UnsafeRawBufferPointer, timeoutMs: Int, caFile: String? = nil,
        insecureSkipVerify: Bool = false
    ) -> HTTPResult {
        // Copy every string into one buffer so the request borrows stable pointers.
        var arena: [UInt8] = []
        var ranges: [(Int, Int)] = []
        func add(_ s: String) {
            ranges.append((arena.count, s.utf8.count))
            arena.append(contentsOf: s.utf8)
        }
        add(method)
        add(url)
        add(caFile ?? "")
        for (n, v) in headers {
            add(n)
            add(v)
        }
        return arena.withUnsafeBufferPointer { a -> HTTPResult in
            func bytes(_ i: Int) -> gw_bytes { gw_bytes(ptr: a.baseAddress.map { $0 + ranges[i].0 }, len: ranges[i].1) }
            var hs: [gw_header] = []
            for i in 0..<headers.count { hs.append(gw_header(name: bytes(3 + 2 * i), value: bytes(4 + 2 * i))) }
            return hs.withUnsafeBufferPointer { hp -> HTTPResult in
                var req = gw_http_request(
                    struct_size: 0, method: bytes(0), url: bytes(1), headers: hp.baseAddress, header_count: hp.count,
                    body: gw_bytes(ptr: body.baseAddress?.assumingMemoryBound(to: UInt8.self), len: body.count),
                    timeout_ms: UInt32(clamping: timeoutMs), ca_file: bytes(2), tls_flags: insecureSkipVerify ? GW_TLS_INSECURE_SKIP_VERIFY : 0)
                return http(&req)
            }
        }
    }

    /// `http` with a request laid out by the caller, every part borrowed for the call: a handler
    /// that sends on every event keeps its fixed parts (method, URL, configured headers) as
    /// bytes made once and points at the event's own bytes for the rest, instead of making
    /// Strings that are copied into a request here and made into Strings again by the host.
    /// `struct_size` is filled in.
    public func http(_ request: inout gw_http_request) -> HTTPResult {
        guard let send = api.pointee.http_request else {
            return HTTPResult(status: 0, retryAfterMs: 0, error: "the host offers no HTTP client")
        }
        request.struct_size = UInt32(MemoryLayout<gw_http_request>.size)
        var resp = gw_http_response(struct_size: UInt32(MemoryLayout<gw_http_response>.size), status: 0, retry_after_ms: 0, error: gw_bytes(ptr: nil, len: 0))
        _ = send(api.pointee.host_ctx, &request, &resp)
        return HTTPResult(status: Int(resp.status), retryAfterMs: resp.retry_after_ms, error: resp.error.string)
    }

    /// HMAC-SHA256 of `data` keyed with `key`.
    public func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        guard let h = api.pointee.hmac_sha256 else { return out }
        key.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    h(gw_bytes(ptr: k.baseAddress, len: k.count), gw_bytes(ptr: d.baseAddress, len: d.count), o.baseAddress)
                }
            }
        }
        return out
    }
}
