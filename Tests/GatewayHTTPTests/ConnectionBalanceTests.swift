import Foundation
import GatewayCore
import Glibc
import Testing

@testable import GatewayHTTP

/// Answers every request with 200.
private struct OKResponder: HTTPResponder {
    func respond(to request: HTTPRequest, context: RequestContext, completion: ResponseCompletion) {
        completion(HTTPResponse.text(200, "ok"))
    }
}

@Suite("Connections across loops")
struct ConnectionBalanceTests {
    /// Connections waiting to be accepted when the loops start (a client opening all of its
    /// connections at once) are shared between the loops, not all served by the loop that woke
    /// first; each answers on its own loop.
    @Test func aBurstOfConnectionsIsSharedBetweenTheLoops() throws {
        let group = try EventLoopGroup(count: 2)
        let socket = try ListeningSocket(address: SocketAddress(host: "127.0.0.1", port: 0))
        let server = HTTPServer(
            socket: socket, group: group, configuration: HTTPServerConfiguration(), responder: OKResponder(), logger: .disabled)
        defer {
            server.drain {}
            group.stop()
        }
        // Connected before any loop runs: the kernel completes the handshakes into the backlog,
        // so the first loop to wake finds all 40 waiting.
        var clients: [Int32] = []
        defer { for fd in clients { close(fd) } }
        for _ in 0..<40 {
            let fd = socket_tcp_connect(port: server.address.port)
            try #require(fd >= 0)
            clients.append(fd)
        }
        group.start()
        server.start()
        let counted = eventuallyTrue { group.loops.reduce(0) { $0 + $1.connections.load(ordering: .relaxed) } == 40 }
        #expect(counted)
        let perLoop = group.loops.map { $0.connections.load(ordering: .relaxed) }
        #expect(perLoop.allSatisfy { $0 >= 15 }, "connections per loop: \(perLoop)")
        // Every connection is served where it was placed.
        for fd in clients {
            let request = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
            #expect(Glibc.send(fd, request, request.count, 0) == request.count)
            var buf = [UInt8](repeating: 0, count: 512)
            var tv = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let n = recv(fd, &buf, buf.count, 0)
            #expect(n > 0 && String(decoding: buf[0..<max(0, n)], as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        }
        // Closed connections are counted off their loops.
        for fd in clients { close(fd) }
        clients = []
        #expect(eventuallyTrue { group.loops.allSatisfy { $0.connections.load(ordering: .relaxed) == 0 } })
    }
}

/// A blocking TCP connection to 127.0.0.1:`port` (-1 on failure).
private func socket_tcp_connect(port: Int) -> Int32 {
    let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return -1 }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let r = withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if r != 0 {
        close(fd)
        return -1
    }
    return fd
}

/// Waits (at most 10 s, checking every 10 ms) until `condition` holds.
private func eventuallyTrue(_ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
