public import GatewayCore

/// An answer to one request. Framing headers (`Content-Length`, `Connection`, `Date`) are added
/// when it is written; handlers set only their own.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Close the connection after this answer, whatever the request asked.
    public var closeConnection: Bool

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], closeConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.closeConnection = closeConnection
    }

    public static func text(_ status: Int, _ body: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(body.utf8))
    }

    public static func json(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: body)
    }

    /// The answer for an error: its status, extra headers and `{"error": "..."}` body.
    public static func error(_ e: GatewayError, closeConnection: Bool = false) -> HTTPResponse {
        HTTPResponse(
            status: e.status, headers: [("Content-Type", "application/json")] + e.extraHeaders, body: e.jsonBody,
            closeConnection: closeConnection)
    }

    /// Serializes the status line, headers and (unless `headOnly`) the body.
    public func serialize(keepAlive: Bool, date: String?, headOnly: Bool = false, into out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(status, to: &out)
        out.append(0x20)
        out.append(contentsOf: GatewayError.reasonPhrase(status).utf8)
        out.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            // Never let a value break the framing, whatever a handler put in it.
            for b in value.utf8 where b != 0x0D && b != 0x0A { out.append(b) }
            out.append(contentsOf: "\r\n".utf8)
        }
        if status >= 200 && status != 204 && status != 304 {
            out.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(body.count, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        if let date {
            out.append(contentsOf: "Date: ".utf8)
            out.append(contentsOf: date.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        if !keepAlive { out.append(contentsOf: "Connection: close\r\n".utf8) }
        out.append(contentsOf: "\r\n".utf8)
        if !headOnly { out.append(contentsOf: body) }
    }
}
