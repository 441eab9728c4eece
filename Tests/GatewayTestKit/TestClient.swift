import GatewayCrypto
import GatewayHTTP

/// A raw loopback connection to the gateway: send any bytes, read answers.
public final class TestClient {
    public let connection: HTTPClientConnection

    public init(port: Int, timeoutMs: Int = 10_000, tls: TLSClientContext? = nil, host: String = "127.0.0.1") throws {
        connection = try HTTPClientConnection(host: host, port: port, timeoutMs: timeoutMs, tls: tls)
    }

    public func send(_ bytes: [UInt8]) throws { try connection.write(bytes) }
    public func send(_ text: String) throws { try connection.write(Array(text.utf8)) }

    public func read(head: Bool = false) throws -> HTTPClientResponse { try connection.readResponse(headRequest: head) }

    /// Sends and reads one answer.
    public func roundTrip(_ bytes: [UInt8]) throws -> HTTPClientResponse {
        try send(bytes)
        return try read()
    }

    /// True when the server closes the connection within `waitMs`.
    public func closedByServer(waitMs: Int = 3000) -> Bool { connection.peerClosed(waitMs: waitMs) }
}
