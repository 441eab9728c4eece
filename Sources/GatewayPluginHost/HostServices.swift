import CGatewayPluginABI
import Foundation
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import Synchronization

/// The services lent to plugins through `gw_host_api`: logging, event values, outbound HTTP and
/// HMAC. One table per loaded plugin (its `host_ctx` carries the plugin's name for log lines);
/// the tables live for the process.
public enum HostServices {
    /// Where plugin log lines go. Set at start and on reload.
    private static let loggerBox = Locked<Logger>(Logger.disabled)
    static let http = PooledHTTPClient()

    public static func setLogger(_ logger: Logger) {
        loggerBox.withLock { $0 = logger }
    }

    static var logger: Logger { loggerBox.withLock { $0 } }

    final class Context {
        let pluginName: String
        init(pluginName: String) { self.pluginName = pluginName }
    }

    static func makeTable(pluginName: String) -> UnsafeMutablePointer<gw_host_api> {
        let context = Unmanaged.passRetained(Context(pluginName: pluginName)).toOpaque()  // lives for the process
        let t = UnsafeMutablePointer<gw_host_api>.allocate(capacity: 1)
        t.initialize(
            to: gw_host_api(
                struct_size: UInt32(MemoryLayout<gw_host_api>.size), abi_version: UInt32(GW_PLUGIN_ABI_VERSION),
                host_ctx: context,
                log: { ctx, level, message in HostServices.log(ctx, level, message) },
                event_value: { event, path, out in HostServices.eventValue(event, path, out) },
                http_request: { ctx, req, resp in HostServices.httpRequest(ctx, req, resp) },
                hmac_sha256: { key, data, out in HostServices.hmac(key, data, out) }))
        return t
    }

    static func text(_ b: gw_bytes) -> String {
        String(decoding: b.bytes, as: UTF8.self)
    }

    static func log(_ ctx: UnsafeMutableRawPointer?, _ level: Int32, _ message: gw_bytes) {
        let name = ctx.map { Unmanaged<Context>.fromOpaque($0).takeUnretainedValue().pluginName } ?? "?"
        let l: LogLevel =
            switch level {
            case GW_LOG_DEBUG: .debug
            case GW_LOG_WARN: .warning
            case GW_LOG_ERROR: .error
            default: .info
            }
        logger.log(l, String(text(message).prefix(8192)), [("plugin", .string(name))])
    }

    static func eventValue(_ event: UnsafePointer<gw_event>?, _ path: gw_bytes, _ out: UnsafeMutablePointer<gw_bytes>?) -> Int32 {
        guard let event, let out, let ref = event.pointee.host_ref else { return 0 }
        let ctx = Unmanaged<CallContext>.fromOpaque(UnsafeMutableRawPointer(mutating: ref)).takeUnretainedValue()
        guard let parsed = lastPaths.current.path(for: path), let value = ctx.value(at: parsed) else { return 0 }
        out.pointee = gw_bytes(ptr: value.baseAddress, len: value.count)
        return 1
    }

    /// The path a thread's plugins asked for last, parsed. A handler asks for the same paths on
    /// every call (a filter for `metadata`); making a String of the bytes and parsing it into
    /// segments (an array allocated each time) cost some 600 instructions a lookup.
    final class LastPath {
        // One thread's (see `lastPaths`): no run-time exclusivity check needed.
        @exclusivity(unchecked) private var bytes: [UInt8] = []
        @exclusivity(unchecked) private var parsed: JSONPath?

        /// `path` parsed (nil when it is not a dotted path), from the last call when the bytes
        /// are the same.
        func path(for path: gw_bytes) -> JSONPath? {
            let given = path.bytes
            if let last = parsed, ByteSearch.equal(bytes, given) { return last }
            let p = JSONPath(text(path))
            bytes = Array(given)
            parsed = p
            return p
        }
    }

    private static let lastPaths = PerThread { LastPath() }

    static func hmac(_ key: gw_bytes, _ data: gw_bytes, _ out: UnsafeMutablePointer<UInt8>?) {
        guard let out else { return }
        let k = key.ptr.map { Array(UnsafeBufferPointer(start: $0, count: key.len)) } ?? []
        let d = data.ptr.map { Array(UnsafeBufferPointer(start: $0, count: data.len)) } ?? []
        let mac = (try? HMAC.authenticate(.sha256, key: k, parts: [d])) ?? [UInt8](repeating: 0, count: 32)
        for i in 0..<32 { out[i] = i < mac.count ? mac[i] : 0 }
    }

    static func httpRequest(
        _ ctx: UnsafeMutableRawPointer?, _ req: UnsafePointer<gw_http_request>?, _ resp: UnsafeMutablePointer<gw_http_response>?
    ) -> Int32 {
        guard let req, let resp else { return GW_FAIL }
        // Copy only the bytes the plugin's struct has (an older plugin's is shorter): fields it
        // does not know stay zero, which means their defaults.
        var r = gw_http_request()
        let size = min(Int(UnsafeRawPointer(req).load(as: UInt32.self)), MemoryLayout<gw_http_request>.size)
        withUnsafeMutableBytes(of: &r) { $0.copyMemory(from: UnsafeRawBufferPointer(start: req, count: size)) }
        // Borrowed as the plugin passed them (see `PooledHTTPClient.send`). TLS options: zero
        // (system trust store, verification on) for plugins built before them.
        let result = http.send(
            method: r.method.bytes, url: r.url.bytes,
            headers: UnsafeBufferPointer(start: r.header_count > 0 ? r.headers : nil, count: r.headers == nil ? 0 : r.header_count),
            body: UnsafeRawBufferPointer(r.body.bytes), timeoutMs: Int(max(1, r.timeout_ms)), caFile: r.ca_file.bytes,
            verify: r.tls_flags & GW_TLS_INSECURE_SKIP_VERIFY == 0)
        resp.pointee.status = Int32(result.status)
        resp.pointee.retry_after_ms = result.retryAfterMs
        let message = result.error
        resp.pointee.error = gw_bytes(ptr: message.utf8Start, len: message.utf8CodeUnitCount)
        return result.status == 0 ? GW_RETRY : GW_OK
    }
}

extension gw_bytes {
    /// The bytes a plugin lends (empty for a null pointer or a zero length).
    var bytes: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: len > 0 ? ptr : nil, count: ptr == nil ? 0 : len)
    }
}
