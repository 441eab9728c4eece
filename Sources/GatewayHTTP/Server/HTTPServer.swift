import CSystem
import GatewayCore
import GatewayCrypto
import Glibc
import Synchronization

/// An HTTP/1.1 listener: one listening socket, accepted on every loop of a group, with its own
/// responder, limits and counters. The public notification port and the admin port are two of
/// these sharing one group.
public final class HTTPServer: Sendable {
    public let socket: ListeningSocket
    public let configuration: HTTPServerConfiguration
    public let responder: any HTTPResponder
    public let stats = HTTPServerStats()
    let group: EventLoopGroup
    let logger: Logger
    private let draining = Atomic<Bool>(false)
    private let listenersRemaining = Atomic<Int>(0)
    /// Called (from a loop thread) whenever the last busy connection closes while draining.
    private let onConnectionClosed = Locked<(@Sendable () -> Void)?>(nil)
    /// The certificate new connections get (nil: plain HTTP). A reload swaps it; open
    /// connections keep the one they started with.
    private let tlsContext: Locked<TLSServerContext?>

    public init(
        socket: ListeningSocket, group: EventLoopGroup, configuration: HTTPServerConfiguration, responder: any HTTPResponder,
        logger: Logger, tls: TLSServerContext? = nil
    ) {
        self.tlsContext = Locked(tls)
        self.socket = socket
        self.group = group
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
    }

    public var address: SocketAddress { socket.address }

    /// Whether this listener speaks TLS.
    public var isTLS: Bool { tlsContext.withLock { $0 != nil } }
    var currentTLS: TLSServerContext? { tlsContext.withLock { $0 } }

    /// Installs a reloaded certificate and key for new connections (TLS listeners only).
    public func replaceTLS(_ context: TLSServerContext) {
        tlsContext.withLock { if $0 != nil { $0 = context } }
    }
    /// The listener's name (`public`, `admin`): a metric label and a log field.
    public var name: String { configuration.name }
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Starts accepting on every loop.
    public func start() {
        listenersRemaining.store(group.loops.count, ordering: .relaxed)
        for loop in group.loops {
            loop.execute { [self] in
                let l = Listener(server: self, loop: loop)
                do {
                    try l.start()
                } catch {
                    logger.error("cannot watch the listening socket", [("listener", .string(configuration.name)), ("error", .string("\(error)"))])
                }
            }
        }
    }

    /// Stops accepting new connections: every loop forgets the listening socket, then it is closed.
    public func stopAccepting() {
        for loop in group.loops {
            loop.execute { [self] in
                loop.forEachHandler(of: Listener.self) { l in if l.server === self { l.stop() } }
                if listenersRemaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { socket.close() }
            }
        }
    }

    /// Graceful shutdown: stop accepting; close idle connections now and busy ones once they
    /// have answered their current request. `onIdle` runs when no connection remains open.
    public func drain(onIdle: @escaping @Sendable () -> Void) {
        draining.store(true, ordering: .relaxed)
        onConnectionClosed.withLock { $0 = onIdle }
        stopAccepting()
        for loop in group.loops {
            loop.execute { [self] in
                loop.forEachHandler(of: HTTPConnection.self) { c in if c.serverIs(self) { c.closeIfIdle() } }
                checkIdle()
            }
        }
    }

    /// Connections open on this listener right now.
    public var openConnections: Int { stats.open.load(ordering: .relaxed) }

    func connectionClosed() {
        if draining.load(ordering: .relaxed) { checkIdle() }
    }

    private func checkIdle() {
        if stats.open.load(ordering: .relaxed) == 0, let cb = onConnectionClosed.withLock({ cb -> (@Sendable () -> Void)? in
            let c = cb
            cb = nil
            return c
        }) {
            cb()
        }
    }
}

extension HTTPConnection {
    func serverIs(_ s: HTTPServer) -> Bool { server === s }
}

/// Accepts connections for one server on one loop. The listening socket is shared by every loop
/// (registered with EPOLLEXCLUSIVE, so one wake-up does not stampede all threads).
final class Listener: EventHandler {
    let server: HTTPServer
    unowned let loop: EventLoop
    private var registered = false
    private var stopped = false

    /// One descriptor held in reserve: when accept() fails for lack of descriptors, it is freed
    /// to accept and close the waiting connection, so the kernel does not keep reporting it and
    /// the loop does not spin.
    nonisolated(unsafe) private static var spareFD: Int32 = open("/dev/null", O_RDONLY | O_CLOEXEC)
    private static let spareLock = Locked<Void>(())

    init(server: HTTPServer, loop: EventLoop) {
        self.server = server
        self.loop = loop
    }

    func start() throws(SystemError) {
        try loop.register(fd: server.socket.fd, events: GW_EPOLLIN | GW_EPOLLEXCLUSIVE, handler: self)
        registered = true
    }

    func stop() {
        stopped = true
        if registered {
            loop.unregister(fd: server.socket.fd)
            registered = false
        }
    }

    func handle(events: UInt32) {
        let cfg = server.configuration
        for _ in 0..<64 {
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    gw_accept(server.socket.fd, $0, &len, 1)
                }
            }
            if fd < 0 {
                switch errno {
                case EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    descriptorsExhausted()
                    return
                default: return  // EAGAIN: nothing more to accept
                }
            }
            server.stats.accepted.add(1, ordering: .relaxed)
            if server.isDraining || server.stats.open.load(ordering: .relaxed) >= cfg.maxConnections {
                server.stats.refused.add(1, ordering: .relaxed)
                _ = Glibc.close(fd)
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var tls: TLSSession? = nil
            if let ctx = server.currentTLS {
                guard let session = ctx.accept(fd: fd) else {
                    _ = Glibc.close(fd)
                    continue
                }
                tls = session
            }
            let conn = HTTPConnection(fd: fd, loop: loop, server: server, remote: SocketAddress.from(storage), tls: tls)
            server.stats.open.add(1, ordering: .relaxed)
            do {
                try conn.start()
            } catch {
                conn.close()
            }
        }
    }

    private func descriptorsExhausted() {
        let count = server.stats.descriptorExhaustion.add(1, ordering: .relaxed).newValue
        Listener.spareLock.withLock { _ in
            if Listener.spareFD >= 0 {
                _ = Glibc.close(Listener.spareFD)
                let fd = gw_accept(server.socket.fd, nil, nil, 0)
                if fd >= 0 { _ = Glibc.close(fd) }
                Listener.spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
            }
        }
        // Stop watching the socket briefly, whatever happened: never spin on a socket we cannot serve.
        if registered {
            loop.unregister(fd: server.socket.fd)
            registered = false
            loop.schedule(afterMs: 100) { [self] in
                if !stopped { try? start() }
            }
        }
        if count % 1000 == 1 {  // the first time, then every thousandth
            server.logger.warning(
                "out of file descriptors; refusing new connections for a moment",
                [("listener", .string(server.configuration.name))])
        }
    }
}
