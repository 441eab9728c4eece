public import CGatewayPluginABI
import Foundation
import GatewayPluginKit

/// `forward-http`: sends the event to an internal HTTP service.
///
/// ```yaml
/// - plugin: forward-http
///   with:
///     url: http://127.0.0.1:9000/ledger   # or https://...
///     caFile: /etc/gateway/internal-ca.pem # https: trust this bundle instead of the system store
///     insecureSkipVerify: false            # https: never in production (no certificate checks)
///     method: POST                 # default
///     timeoutMs: 2000              # default 10000
///     headers: { X-Team: pay }
///     sign: { secret: "${LEDGER_WEBHOOK_SECRET}" }   # optional, Standard Webhooks
/// ```
/// 2xx = delivered; 408, 429, 5xx, connection errors and timeouts = retry (a `Retry-After`
/// answer sets the earliest retry); other answers = permanent failure. Every request carries
/// `X-Gateway-Event-Code`, `X-Gateway-Delivery-Id` (the same on every retry of a delivery) and
/// `X-Gateway-Attempt`. With `sign`, it also carries `webhook-id`, `webhook-timestamp` and
/// `webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`; a secret
/// written `whsec_<base64>` is base64-decoded first, as the Standard Webhooks libraries expect.
@_cdecl("gw_plugin_register_v1")
public func gwPluginRegisterV1(_ table: UnsafeMutablePointer<gw_plugin_v1>?, _ size: UInt32) -> Int32 {
    PluginRegistry.register(Forwarder.definition, table: table, size: size)
}

final class Forwarder: GatewayHandler, @unchecked Sendable {
    // Unchecked: immutable after init; the host's HTTP client does its own locking.

    static let definition = PluginDefinition(
        name: "forward-http", description: "sends each event to an HTTP endpoint"
    ) { config, host in try Forwarder(config: config, host: host) }

    let url: String
    let caFile: String?
    let insecureSkipVerify: Bool
    let method: String
    let timeoutMs: Int
    let headers: [(String, String)]
    let signingKey: [UInt8]?
    let host: PluginHost
    /// The method, URL, CA file and configured headers as bytes, made once (see `handle`).
    private let fixed: FixedBytes

    init(config: PluginConfig, host: PluginHost) throws {
        var c = config
        url = try c.requiredString("url")
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw PluginConfigError("with.url must be an http:// or https:// URL")
        }
        guard url.count > 8, !url.contains(" ") else { throw PluginConfigError("with.url is not a valid URL") }
        caFile = try c.string("caFile")
        insecureSkipVerify = try c.bool("insecureSkipVerify", default: false)
        if let caFile {
            guard lower.hasPrefix("https://") else { throw PluginConfigError("with.caFile needs an https:// URL") }
            guard FileManager.default.isReadableFile(atPath: caFile) else { throw PluginConfigError("with.caFile: cannot read '\(caFile)'") }
        }
        if insecureSkipVerify {
            host.log(.warning, "forward-http: insecureSkipVerify is on; server certificates are not checked")
        }
        method = (try c.string("method") ?? "POST").uppercased()
        guard ["POST", "PUT", "PATCH"].contains(method) else { throw PluginConfigError("with.method must be POST, PUT or PATCH") }
        timeoutMs = try c.int("timeoutMs", default: 10_000, min: 1, max: 600_000)
        let extra = try c.stringMap("headers") ?? []
        for (name, value) in extra {
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }),
                !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A })
            else { throw PluginConfigError("with.headers: '\(name)' is not a valid header") }
            let lower = name.lowercased()
            if ["host", "content-length", "transfer-encoding", "connection"].contains(lower) {
                throw PluginConfigError("with.headers: \(name) is set by the gateway")
            }
        }
        headers = extra
        if var sign = try c.object("sign") {
            let secret = try sign.requiredString("secret")
            try sign.finish()
            if secret.hasPrefix("whsec_") {
                guard let key = Data(base64Encoded: String(secret.dropFirst(6))) else {
                    throw PluginConfigError("with.sign.secret: 'whsec_' secrets must be base64")
                }
                signingKey = Array(key)
            } else {
                signingKey = Array(secret.utf8)
            }
        } else {
            signingKey = nil
        }
        try c.finish()
        self.host = host
        fixed = FixedBytes([method, url, caFile ?? ""] + extra.flatMap { [$0.0, $0.1] })
    }

    /// The request is laid out from borrowed bytes: the fixed parts made once, the event code,
    /// delivery ID and body pointing at the event's own. A String per header, copied into the
    /// host's request and back, was most of a forwarded delivery's user-space work.
    func handle(_ event: PluginEvent) -> HandlerResult {
        // What is neither fixed nor the event's: the attempt's digits and, to sign, the
        // timestamp and the signature.
        var scratch = Array(String(event.attempt).utf8)
        let attemptEnd = scratch.count
        var signedEnds = (0, 0)
        if let key = signingKey {
            let timestamp = String(Int(Date().timeIntervalSince1970))
            let signed = Array("\(event.deliveryID).\(timestamp).".utf8) + Array(event.body)
            let mac = host.hmacSHA256(key: key, data: signed)
            scratch += timestamp.utf8
            signedEnds.0 = scratch.count
            scratch += ("v1," + Data(mac).base64EncodedString()).utf8
            signedEnds.1 = scratch.count
        }
        // The gateway's 4 headers, 3 more to sign, then the configured ones (a name and a value
        // each in `fixed`, after the method, URL and CA file).
        let count = 4 + (signingKey == nil ? 0 : 3) + (fixed.count - 3) / 2
        let r = scratch.withUnsafeBufferPointer { sc in
            withUnsafeTemporaryAllocation(of: gw_header.self, capacity: count) { hs -> PluginHost.HTTPResult in
                func part(_ from: Int, _ to: Int) -> gw_bytes { gw_bytes(ptr: sc.baseAddress.map { $0 + from }, len: to - from) }
                var k = 0
                func add(_ name: StaticString, _ value: gw_bytes) {
                    hs[k] = gw_header(name: gw_bytes(ptr: name.utf8Start, len: name.utf8CodeUnitCount), value: value)
                    k += 1
                }
                add("Content-Type", FixedBytes.literal("application/json"))
                add("X-Gateway-Event-Code", event.eventCodeBytes)
                add("X-Gateway-Delivery-Id", event.deliveryIDBytes)
                add("X-Gateway-Attempt", part(0, attemptEnd))
                if signingKey != nil {
                    add("webhook-id", event.deliveryIDBytes)
                    add("webhook-timestamp", part(attemptEnd, signedEnds.0))
                    add("webhook-signature", part(signedEnds.0, signedEnds.1))
                }
                var i = 3
                while i + 1 < fixed.count {
                    hs[k] = gw_header(name: fixed[i], value: fixed[i + 1])
                    k += 1
                    i += 2
                }
                var req = gw_http_request(
                    struct_size: 0, method: fixed[0], url: fixed[1], headers: UnsafePointer(hs.baseAddress), header_count: k,
                    body: event.rawBody, timeout_ms: UInt32(clamping: timeoutMs), ca_file: fixed[2],
                    tls_flags: insecureSkipVerify ? GW_TLS_INSECURE_SKIP_VERIFY : 0)
                return host.http(&req)
            }
        }
        return Forwarder.classify(r)
    }

    /// The retry rule, apart from the mechanism (Vector's RetryLogic): 2xx delivered; 408, 429 and
    /// 5xx retried; anything else is permanent.
    static func classify(_ r: PluginHost.HTTPResult) -> HandlerResult {
        switch r.status {
        case 0: return .retry(r.error.isEmpty ? "no answer" : r.error)
        case 200..<300: return .proceed()
        case 408, 429, 500..<600: return .retry("HTTP \(r.status)", afterMs: r.retryAfterMs)
        default: return .fail("HTTP \(r.status)")
        }
    }
}

/// Strings kept as bytes in one allocation for the handler's life, lent to requests as
/// `gw_bytes` (stable: never moved or freed before the handler).
final class FixedBytes: @unchecked Sendable {
    // Unchecked: written once in init, then only read.
    private let base: UnsafeMutablePointer<UInt8>
    private let parts: [gw_bytes]

    init(_ strings: [String]) {
        let total = strings.reduce(0) { $0 + $1.utf8.count }
        base = .allocate(capacity: max(1, total))
        var offset = 0
        var parts: [gw_bytes] = []
        for s in strings {
            let n = s.utf8.count
            _ = UnsafeMutableBufferPointer(start: base + offset, count: n).initialize(from: s.utf8)
            parts.append(gw_bytes(ptr: UnsafePointer(base + offset), len: n))
            offset += n
        }
        self.parts = parts
    }

    deinit { base.deallocate() }

    var count: Int { parts.count }
    subscript(i: Int) -> gw_bytes { parts[i] }

    static func literal(_ s: StaticString) -> gw_bytes { gw_bytes(ptr: s.utf8Start, len: s.utf8CodeUnitCount) }
}
