import CSystem
import GatewayCore
import Glibc

/// Drives one accepted connection: reads, feeds the parser, hands requests to the responder one
/// at a time, writes answers in order, and enforces timeouts and back-pressure.
///
/// Life of a connection: reading requests -> (error or `Connection: close` or drain) -> writing
/// the last answer -> lingering close (write side shut, input drained for `lingerMs` so the
/// client sees the answer, not a reset) -> closed.
///
/// Memory: an idle connection holds no buffers (reads go through the loop's shared buffer; the
/// parser's and the output's storage is released between requests), so thousands of idle
/// keep-alive connections cost little more than their kernel sockets.
final class HTTPConnection: EventHandler, @unchecked Sendable {
    // Unchecked: every mutable field is touched only on `loop`'s thread. Other threads reach a
    // connection only through `ResponseCompletion`, which hops onto the loop.

    private enum Pending {
        case request(HTTPRequest)
        case continueRequested
        case error(GatewayError)
    }

    let fd: Int32
    unowned let loop: EventLoop
    let server: HTTPServer
    private let remote: SocketAddress

    private var parser: HTTPRequestParser
    private var events: [HTTPRequestParser.Event] = []
    private var queue: [Pending] = []
    private var inFlight: (seq: UInt64, head: HTTPRequestHead)?
    private var seq: UInt64 = 0
    private var served = 0
    private var processing = false

    private var output: [UInt8] = []
    private var outputOffset = 0
    private var interest: UInt32 = 0

    /// After the current output is written, shut down and linger.
    private var closeAfterWrite = false
    private var peerClosedRead = false
    private var lingerUntil: UInt64?
    private var lingerBytes = 0
    private(set) var closed = false

    private var lastPhase = HTTPRequestParser.Phase.idle
    private var phaseSince: UInt64
    private var lastActivity: UInt64
    private var writeSince: UInt64?

    /// Pipelined requests waiting beyond this many stop further reads (back-pressure).
    private static let maxQueued = 16
    /// Unsent output beyond this stops reads and dispatch until the client catches up.
    private static let outputHighWater = 1 << 20

    init(fd: Int32, loop: EventLoop, server: HTTPServer, remote: SocketAddress) {
        self.fd = fd
        self.loop = loop
        self.server = server
        self.remote = remote
        self.parser = HTTPRequestParser(limits: server.configuration.parser)
        self.phaseSince = loop.now
        self.lastActivity = loop.now
    }

    func start() throws(SystemError) {
        interest = GW_EPOLLIN
        try loop.register(fd: fd, events: interest, handler: self)
    }

    private var pendingOutput: Int { output.count - outputOffset }

    // MARK: - Events

    func handle(events ev: UInt32) {
        if ev & (GW_EPOLLIN | GW_EPOLLHUP | GW_EPOLLERR) != 0 { onReadable() }
        if closed { return }
        if ev & GW_EPOLLOUT != 0 { flush() }
        if !closed { updateInterest() }
    }

    private func onReadable() {
        let buf = loop.readBuffer
        var budget = 4  // reads per wake-up, so one busy client cannot monopolise the loop
        while budget > 0 && !closed {
            if lingerUntil == nil && !wantsRead { break }
            let n = recv(fd, buf.baseAddress, buf.count, 0)
            if n > 0 {
                lastActivity = loop.now
                if lingerUntil != nil {
                    lingerBytes += n
                    if lingerBytes > 1 << 20 { close() }
                    continue
                }
                parser.feed(UnsafeRawBufferPointer(start: buf.baseAddress, count: n), into: &events)
                if !events.isEmpty { takeEvents() }
                notePhase()
                if n < buf.count { break }
                budget -= 1
            } else if n == 0 {
                peerClosedRead = true
                if lingerUntil != nil || (inFlight == nil && queue.isEmpty && pendingOutput == 0) {
                    close()
                    return
                }
                break
            } else {
                let e = errno
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK { break }
                close()  // ECONNRESET and friends: nothing more to say to this peer
                return
            }
        }
        if !closed && lingerUntil == nil { processQueue() }
    }

    private var wantsRead: Bool {
        !peerClosedRead && !closeAfterWrite && parser.phase != .failed && queue.count < Self.maxQueued
            && pendingOutput < Self.outputHighWater
    }

    private func takeEvents() {
        for e in events {
            switch e {
            case .request(let r): queue.append(.request(r))
            case .continueRequested: queue.append(.continueRequested)
            case .error(let err):
                server.stats.protocolErrors.add(1, ordering: .relaxed)
                queue.append(.error(err))
            }
        }
        events.removeAll(keepingCapacity: true)
    }

    private func notePhase() {
        let p = parser.phase
        if p != lastPhase {
            lastPhase = p
            phaseSince = loop.now
        }
    }

    // MARK: - Dispatch

    private func processQueue() {
        guard !processing else { return }
        processing = true
        while inFlight == nil, !closeAfterWrite, !closed, pendingOutput < Self.outputHighWater, !queue.isEmpty {
            let item = queue.removeFirst()
            switch item {
            case .continueRequested:
                output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
            case .error(let e):
                HTTPResponse.error(e).serialize(keepAlive: false, date: loop.httpDate, into: &output)
                closeAfterWrite = true
                queue.removeAll()
            case .request(let r):
                seq += 1
                served += 1
                server.stats.requests.add(1, ordering: .relaxed)
                inFlight = (seq, r.head)
                let completion = ResponseCompletion(connection: self, seq: seq)
                server.responder.respond(
                    to: r, context: RequestContext(remote: remote, receivedAt: loop.now), completion: completion)
            }
        }
        processing = false
        if !closed { flush() }
    }

    /// Called (on the loop) with the answer to request `seq`.
    func deliver(seq: UInt64, response: HTTPResponse) {
        guard !closed, let f = inFlight, f.seq == seq else { return }
        inFlight = nil
        let limit = server.configuration.maxRequestsPerConnection
        var keepAlive = f.head.keepAlive && !response.closeConnection && !server.isDraining && !(limit > 0 && served >= limit)
        if peerClosedRead && queue.isEmpty { keepAlive = false }
        response.serialize(keepAlive: keepAlive, date: loop.httpDate, headOnly: f.head.method == "HEAD", into: &output)
        if !keepAlive {
            closeAfterWrite = true
            queue.removeAll()
        }
        lastActivity = loop.now
        phaseSince = loop.now
        if !processing {
            processQueue()
            if !closed { updateInterest() }
        }
    }

    // MARK: - Output

    private func flush() {
        while outputOffset < output.count {
            let n = output.withUnsafeBytes { buf -> Int in
                guard let base = buf.baseAddress else { return 0 }
                return send(fd, base + outputOffset, buf.count - outputOffset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                outputOffset += n
                lastActivity = loop.now
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if writeSince == nil { writeSince = loop.now }
                return
            } else {
                close()
                return
            }
        }
        writeSince = nil
        if output.capacity > 16 << 10 { output = [] } else { output.removeAll(keepingCapacity: true) }
        outputOffset = 0
        if closeAfterWrite && lingerUntil == nil { startLingeringClose() }
    }

    private func startLingeringClose() {
        if peerClosedRead {
            close()
            return
        }
        shutdown(fd, Int32(SHUT_WR))
        lingerUntil = loop.now + server.configuration.lingerMs
        queue.removeAll()
        parser = HTTPRequestParser(limits: server.configuration.parser)  // release its buffers
    }

    private func updateInterest() {
        var want: UInt32 = 0
        if lingerUntil != nil {
            want = GW_EPOLLIN
        } else {
            if wantsRead { want |= GW_EPOLLIN }
            if pendingOutput > 0 { want |= GW_EPOLLOUT }
        }
        if want != interest {
            interest = want
            loop.modify(fd: fd, events: want)
        }
    }

    // MARK: - Timeouts and shutdown

    func checkTimeouts(now: UInt64) {
        if closed { return }
        if let l = lingerUntil {
            if now >= l { close() }
            return
        }
        let cfg = server.configuration
        if pendingOutput > 0 {
            if let w = writeSince, now &- w > cfg.writeTimeoutMs { close() }
            return
        }
        if inFlight != nil || closeAfterWrite { return }
        switch parser.phase {
        case .idle:
            if queue.isEmpty && now &- lastActivity > cfg.idleTimeoutMs { close() }
        case .head:
            if now &- phaseSince > cfg.headerTimeoutMs { timeOut("timed out reading the request headers") }
        case .body:
            if now &- phaseSince > cfg.bodyTimeoutMs { timeOut("timed out reading the request body") }
        case .failed:
            break
        }
    }

    private func timeOut(_ message: String) {
        server.stats.timeouts.add(1, ordering: .relaxed)
        queue.append(.error(GatewayError(.requestTimeout, message)))
        processQueue()
        if !closed { updateInterest() }
    }

    /// Graceful shutdown: close now if nothing is under way; otherwise the connection closes
    /// after the answer to the request in progress (which gets `Connection: close`).
    func closeIfIdle() {
        if closed { return }
        if inFlight == nil && queue.isEmpty && pendingOutput == 0 && parser.phase == .idle && lingerUntil == nil {
            close()
        }
    }

    /// True while a request is being received, handled or answered.
    var isBusy: Bool {
        !closed && (inFlight != nil || !queue.isEmpty || pendingOutput > 0 || parser.phase == .head || parser.phase == .body)
    }

    func close() {
        guard !closed else { return }
        closed = true
        loop.unregister(fd: fd)
        _ = Glibc.close(fd)
        output = []
        queue = []
        server.stats.open.subtract(1, ordering: .relaxed)
        server.connectionClosed()
    }
}
