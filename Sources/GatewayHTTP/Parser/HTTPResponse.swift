public import GatewayCore

/// An answer to one request. Framing headers (`Content-Length`, `Connection`, `Date`) are added
/// when it is written; handlers set only their own.
public struct HTTPResponse: Sendable {
    public var status: Int { didSet { head = nil } }
    public var headers: [(String, String)] { didSet { head = nil } }
    public var body: [UInt8] { didSet { head = nil } }
    /// Close the connection after this answer, whatever the request asked.
    public var closeConnection: Bool
    /// The status line, the headers and `Content-Length`, written once by `prepared()` for an
    /// answer sent many times (a source's acknowledgement); any change above drops it.
    private var head: [UInt8]? = nil

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

    /// The same answer with its fixed part (status line, headers, `Content-Length`) written
    /// once: serializing it then appends those bytes whole, instead of a dozen small appends.
    public func prepared() -> HTTPResponse {
        var r = self
        var bytes: [UInt8] = []
        writeHead(into: &bytes)
        r.head = bytes
        return r
    }

    /// Serializes the status line, headers and (unless `headOnly`) the body.
    public func serialize(keepAlive: Bool, date: String?, headOnly: Bool = false, into out: inout [UInt8]) {
        if let head {
            out.reserveCapacity(out.count + head.count + 64 + (headOnly ? 0 : body.count))
            out.append(contentsOf: head)
        } else {
            // Room for everything up front (one allocation at most).
            var size = 128 + (date?.utf8.count ?? 0) + (headOnly ? 0 : body.count)
            for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
            out.reserveCapacity(out.count + size)
            writeHead(into: &out)
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

    /// Status line, headers and `Content-Length` (when the status has a body).
    private func writeHead(into out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(status, to: &out)
        out.append(0x20)
        out.append(contentsOf: GatewayError.reasonPhrase(status).utf8)
        out.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            // Never let a value break the framing, whatever a handler put in it.
            if value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) {
                for b in value.utf8 where b != 0x0D && b != 0x0A { out.append(b) }
            } else {
                out.append(contentsOf: value.utf8)
            }
            out.append(contentsOf: "\r\n".utf8)
        }
        if status >= 200 && status != 204 && status != 304 {
            out.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(body.count, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
    }
}
