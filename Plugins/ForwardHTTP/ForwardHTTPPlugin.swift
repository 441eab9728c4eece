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
    }

    func handle(_ event: PluginEvent) -> HandlerResult {
        var h: [(String, String)] = [
            ("Content-Type", "application/json"), ("X-Gateway-Event-Code", event.eventCode),
            ("X-Gateway-Delivery-Id", event.deliveryID), ("X-Gateway-Attempt", String(event.attempt)),
        ]
        if let key = signingKey {
            let id = event.deliveryID
            let timestamp = String(Int(Date().timeIntervalSince1970))
            let signed = Array("\(id).\(timestamp).".utf8) + Array(event.body)
            let mac = host.hmacSHA256(key: key, data: signed)
            h += [("webhook-id", id), ("webhook-timestamp", timestamp), ("webhook-signature", "v1," + Data(mac).base64EncodedString())]
        }
        h += headers
        let r = host.http(
            method: method, url: url, headers: h, body: event.body, timeoutMs: timeoutMs, caFile: caFile, insecureSkipVerify: insecureSkipVerify)
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
