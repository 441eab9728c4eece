/// How an HTTP listener behaves. Defaults match `ServerConfig`'s.
public struct HTTPServerConfiguration: Sendable {
    public var parser = HTTPParserLimits()
    public var maxConnections = 16384
    /// 0 = unlimited.
    public var maxRequestsPerConnection = 0
    public var headerTimeoutMs: UInt64 = 10_000
    public var bodyTimeoutMs: UInt64 = 30_000
    public var idleTimeoutMs: UInt64 = 60_000
    public var writeTimeoutMs: UInt64 = 30_000
    /// After an error answer the connection is half-closed and drained this long before it is
    /// closed, so the client reads the answer instead of a reset.
    public var lingerMs: UInt64 = 2_000
    /// A name for logs ("public", "admin").
    public var name = "http"

    public init() {}
}
