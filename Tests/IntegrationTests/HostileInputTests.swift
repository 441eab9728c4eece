import Foundation
import GatewayCore
import GatewayHTTP
import GatewayTestKit
import Glibc
import Testing

/// The hostile-input battery: everything a client on the internet can send, against the real
/// binary. Each shape gets a 4xx answer with a JSON body and then a closed connection (a closed
/// connection alone only where no answer can be framed), and the gateway keeps serving.
@Suite("Hostile input", .serialized)
struct HostileInputTests {
    static let head = "POST /webhooks/evo HTTP/1.1\r\nHost: x\r\n"

    /// Sends `bytes` on a fresh connection; the answer must be `status` with a JSON error body,
    /// followed by the server closing the connection.
    func expectRefused(_ gw: GatewayProcess, _ bytes: [UInt8], _ status: Int, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let c = try TestClient(port: gw.port, timeoutMs: 5000)
        try c.send(bytes)
        let a = try c.read()
        #expect(a.status == status, "\(label): got \(a.status) \(a.bodyText)", sourceLocation: sourceLocation)
        #expect(jsonError(a) != nil, "\(label): no JSON error body", sourceLocation: sourceLocation)
        #expect(a.headers["Connection"] == "close", "\(label)", sourceLocation: sourceLocation)
        #expect(c.closedByServer(), "\(label): connection left open", sourceLocation: sourceLocation)
    }

    @Test func requestSmugglingShapes() throws {
        try withGateway { gw in
            let shapes: [(String, String, Int)] = [
                ("CL + TE", Self.head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
                ("TE chunked, identity", Self.head + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400),
                ("TE identity", Self.head + "Transfer-Encoding: identity\r\n\r\n", 400),
                ("TE twice", Self.head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
                ("TE with a space before the colon", Self.head + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
                ("obs-fold", Self.head + "X-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", 400),
                ("bare LF in the head", "POST /webhooks/evo HTTP/1.1\nHost: x\nContent-Length: 0\n\n", 400),
                ("bare LF after a header", Self.head + "X-A: a\nContent-Length: 0\r\n\r\n", 400),
                ("NUL in a header value", Self.head + "X-A: a\u{0}b\r\nContent-Length: 0\r\n\r\n", 400),
                ("NUL in the request line", "POST /webhooks/\u{0}evo HTTP/1.1\r\nHost: x\r\n\r\n", 400),
                ("over-long chunk size", Self.head + "Transfer-Encoding: chunked\r\n\r\n" + String(repeating: "f", count: 40) + "\r\n", 400),
                ("chunk size overflow", Self.head + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400),
                ("negative chunk size", Self.head + "Transfer-Encoding: chunked\r\n\r\n-1\r\n\r\n", 400),
                ("negative Content-Length", Self.head + "Content-Length: -1\r\n\r\n", 400),
                ("huge Content-Length", Self.head + "Content-Length: 99999999999999999999999\r\n\r\n", 400),
                ("Content-Length with a plus sign", Self.head + "Content-Length: +5\r\n\r\nhello", 400),
                ("two different Content-Lengths", Self.head + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
                ("Content-Length list", Self.head + "Content-Length: 1, 2\r\n\r\nab", 400),
                ("large Content-Length over the limit", Self.head + "Content-Length: 1000000000\r\n\r\n", 413),
                ("garbage request line", "\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\u{0}\u{1}\r\n\r\n", 400),
                ("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
                ("HTTP/2.0 request line", "POST /webhooks/evo HTTP/2.0\r\nHost: x\r\n\r\n", 505),
                ("unknown Expect", Self.head + "Expect: something\r\nContent-Length: 0\r\n\r\n", 417),
            ]
            for (label, text, status) in shapes {
                try expectRefused(gw, Array(text.utf8), status, label)
            }
            #expect(try TestClient(port: gw.port).roundTrip(SignedRequest.payment().bytes).status == 200)
        }
    }

    @Test func hostileBodiesAndHeaders() throws {
        try withGateway { gw in
            // Correctly signed (an attacker with the key, or a broken provider): still refused.
            let deep = SignedRequest(body: "{\"eventCode\":\"Payment\",\"x\":" + String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000) + "}")
            try expectRefused(gw, deep.bytes, 400, "deep JSON nesting")
            let huge = SignedRequest(body: "{\"eventCode\":\"Payment\",\"amount\":" + String(repeating: "9", count: 1000) + "}")
            try expectRefused(gw, huge.bytes, 400, "huge number")
            let exponent = SignedRequest(body: #"{"eventCode":"Payment","amount":1e999999999}"#)
            #expect(try TestClient(port: gw.port).roundTrip(exponent.bytes).status == 200)  // a short literal is fine: never converted
            var invalid = SignedRequest(body: "")
            invalid.body = Array(#"{"eventCode":"Payment","name":""#.utf8) + [0xC3, 0x28, 0xFF, 0xFE] + Array(#""}"#.utf8)
            try expectRefused(gw, invalid.bytes, 400, "invalid UTF-8")
            var overlong = SignedRequest(body: "")
            overlong.body = Array(#"{"eventCode":"Payment","s":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8)
            try expectRefused(gw, overlong.bytes, 400, "overlong UTF-8")
            let dup = SignedRequest(body: #"{"eventCode":"Payment","eventCode":"Refund"}"#)
            try expectRefused(gw, dup.bytes, 400, "duplicate keys")
            // 10,000 headers: refused as soon as the head is over its limits.
            let many = (0..<10_000).map { "X-H\($0): v\r\n" }.joined()
            try expectRefused(gw, Array((Self.head + many + "\r\n").utf8), 431, "10,000 headers")
            let one = Self.head + "X-Big: " + String(repeating: "a", count: 70_000) + "\r\n\r\n"
            try expectRefused(gw, Array(one.utf8), 431, "one 70 KB header")
            // Pipelined garbage after a valid request: the valid one is answered first.
            let c = try TestClient(port: gw.port)
            try c.send(SignedRequest.payment().bytes + Array("\u{0}\u{7f}garbage\r\n\r\n".utf8))
            #expect(try c.read().status == 200)
            let a = try c.read()
            #expect(a.status == 400 && jsonError(a) != nil)
            #expect(c.closedByServer())
            #expect(try TestClient(port: gw.port).roundTrip(SignedRequest.payment().bytes).status == 200)
        }
    }

    @Test func slowlorisDoesNotStarveOthers() throws {
        let config = testConfig(extraServer: "  headerTimeoutMs: 3000")
        try withGateway(config) { gw in
            // 300 connections send their headers one byte per second (slowloris)...
            var slow: [TestClient] = []
            for _ in 0..<300 { slow.append(try TestClient(port: gw.port, timeoutMs: 8000)) }
            let text = Array(Self.head.utf8)
            let fast = try TestClient(port: gw.port, timeoutMs: 2000)
            var worst = 0.0
            var answered = 0
            // ...for five seconds (bounded: five rounds), while a normal client keeps sending.
            for round in 0..<5 {
                for s in slow { try? s.send([text[round % text.count]]) }
                let roundEnd = Date().addingTimeInterval(1)
                while Date() < roundEnd {
                    let t = Date()
                    if (try? fast.roundTrip(SignedRequest.payment().bytes).status) == 200 { answered += 1 }
                    worst = max(worst, Date().timeIntervalSince(t))
                }
            }
            #expect(answered > 50, "only \(answered) answers during the attack")
            #expect(worst < 0.5, "a normal request took \(worst) s during the attack")
            // The header timeout (3 s) has cut them off: a 408 with a JSON body, then closed.
            var timedOut = 0
            for s in slow {
                if let a = try? s.read(), a.status == 408, jsonError(a) != nil, s.closedByServer(waitMs: 1000) { timedOut += 1 }
            }
            #expect(timedOut == slow.count)
        }
    }

    /// A client that sends many requests and reads none of the answers fills its socket: the
    /// gateway's sends then come back short or with EAGAIN (batched through io_uring or one by
    /// one), and the rest must wait for the socket to drain, not be lost or reordered, while
    /// other clients are served as usual.
    @Test(arguments: ["on", "off"]) func aClientThatStopsReadingGetsEveryAnswerInOrderLater(ioUring: String) throws {
        try withGateway(environment: ["GATEWAY_IO_URING": ioUring]) { gw in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #expect(fd >= 0)
            defer { close(fd) }
            // A small receive buffer, set before connecting, so the window stays small.
            var small: Int32 = 2048
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(gw.port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(connected == 0)
            // Alternating 404 and 405 answers, so that the order can be checked.
            let count = 20_000
            let requests = Array((0..<count).map { $0 % 2 == 0 ? "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" : "GET /webhooks/evo HTTP/1.1\r\nHost: x\r\n\r\n" }.joined().utf8)
            var sent = 0
            while sent < requests.count {
                let n = requests[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                try #require(n > 0, "the gateway stopped reading requests (errno \(errno))")
                sent += n
            }
            // Meanwhile another client is answered at once.
            #expect(try TestClient(port: gw.port, timeoutMs: 3000).roundTrip(SignedRequest.payment().bytes).status == 200)
            // Now read everything: every answer, in order.
            var received: [UInt8] = []
            var statuses: [Int] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            let marker = Array("HTTP/1.1 ".utf8)
            var scan = 0
            while statuses.count < count {
                let n = recv(fd, &buf, buf.count, 0)
                guard n > 0 else { break }
                received += buf[0..<n]
                while scan + marker.count + 3 <= received.count {
                    if received[scan..<scan + marker.count].elementsEqual(marker) {
                        statuses.append(Int(String(decoding: received[scan + marker.count..<scan + marker.count + 3], as: UTF8.self)) ?? 0)
                        scan += marker.count + 3
                    } else {
                        scan += 1
                    }
                }
            }
            #expect(statuses.count == count, "got \(statuses.count) answers of \(count)")
            let expected = (0..<count).map { $0 % 2 == 0 ? 404 : 405 }
            #expect(statuses == Array(expected.prefix(statuses.count)), "answers out of order")
            #expect(received.count > 2_000_000, "the answers did not fill the socket (\(received.count) bytes)")
        }
    }
}

@Suite("Shell hooks as another user", .serialized)
struct ShellPrivilegeTests {
    func config(_ with: String) -> String {
        oneSourceConfig(
            rest: """
                routes:
                  - name: legacy
                    events: ["*"]
                    handlers:
                      - plugin: shell
                        with: { command: ["/usr/bin/id"], workingDirectory: /, \(with) }
                log:
                  level: debug
                """)
    }

    /// CI and this machine run the suite as root; elsewhere switching users is impossible.
    @Test(.enabled(if: geteuid() == 0, "switching users needs root"))
    func theHookRunsWithTheConfiguredUserAndGroup() throws {
        try withGateway(config("user: nobody, group: nogroup")) { (gw: GatewayProcess) throws -> Void in
            #expect(try TestClient(port: gw.port).roundTrip(numbered(1).bytes).status == 200)
            let line = gw.waitForLine { $0.contains("shell hook output") }
            #expect(line?.contains("uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)") == true, "\(line ?? "none")")
        }
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("g.yaml").path
        try config("user: no-such-user-here").replacing("@DIR@", with: dir.path).writeAtomically(to: path)
        let r = try runGateway(["check", "--config", path])
        #expect(r.status != 0 && r.output.contains("no user 'no-such-user-here'"))
    }
}
