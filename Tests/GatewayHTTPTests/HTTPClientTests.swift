import Foundation
import GatewayCore
import Glibc
import Testing

@testable import GatewayHTTP

/// The client reads an answer's head as bytes (status line, fields): what it makes of each form
/// a server may send, and of answers in a row on one connection.
@Suite("HTTP client answers")
struct HTTPClientAnswerTests {
    private func status(_ line: String) -> Int? {
        Array(line.utf8).withUnsafeBufferPointer { HTTPClientConnection.status(ofLine: $0) }
    }

    private func field(_ line: String) -> (String, String)? {
        var headers = HTTPHeaders()
        let ok = Array(line.utf8).withUnsafeBufferPointer { HTTPClientConnection.addField($0, to: &headers) }
        guard ok, let f = headers.fields.first else { return nil }
        return (f.name, f.value)
    }

    @Test func statusLines() {
        #expect(status("HTTP/1.1 200 OK") == 200)
        #expect(status("HTTP/1.0 404") == 404)
        #expect(status("HTTP/1.1  503  Busy now") == 503)
        #expect(status("HTTP/1.1 429 Too Many Requests") == 429)
        #expect(status("HTTP/2 200 OK") == nil)
        #expect(status("HTTP/1.1 2x0 OK") == nil)
        #expect(status("HTTP/1.1 -1 OK") == nil)
        #expect(status("HTTP/1.1 ") == nil)
        #expect(status("ICY 200 OK") == nil)
        #expect(status("HTTP/1.1 9999999999 OK") == nil)
    }

    @Test func fieldLines() {
        #expect(field("Retry-After:  \t120 \t").map { [$0.0, $0.1] } == ["Retry-After", "120"])
        #expect(field("X-Empty:").map { [$0.0, $0.1] } == ["X-Empty", ""])
        #expect(field("Location: http://a/b?c=d:e").map { [$0.0, $0.1] } == ["Location", "http://a/b?c=d:e"])
        #expect(field("Server: caf\u{e9}").map { [$0.0, $0.1] } == ["Server", "caf\u{e9}"])
        #expect(field("no colon here") == nil)
    }

    /// Answers in a row on one connection: an interim 100, a 429 with Retry-After and a
    /// Content-Length body, then a chunked 200 whose lines end in bare LFs; a field line
    /// without a colon is refused.
    @Test func answersInARowOnOneConnection() throws {
        let canned =
            "HTTP/1.1 100 Continue\r\n\r\n"
            + "HTTP/1.1 429 Too Many Requests\r\nRetry-After:  7 \r\nContent-Length: 3\r\nX-Two: a\r\nX-Two: b\r\n\r\nabc"
            + "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nConnection: keep-alive\n\n3\r\nxyz\r\n2;ext=1\r\n!!\r\n0\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nBad header line\r\n\r\n"
        let server = try CannedServer(answer: Array(canned.utf8))
        defer { server.stop() }
        let conn = try HTTPClientConnection(host: "127.0.0.1", port: server.port, timeoutMs: 5000)
        try conn.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let first = try conn.readResponse()
        #expect(first.status == 429)
        #expect(first.headers["retry-after"] == "7")
        #expect(first.headers.values("X-Two") == ["a", "b"])
        #expect(first.bodyText == "abc")
        let second = try conn.readResponse()
        #expect(second.status == 200)
        #expect(second.headers.hasToken("Connection", "keep-alive"))
        #expect(second.bodyText == "xyz!!")
        #expect(throws: HTTPClientError.self) { try conn.readResponse() }
    }

    /// A server that takes the request and never answers: the wait ends at the connection's
    /// deadline (the receive timeout of its blocking socket), with the timeout named.
    @Test func anAnswerThatNeverComesTimesOut() throws {
        let server = try CannedServer(answer: [], keepOpen: true)
        defer { server.stop() }
        do {
            let conn = try HTTPClientConnection(host: "127.0.0.1", port: server.port, timeoutMs: 200)
            try conn.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            let start = Date()
            #expect {
                try conn.readResponse()
            } throws: { error in
                (error as? HTTPClientError)?.message.contains("timed out") ?? false
            }
            let waited = Date().timeIntervalSince(start)
            #expect(waited >= 0.15 && waited < 5, "waited \(waited) s")
        }
    }
}

/// A loopback server that answers the first request of its one connection with fixed bytes,
/// then closes it.
private final class CannedServer: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private let done = DispatchSemaphore(value: 0)

    /// `keepOpen`: after the answer, hold the connection until the client closes it.
    init(answer: [UInt8], keepOpen: Bool = false) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 4) == 0 else {
            close(fd)
            throw SystemError("bind/listen")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        let listener = fd
        let done = self.done
        Thread.detachNewThread {
            defer { done.signal() }
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 10_000) == 1 else { return }
            let c = accept(listener, nil, nil)
            guard c >= 0 else { return }
            defer { close(c) }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var request: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 4096)
            while !request.contains(0x0A) || request.suffix(4) != [0x0D, 0x0A, 0x0D, 0x0A] {
                let n = recv(c, &buf, buf.count, 0)
                guard n > 0 else { return }
                request += buf[0..<n]
            }
            // All of it, then the close (the request was read whole: the close sends a FIN, not
            // a reset, and the client still reads everything before it).
            _ = answer.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if keepOpen { _ = recv(c, &buf, buf.count, 0) }  // the client's close, or the bound
        }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        _ = done.wait(timeout: .now() + 15)
    }
}
