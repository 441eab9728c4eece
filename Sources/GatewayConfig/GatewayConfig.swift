public import GatewayCore

/// The typed, validated form of `gateway.yaml`. See README "Configuration reference" for every key.
///
/// Produced only by `GatewayConfig.load(...)`/`decode(...)`, which refuse unknown keys, wrong
/// types and missing required keys with `FILE:LINE:COL` errors.
public struct GatewayConfig: Sendable {
    public var file: String
    public var server: ServerConfig
    public var admin: AdminConfig?
    public var spool: SpoolConfig
    public var plugins: PluginsConfig
    public var sources: [SourceConfig]
    public var routes: [RouteConfig]
    public var unmatched: UnmatchedAction
    public var log: LogConfig
    /// Extra field names to redact from logs (added to the built-in list).
    public var redact: [String]

    /// Every secret value in the configuration, for the log redactor.
    public var secrets: [String] {
        var out: [String] = []
        for s in sources { out += s.signKeys.map(\.value) }
        if let t = admin?.token { out.append(t.value) }
        return out
    }
}

/// A secret value (sign key, token). Its description never shows the value, so printing a
/// config or a source by mistake cannot leak it.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "[REDACTED]" }
    public var debugDescription: String { "[REDACTED]" }
}

/// A `host:port` to listen on. `:8080` and `0.0.0.0:8080` mean every IPv4 interface,
/// `[::]:8080` every IPv6 one. Port 0 asks the kernel for a free port (the log says which).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var isIPv6: Bool

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var isLoopback: Bool {
        isIPv6 ? host == "::1" : host.hasPrefix("127.")
    }

    /// Parses `host:port`, `[v6]:port` or `:port`.
    public init?(_ text: String) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":") else { return nil }
            portText = after.dropFirst()
            isIPv6 = true
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
            if host.isEmpty { host = "0.0.0.0" }
            if host == "localhost" { host = "127.0.0.1" }
            isIPv6 = false
        }
        guard let port = Int(portText), port >= 0, port <= 65535, !host.isEmpty else { return nil }
        if isIPv6 {
            guard host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            let parts = host.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4, parts.allSatisfy({ p in
                guard let v = Int(p), !p.isEmpty, p.count <= 3 else { return false }
                return v >= 0 && v <= 255
            }) else { return nil }
        }
        self.host = String(host)
        self.port = port
    }

    public init(host: String, port: Int, isIPv6: Bool = false) {
        self.host = host
        self.port = port
        self.isIPv6 = isIPv6
    }
}

public struct ServerConfig: Sendable {
    public var listen: ListenAddress
    /// Largest accepted body; larger gets 413. Default 1 MiB.
    public var maxBodyBytes: Int = 1 << 20
    public var tls: TLSConfig?
    /// Event-loop threads; 0 means one per CPU core.
    public var workers: Int = 0
    /// Open connections beyond this are closed at once. Default 16384.
    public var maxConnections: Int = 16384
    /// Requests served on one connection before it is closed (0 = no limit).
    public var maxRequestsPerConnection: Int = 0
    /// Whole header section (request line included); larger gets 431. Default 16 KiB.
    public var maxHeaderBytes: Int = 16 << 10
    /// Header lines; more gets 431. Default 100.
    public var maxHeaderCount: Int = 100
    /// Request target length; longer gets 414. Default 4 KiB.
    public var maxRequestTargetBytes: Int = 4 << 10
    /// Time allowed to receive a request's header section, from its first byte. Default 10 s.
    public var headerTimeoutMs: Int = 10_000
    /// Time allowed to receive a request's body, from the end of its headers. Default 30 s.
    public var bodyTimeoutMs: Int = 30_000
    /// Time a keep-alive connection may stay idle between requests. Default 60 s.
    public var idleTimeoutMs: Int = 60_000
    /// Time allowed for a client to read an answer. Default 30 s.
    public var writeTimeoutMs: Int = 30_000
    /// How long a graceful shutdown waits for requests in flight. Default 30 s.
    public var shutdownGraceMs: Int = 30_000
    /// Deepest JSON nesting accepted in a body (deeper gets 400). Default 64.
    public var maxJSONDepth: Int = 64
    /// Longest JSON number literal accepted (longer gets 400). Default 64.
    public var maxJSONNumberLength: Int = 64

    public init(listen: ListenAddress) {
        self.listen = listen
    }

    /// Whether the settings the running listener took at start (everything but `listen` and
    /// `tls`) are the same: they change only on restart.
    public func sameLimits(as o: ServerConfig) -> Bool {
        maxBodyBytes == o.maxBodyBytes && workers == o.workers && maxConnections == o.maxConnections
            && maxRequestsPerConnection == o.maxRequestsPerConnection && maxHeaderBytes == o.maxHeaderBytes
            && maxHeaderCount == o.maxHeaderCount && maxRequestTargetBytes == o.maxRequestTargetBytes
            && headerTimeoutMs == o.headerTimeoutMs && bodyTimeoutMs == o.bodyTimeoutMs && idleTimeoutMs == o.idleTimeoutMs
            && writeTimeoutMs == o.writeTimeoutMs && shutdownGraceMs == o.shutdownGraceMs
    }
}

public struct TLSConfig: Sendable {
    public var cert: String
    public var key: String
    public var mark: Mark
}

public struct AdminConfig: Sendable {
    public var listen: ListenAddress
    /// Bearer token required on admin endpoints other than /healthz and /readyz (required when
    /// the admin listener is not on loopback).
    public var token: Secret?
}

public struct SpoolConfig: Sendable, Equatable {
    public var dir: String = "./var/spool"
    /// Upper bound on spool disk use; beyond it new notifications get 503. 0 = no limit.
    public var maxBytes: Int = 0
    /// fsync before acknowledging. Only for throwaway test setups: without it an acknowledged
    /// notification can be lost on power failure.
    public var fsync: Bool = true
    /// Size at which the log starts a new segment file; nil: automatic (see `segmentSize`).
    public var segmentBytes: Int?

    public init() {}

    /// Segments are deleted whole, so a limit needs several of them: automatic is 64 MiB, or an
    /// eighth of `maxBytes` (at least 64 KiB) when that is smaller.
    public var segmentSize: Int {
        if let segmentBytes { return segmentBytes }
        let standard = 64 << 20
        return maxBytes > 0 ? min(standard, max(64 << 10, maxBytes / 8)) : standard
    }
}

public struct PluginsConfig: Sendable {
    /// Directories searched for `libgwplugin-<name>.so`; empty means the gateway executable's
    /// own directory.
    public var path: [String] = []
    public init() {}
}

public struct AckConfig: Sendable, Equatable {
    public var status: Int = 200
    public var body: String = "SUCCESS"
    public var contentType: String = "text/plain; charset=utf-8"
    public init() {}
}

public struct SourceConfig: Sendable {
    public var name: String
    /// Request path this source answers on (matched without the query string).
    public var path: String
    /// Shared sign keys. More than one lets keys be rotated without downtime: a signature made
    /// with any of them is accepted.
    public var signKeys: [Secret]
    public var signTypes: [SignType]
    /// PEM file with the provider's SM2 public key (for `SM2withSM3`).
    public var sm2PublicKey: String?
    public var sm2PublicKeyMark: Mark?
    /// Allowed difference between `DateTime` and the gateway's clock; 0 turns the check off.
    public var maxSkewSeconds: Int = 0
    public var ack: AckConfig = AckConfig()
    public var dedupWindowSeconds: Int = 86_400
    /// Longest `metadata` string accepted (the provider documents 512 characters).
    public var maxMetadataLength: Int = 512
    /// Optional `rateLimit: {perSecond, burst}`: beyond it, 429.
    public var rateLimit: RateLimitConfig?
    /// Optional `allowFrom: [CIDR...]`: other peers get 403 (empty: everyone).
    public var allowFrom: [CIDR] = []
    public var mark: Mark
}

public struct RateLimitConfig: Sendable, Equatable {
    public var perSecond: Int
    public var burst: Int
}

public struct RouteConfig: Sendable {
    public var name: String
    /// Only events from this source, when set.
    public var source: String?
    /// Event codes this route takes; `["*"]` means every code.
    public var events: [String]
    public var when: [Condition]
    public var transform: [Transform]
    public var handlers: [HandlerConfig]
    public var retry: RetryPolicy
    /// Deliveries of this route running at once (worker threads). Default 4.
    public var concurrency: Int = 4
    /// Deliveries waiting (queued or between retries) beyond which new notifications are refused
    /// with 503 rather than acknowledged. Default 100000.
    public var maxPending: Int = 100_000
    public var mark: Mark

    public var matchesAllEvents: Bool { events.contains("*") }
}

public struct HandlerConfig: Sendable {
    public var plugin: String
    /// The handler's `with:` block, as JSON for the plugin.
    public var with: JSONValue
    public var mark: Mark
}

public enum UnmatchedAction: String, Sendable {
    case drop
    case deadletter
}

public struct LogConfig: Sendable, Equatable {
    public var level: LogLevel = .info
    public var format: LogFormat = .json
    /// Where lines go: stdout (default), stderr, or a file (appended, mode 0600, reopened on every
    /// reload so that logrotate's `postrotate` can send SIGHUP).
    public var output: LogOutput = .stdout
    public init() {}
}

public enum LogOutput: Sendable, Equatable {
    case stdout
    case stderr
    case file(String)
}
