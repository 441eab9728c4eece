import CSystem
import GatewayCore
import GatewayCrypto
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

    // The mutable state below is `@exclusivity(unchecked)`: it is confined to the loop thread,
    // and the run-time exclusivity check on every access to a class's stored `var` cost about
    // 30 checks and 4,000 instructions per request (3% of the front door's own work). The
    // static checks still apply; the parser and connection tests (split at every offset, with
    // pipelining and fuzzing) run the paths that could overlap.
    let fd: Int32
    unowned let loop: EventLoop
    let server: HTTPServer
    private let remote: SocketAddress

    @exclusivity(unchecked) private var parser: HTTPRequestParser
    /// What the parser made and is not answered yet, in order: it feeds this queue directly.
    /// (Feeding a separate array and moving each event over retained and released a request's
    /// strings and arrays twice more.)
    @exclusivity(unchecked) private var queue: [HTTPRequestParser.Event] = []
    /// The request being answered: what its answer needs of it (not a copy of its head, whose
    /// strings and header array were retained and released for two booleans).
    @exclusivity(unchecked) private var inFlight: (seq: UInt64, keepAlive: Bool, isHead: Bool)?
    @exclusivity(unchecked) private var seq: UInt64 = 0
    @exclusivity(unchecked) private var served = 0
    @exclusivity(unchecked) private var processing = false

    @exclusivity(unchecked) private var output: [UInt8] = []
    @exclusivity(unchecked) private var outputOffset = 0
    @exclusivity(unchecked) private var interest: UInt32 = 0
    /// The pending output waits in the loop's `SendBatch` for the end of the iteration.
    @exclusivity(unchecked) private var sendQueued = false

    /// After the current output is written, shut down and linger.
    @exclusivity(unchecked) private var closeAfterWrite = false
    @exclusivity(unchecked) private var peerClosedRead = false
    @exclusivity(unchecked) private var lingerUntil: UInt64?
    @exclusivity(unchecked) private var lingerBytes = 0
    @exclusivity(unchecked) private(set) var closed = false

    /// The TLS session on a TLS listener. OpenSSL may need the opposite readiness from the one
    /// the caller waits for (a read that must first write handshake bytes, a write that must read
    /// a key update): the flags remember it, so the loop watches for that event too.
    @exclusivity(unchecked) private var tls: TLSSession?
    @exclusivity(unchecked) private var tlsEstablished = false
    @exclusivity(unchecked) private var tlsReadWantsWritable = false
    @exclusivity(unchecked) private var tlsWriteWantsReadable = false

    @exclusivity(unchecked) private var lastPhase = HTTPRequestParser.Phase.idle
    @exclusivity(unchecked) private var phaseSince: UInt64
    @exclusivity(unchecked) private var lastActivity: UInt64
    @exclusivity(unchecked) private var writeSince: UInt64?

    /// Pipelined requests waiting beyond this many stop further reads (back-pressure).
    private static let maxQueued = 16
    /// Unsent output beyond this stops reads and dispatch until the client catches up.
    private static let outputHighWater = 1 << 20

    init(fd: Int32, loop: EventLoop, server: HTTPServer, remote: SocketAddress, tls: TLSSession? = nil) {
        self.fd = fd
        self.tls = tls
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
        let readable = ev & (GW_EPOLLIN | GW_EPOLLHUP | GW_EPOLLERR) != 0
        let writable = ev & GW_EPOLLOUT != 0
        if readable || (writable && tlsReadWantsWritable) {
            tlsReadWantsWritable = false
            onReadable()
        }
        if closed { return }
        if writable || (readable && tlsWriteWantsReadable) {
            tlsWriteWantsReadable = false
            flush()
        }
        if !closed { updateInterest() }
    }

    /// Outcome of one read from the peer.
    private enum ReadResult {
        case bytes(Int)
        case eof
        case wouldBlock
        case failed
    }

    /// One read: plain `recv`, or TLS (the handshake happens inside the first reads). While
    /// lingering, raw bytes are drained without decrypting them.
    private func readSome(_ buf: UnsafeMutableRawBufferPointer) -> ReadResult {
        guard let tls, lingerUntil == nil else {
            while true {
                let n = recv(fd, buf.baseAddress, buf.count, 0)
                if n > 0 { return .bytes(n) }
                if n == 0 { return .eof }
                let e = errno
                if e == EINTR { continue }
                return e == EAGAIN || e == EWOULDBLOCK ? .wouldBlock : .failed
            }
        }
        switch tls.read(into: buf) {
        case .bytes(let n):
            tlsEstablished = true
            return .bytes(n)
        case .wantRead: return .wouldBlock
        case .wantWrite:
            tlsReadWantsWritable = true
            return .wouldBlock
        case .closed: return .eof
        case .failed:
            // A bad handshake (or a later protocol error): nothing can be answered.
            if !tlsEstablished { server.stats.tlsHandshakeFailures.add(1, ordering: .relaxed) }
            return .failed
        }
    }

    /// One write: bytes taken, nil when the socket cannot take more now, -1 on a dead connection.
    private func writeSome(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let tls else {
            while true {
                let n = send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
                if n > 0 { return n }
                if n == 0 { return -1 }
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK ? nil : -1
            }
        }
        switch tls.write(bytes) {
        case .bytes(let n): return n
        case .wantWrite: return nil
        case .wantRead:
            tlsWriteWantsReadable = true
            return nil
        case .closed, .failed: return -1
        }
    }

    private func onReadable() {
        let buf = loop.readBuffer
        var budget = 4  // reads per wake-up, so one busy client cannot monopolise the loop
        while budget > 0 && !closed {
            if lingerUntil == nil && !wantsRead { break }
            switch readSome(buf) {
            case .bytes(let n):
                lastActivity = loop.now
                if lingerUntil != nil {
                    lingerBytes += n
                    if lingerBytes > 1 << 20 { close() }
                    continue
                }
                let before = queue.count
                parser.feed(UnsafeRawBufferPointer(start: buf.baseAddress, count: n), into: &queue)
                if queue.count > before { countProtocolErrors(from: before) }
                notePhase()
                // Decrypted bytes still inside OpenSSL do not make the socket readable: take them now.
                if n < buf.count && (tls?.pending ?? 0) == 0 { break }
                budget -= 1
                continue
            case .eof:
                peerClosedRead = true
                if lingerUntil != nil || (inFlight == nil && queue.isEmpty && pendingOutput == 0) {
                    close()
                    return
                }
            case .wouldBlock:
                break
            case .failed:
                close()  // ECONNRESET, a failed TLS handshake: nothing more to say to this peer
                return
            }
            break
        }
        if !closed && lingerUntil == nil { processQueue() }
        // Out of budget with decrypted bytes left in OpenSSL: epoll will not report them.
        if !closed, budget == 0, let tls, tls.pending > 0 {
            loop.execute { [self] in if !closed { handle(events: GW_EPOLLIN) } }
        }
    }

    private var wantsRead: Bool {
        !peerClosedRead && !closeAfterWrite && parser.phase != .failed && queue.count < Self.maxQueued
            && pendingOutput < Self.outputHighWater
    }

    /// Counts the parser's errors among the events queued from `start` on.
    private func countProtocolErrors(from start: Int) {
        for i in start..<queue.count {
            if case .error = queue[i] { server.stats.protocolErrors.add(1, ordering: .relaxed) }
        }
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
                inFlight = (seq, r.head.keepAlive, r.head.method == "HEAD")
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
        var keepAlive = f.keepAlive && !response.closeConnection && !server.isDraining && !(limit > 0 && served >= limit)
        if peerClosedRead && queue.isEmpty { keepAlive = false }
        response.serialize(keepAlive: keepAlive, date: loop.httpDate, headOnly: f.isHead, into: &output)
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

    /// Sends the pending output: at the end of the loop's iteration with every other answer of
    /// that iteration (`SendBatch`), or now when the loop does not batch (TLS, large output, no
    /// io_uring).
    private func flush() {
        if sendQueued { return }  // the batch takes whatever is pending when it runs
        if tls == nil, pendingOutput > 0, pendingOutput <= SendBatch.maxStagedBytes, let batch = loop.sendBatch, !batch.disabled {
            sendQueued = true
            batch.add(self)
            return
        }
        flushNow()
    }

    /// Copies the pending output to the end of `staging` for the batch; returns the byte count
    /// (0 when closed).
    func stagePendingOutput(into staging: inout [UInt8]) -> Int {
        guard !closed, pendingOutput > 0 else { return 0 }
        output.withUnsafeBufferPointer { b in
            staging.append(contentsOf: UnsafeBufferPointer(rebasing: b[outputOffset...]))
        }
        return pendingOutput
    }

    /// What the batch's send did: bytes taken, or -errno, or nil when nothing was staged. The
    /// rest (a short send, a full socket, a batch the kernel refused) goes the ordinary way.
    func batchedSendCompleted(_ result: Int32?) {
        sendQueued = false
        if closed { return }
        if let r = result {
            if r > 0 {
                outputOffset += Int(r)
                lastActivity = loop.now
            } else if r == -EAGAIN || r == -EWOULDBLOCK {
                // The socket is full: wait for EPOLLOUT (a `send()` now would only say so again).
                noteWriteStall()
                updateInterest()
                return
            } else if r == 0 || (r != -EINTR && r != -ECANCELED) {
                close()  // EPIPE, ECONNRESET...: the peer is gone
                return
            }
        }
        flushNow()
        if !closed { updateInterest() }
    }

    /// The client's socket is full: the write timeout runs from now, and the stall is counted.
    private func noteWriteStall() {
        if writeSince == nil {
            writeSince = loop.now
            server.stats.writeStalls.add(1, ordering: .relaxed)
        }
    }

    private func flushNow() {
        while outputOffset < output.count {
            let n = output.withUnsafeBytes { buf -> Int? in
                guard let base = buf.baseAddress else { return 0 }
                return writeSome(UnsafeRawBufferPointer(start: base + outputOffset, count: buf.count - outputOffset))
            }
            guard let n else {
                noteWriteStall()
                return
            }
            if n > 0 {
                outputOffset += n
                lastActivity = loop.now
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
        tls?.shutdown()  // close_notify before the TCP half-close
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
            if wantsRead || tlsWriteWantsReadable { want |= GW_EPOLLIN }
            if (pendingOutput > 0 && !sendQueued) || tlsReadWantsWritable { want |= GW_EPOLLOUT }
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
        // A TLS handshake counts as reading headers: a client that opens and stalls is cut off
        // after `headerTimeoutMs`, not kept for the idle timeout.
        if tls != nil && !tlsEstablished {
            if now &- phaseSince > cfg.headerTimeoutMs {
                server.stats.timeouts.add(1, ordering: .relaxed)
                close()
            }
            return
        }
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
        tls = nil  // SSL_free before the descriptor goes
        _ = Glibc.close(fd)
        output = []
        queue = []
        server.stats.open.subtract(1, ordering: .relaxed)
        server.connectionClosed()
    }
}
