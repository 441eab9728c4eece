import CSystem
import Foundation
import Glibc
import Testing

@testable import GatewayHTTP

/// The io_uring send batch (`gw_uring_send_batch`), on real sockets. Skipped where the kernel
/// offers no usable io_uring (the gateway then sends one by one, the path every other test of a
/// server with `GATEWAY_IO_URING=off` runs).
@Suite("Send batch (io_uring)", .enabled(if: SendBatch.make() != nil, "io_uring is not available here"))
struct SendBatchTests {
    /// A connected non-blocking AF_UNIX stream pair: [0] is written by the batch, [1] read back.
    private func socketPair() throws -> (Int32, Int32) {
        var sv: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &sv) == 0 else {
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        return (sv[0], sv[1])
    }

    private func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    /// Calls the batch on (fd, bytes) pairs; returns the results.
    private func send(_ items: [(Int32, [UInt8])], ring: OpaquePointer) -> (status: Int32, results: [Int32]) {
        var staging: [UInt8] = []
        var fds: [Int32] = [], offsets: [UInt32] = [], lengths: [UInt32] = []
        for (fd, bytes) in items {
            fds.append(fd)
            offsets.append(UInt32(staging.count))
            lengths.append(UInt32(bytes.count))
            staging += bytes
        }
        var results = [Int32](repeating: 12345, count: items.count)
        let status = staging.withUnsafeBufferPointer {
            gw_uring_send_batch(ring, fds, $0.baseAddress, offsets, lengths, &results, UInt32(items.count))
        }
        return (status, results)
    }

    @Test func everySocketGetsItsOwnBytesInOneCall() throws {
        let ring = try #require(gw_uring_create(8))
        defer { gw_uring_destroy(ring) }
        // More sockets than ring slots: the batch goes in several submissions.
        var pairs: [(Int32, Int32)] = []
        for _ in 0..<20 { pairs.append(try socketPair()) }
        defer { for (a, b) in pairs { close(a); close(b) } }
        let items = pairs.enumerated().map { (i, p) in (p.0, Array("answer \(i) ".utf8) + [UInt8](repeating: UInt8(65 + i), count: i * 7)) }
        let (status, results) = send(items, ring: ring)
        #expect(status == 0)
        for (i, p) in pairs.enumerated() {
            #expect(results[i] == Int32(items[i].1.count), "socket \(i)")
            #expect(readAll(p.1) == items[i].1, "socket \(i)")
        }
    }

    @Test func aFullSocketAnswersEAGAINAndTheOthersStillGetTheirBytes() throws {
        let ring = try #require(gw_uring_create(8))
        defer { gw_uring_destroy(ring) }
        let full = try socketPair()
        let ok = try socketPair()
        defer { for fd in [full.0, full.1, ok.0, ok.1] { close(fd) } }
        let chunk = [UInt8](repeating: 120, count: 4096)
        var filled = 0
        while filled < 64 << 20 {
            let n = Glibc.send(full.0, chunk, chunk.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            if n <= 0 { break }
            filled += n
        }
        #expect(filled > 0 && filled < 64 << 20)
        let (status, results) = send([(full.0, Array("late".utf8)), (ok.0, Array("on time".utf8))], ring: ring)
        #expect(status == 0)
        #expect(results[0] == -EAGAIN)  // at once: the call never waits for a slow reader
        #expect(results[1] == 7)
        #expect(readAll(ok.1) == Array("on time".utf8))
    }

    @Test func badDescriptorsFailAloneAndAClosedPeerIsReported() throws {
        let ring = try #require(gw_uring_create(8))
        defer { gw_uring_destroy(ring) }
        let a = try socketPair()
        let b = try socketPair()
        close(b.1)  // the peer went away: EPIPE (no SIGPIPE: MSG_NOSIGNAL)
        let file = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { for fd in [a.0, a.1, b.0, file] { close(fd) } }
        // -1 is never a descriptor (a closed number could be reused by a test running alongside).
        let (status, results) = send([(-1, [1, 2]), (b.0, [3]), (file, [7]), (a.0, [4, 5, 6])], ring: ring)
        #expect(status == 0)
        #expect(results[0] == -EBADF)
        #expect(results[1] == -EPIPE)
        #expect(results[2] == -ENOTSOCK)
        #expect(results[3] == 3)
        #expect(readAll(a.1) == [4, 5, 6])
    }

    @Test func theEnvironmentSwitchTurnsBatchingOff() throws {
        // The parsing, not the process environment: tests run in parallel threads, and setenv
        // racing another thread's getenv is undefined behaviour in glibc.
        for off in ["off", "OFF", "0", "false", "no"] { #expect(!SendBatch.enabled(setting: off), "\(off)") }
        for on in [nil, "on", "1", "true", "yes", ""] as [String?] { #expect(SendBatch.enabled(setting: on), "\(on ?? "unset")") }
        #expect(try EventLoop(index: 0, batchSends: false).sendBatch == nil)
        #expect(try EventLoop(index: 1, batchSends: true).sendBatch != nil)
    }
}

/// Answers each request `GET /<n>` with `size` bytes starting `answer <n> ` (padded with `a`), from another thread:
/// each answer then reaches its connection on its own, as the spool's group commit makes them.
private struct LargeAnswers: HTTPResponder {
    let size: Int
    func respond(to request: HTTPRequest, context: RequestContext, completion: ResponseCompletion) {
        let n = Int(request.head.target.dropFirst()) ?? -1
        DispatchQueue.global().async {
            var body = Array("answer \(n) ".utf8)
            body += repeatElement(UInt8(ascii: "a"), count: size - body.count)
            completion(HTTPResponse(status: 200, body: body))
        }
    }
}

/// The server's write path against a client that stops reading: sends come back short or with
/// EAGAIN (inside an io_uring batch or from `send()`), the rest waits for the socket to drain,
/// and every answer still arrives, whole and in order.
@Suite("Answers to a client that stops reading")
struct StalledReaderTests {
    /// Large answers mostly meet a socket with some room (a short send); small ones mostly meet
    /// a socket with none (EAGAIN).
    @Test(arguments: [true, false], [20_000, 120]) func everyAnswerArrivesWholeAndInOrder(batchSends: Bool, size: Int) throws {
        let loopback = try LoopbackServer(responder: LargeAnswers(size: size), batchSends: batchSends)
        defer { loopback.stop() }
        let server = loopback.server
        let fd = try loopback.connect { fd in
            var small: Int32 = 4096  // before connecting: the window stays small
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        }
        defer { close(fd) }
        let count = 4_000_000 / (size + 80)  // 4 MB of answers
        let requests = Array((0..<count).map { "GET /\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined().utf8)
        var sent = 0
        while sent < requests.count {
            let n = requests[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            try #require(n > 0)
            sent += n
        }
        // Wait (bounded) until the server found the socket full, then read everything. Well under
        // a second normally; the bound is for sanitizer builds, which run ten times slower.
        let deadline = Date().addingTimeInterval(60)
        while server.stats.writeStalls.load(ordering: .relaxed) == 0 && Date() < deadline { usleep(1000) }
        #expect(server.stats.writeStalls.load(ordering: .relaxed) > 0)
        var received: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        var answers = 0
        var scan = 0
        let marker = Array("HTTP/1.1 200 OK\r\n".utf8)
        var order: [Int] = []
        while answers < count {
            let n = recv(fd, &buf, buf.count, 0)
            guard n > 0 else { break }
            received += buf[0..<n]
            // Each answer: head, then a body that starts `answer <n> `.
            while let r = received[scan...].firstRange(of: marker), let bodyStart = received[r.upperBound...].firstRange(of: Array("\r\n\r\n".utf8)) {
                let bodyFrom = bodyStart.upperBound
                guard received.count >= bodyFrom + size else { break }
                let body = received[bodyFrom..<bodyFrom + size]
                let words = String(decoding: body.prefix(20), as: UTF8.self).split(separator: " ")
                order.append(words.count > 1 ? Int(words[1]) ?? -1 : -1)
                #expect(body.suffix(size / 2).allSatisfy { $0 == UInt8(ascii: "a") })
                answers += 1
                scan = bodyFrom + size
            }
        }
        // Compared without printing 40,000 numbers on a failure.
        let firstWrong = order.indices.first { order[$0] != $0 }
        #expect(order.count == count, "\(order.count) answers of \(count)")
        #expect(firstWrong == nil, "answer \(firstWrong ?? -1) is \(firstWrong.map { order[$0] } ?? -1)")
        #expect(received.count == scan, "bytes after the last answer")
    }
}

/// Pipelined requests on one connection are answered in order, HEAD without a body, and a
/// malformed one gets its 400 after the answers before it and is counted once as a protocol
/// error (requests: the two well-formed ones).
@Suite("A connection's queue")
struct ConnectionQueueTests {
    private struct Echo: HTTPResponder {
        func respond(to request: HTTPRequest, context: RequestContext, completion: ResponseCompletion) {
            completion(HTTPResponse(status: 200, body: Array("\(request.head.method) \(request.head.target)".utf8)))
        }
    }

    @Test func pipelinedAnswersInOrderThenTheErrorCountedOnce() throws {
        let loopback = try LoopbackServer(responder: Echo())
        defer { loopback.stop() }
        let server = loopback.server
        let fd = try loopback.connect()
        defer { close(fd) }
        let requests = "GET /one HTTP/1.1\r\nHost: x\r\n\r\nHEAD /two HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
        _ = Array(requests.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var received: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {  // until the server closes (after the 400), or the receive timeout
            let n = recv(fd, &buf, buf.count, 0)
            guard n > 0 else { break }
            received += buf[0..<n]
        }
        let text = String(decoding: received, as: UTF8.self)
        let one = try #require(text.range(of: "GET /one"))
        let two = try #require(text.range(of: "HTTP/1.1 200", range: one.upperBound..<text.endIndex))
        let bad = try #require(text.range(of: "HTTP/1.1 400", range: two.upperBound..<text.endIndex))
        #expect(!text[two.upperBound..<bad.lowerBound].contains("HEAD /two"), "a HEAD answer has no body")
        #expect(text.hasSuffix("}"), "the 400's JSON body ends the stream")
        #expect(server.stats.protocolErrors.load(ordering: .relaxed) == 1)
        #expect(server.stats.requests.load(ordering: .relaxed) == 2)
    }
}

/// A server on one event loop at 127.0.0.1, and blocking client sockets to it (10 s receive
/// timeout: every wait in these tests is bounded).
private final class LoopbackServer {
    let group: EventLoopGroup
    let socket: ListeningSocket
    let server: HTTPServer

    init(responder: some HTTPResponder, batchSends: Bool? = nil) throws {
        group = try EventLoopGroup(count: 1, batchSends: batchSends)
        socket = try ListeningSocket(address: SocketAddress(host: "127.0.0.1", port: 0))
        server = HTTPServer(socket: socket, group: group, configuration: HTTPServerConfiguration(), responder: responder, logger: .disabled)
        group.start()
        server.start()
    }

    func stop() {
        server.stopAccepting()
        group.stop()
    }

    /// A connected socket; `before` sets options that must precede the connect.
    func connect(before: (Int32) -> Void = { _ in }) throws -> Int32 {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        before(fd)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        do {
            try socket.address.withSockAddr { sa, len throws(SystemError) in
                guard Glibc.connect(fd, sa, len) == 0 else { throw SystemError("connect") }
            }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }
}
