import Synchronization

/// Answers requests. The one thing an application gives the HTTP server.
///
/// `respond` is called on an event-loop thread and must not block it: quick work (verifying a
/// signature, parsing a body) may be done inline, anything that waits (disk sync, network) must
/// happen elsewhere and call `completion` later, from any thread. Requests on one connection are
/// handed over one at a time, in order, so answers to pipelined requests keep their order.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext, completion: ResponseCompletion)
}

public struct RequestContext: Sendable {
    public var remote: SocketAddress
    /// Monotonic milliseconds when the request was complete.
    public var receivedAt: UInt64
}

/// Delivers one answer to the connection that asked, on that connection's loop. The first
/// call wins; later calls are ignored. If the connection has gone away meanwhile, the answer is
/// dropped (what the handler did, such as storing a notification, stays done).
public final class ResponseCompletion: Sendable {
    private let connection: HTTPConnection
    private let seq: UInt64
    private let done = Atomic<Bool>(false)

    init(connection: HTTPConnection, seq: UInt64) {
        self.connection = connection
        self.seq = seq
    }

    /// Runs `body` on the connection's loop thread: at once when called there, else queued to
    /// that loop. A responder whose answer is decided on another thread (a group commit made by
    /// another loop) finishes the request here, so the request's memory is used and freed by
    /// the thread that allocated it.
    public func onConnectionLoop(_ body: @escaping @Sendable () -> Void) {
        let loop = connection.loop
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    public func callAsFunction(_ response: HTTPResponse) {
        self(response, then: nil)
    }

    /// Sends the answer, then runs `then` on the connection's loop thread, whether or not the
    /// answer could still be sent (the connection may be gone) and even if an answer was sent
    /// already: work that must follow the answer (starting deliveries) is never skipped.
    public func callAsFunction(_ response: HTTPResponse, then: (@Sendable () -> Void)?) {
        let conn = connection
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else {
            if let then { conn.loop.inEventLoop ? then() : conn.loop.execute(then) }
            return
        }
        let seq = seq
        if conn.loop.inEventLoop {
            conn.deliver(seq: seq, response: response)
            then?()
        } else {
            conn.loop.execute {
                conn.deliver(seq: seq, response: response)
                then?()
            }
        }
    }
}

/// Counters the server keeps for metrics and tests.
public final class HTTPServerStats: Sendable {
    public let accepted = Atomic<Int>(0)
    public let open = Atomic<Int>(0)
    /// Connections closed at once because `maxConnections` was reached or the server is draining.
    public let refused = Atomic<Int>(0)
    /// accept() failures for lack of descriptors.
    public let descriptorExhaustion = Atomic<Int>(0)
    public let requests = Atomic<Int>(0)
    public let protocolErrors = Atomic<Int>(0)
    public let timeouts = Atomic<Int>(0)
    /// TLS handshakes that failed (wrong protocol version or ciphers, plain HTTP on a TLS port,
    /// an aborted handshake).
    public let tlsHandshakeFailures = Atomic<Int>(0)
    /// Times a client's socket was full when an answer was sent (the rest waited for it to
    /// drain): clients slower than the gateway, or a stalled one.
    public let writeStalls = Atomic<Int>(0)

    public init() {}
}
