import GatewayConfig
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import GatewaySignature
import GatewaySpool
import Synchronization

/// The public endpoint: find the source by path, verify the signature (before the body is
/// parsed), classify, log and acknowledge.
///
/// Answers (see `GatewayError+HTTPStatus.swift` for the table): 404 unknown path, 405 other
/// methods on a source path, 401 signature problems, 400 content problems, 200 + the source's
/// ack body when accepted.
public final class IngressResponder: HTTPResponder {
    private let state: GatewayState
    private let logger: Logger
    private let dispatcher: Dispatcher
    private let metrics: GatewayMetrics
    /// Whether the event loops that call this responder run `dispatcher.spool.commitDeferred`
    /// at the end of each iteration (see `EventLoop.addIterationHook`): then a stored
    /// notification is only queued, and each iteration commits (or hands to the writer) once.
    private let spoolWakeAtIterationEnd: Bool

    public init(state: GatewayState, dispatcher: Dispatcher, logger: Logger, metrics: GatewayMetrics, spoolWakeAtIterationEnd: Bool = false) {
        self.state = state
        self.dispatcher = dispatcher
        self.logger = logger
        self.metrics = metrics
        self.spoolWakeAtIterationEnd = spoolWakeAtIterationEnd
    }

    /// The metric series a thread has counted answers in, by labels. Found in the metric
    /// families once per thread: a family lookup takes the family's lock (shared by both loops)
    /// and hashes an array of label strings. Bounded: sources x statuses x event labels.
    final class SeriesCache {
        struct Key: Hashable {
            let source: String
            let status: Int
            let eventCode: String
        }
        // One thread's (see `series`): no run-time exclusivity check needed.
        @exclusivity(unchecked) private var requests = Lookup<Key, Counter>()
        @exclusivity(unchecked) private var seconds = Lookup<String, Histogram>()

        /// Series by labels, the one used last checked first: most requests repeat the labels
        /// of the one before (one source, 200, one event code), and comparing small strings
        /// costs less than hashing them for the dictionary (some 350 instructions per lookup).
        struct Lookup<Labels: Hashable, Series> {
            private var all: [Labels: Series] = [:]
            private var last: (labels: Labels, series: Series)?

            mutating func series(_ labels: Labels, make: () -> Series) -> Series {
                if let last, last.labels == labels { return last.series }
                let s: Series
                if let found = all[labels] {
                    s = found
                } else {
                    s = make()
                    all[labels] = s
                }
                last = (labels, s)
                return s
            }
        }

        func count(_ metrics: GatewayMetrics, source: String, status: Int, eventCode: String) {
            requests.series(Key(source: source, status: status, eventCode: eventCode)) {
                metrics.requests.labels(source, String(status), eventCode)
            }.add()
        }

        func latency(_ metrics: GatewayMetrics, source: String) -> Histogram {
            seconds.series(source) { metrics.requestSeconds.labels(source) }
        }
    }

    private let series = PerThread { SeriesCache() }

    /// Counts the answer (`gateway_requests_total`, and the latency for a known source) and sends it.
    private static func answer(
        _ r: HTTPResponse, source: String?, eventCode: EventCode?, since t0: UInt64, metrics: GatewayMetrics, series: PerThread<SeriesCache>,
        _ completion: ResponseCompletion, then: (@Sendable () -> Void)? = nil
    ) {
        let cache = series.current
        cache.count(metrics, source: source ?? "", status: r.status, eventCode: GatewayMetrics.eventCodeLabel(eventCode))
        if let source { cache.latency(metrics, source: source).observe(sinceNs: t0) }
        completion(r, then: then)
    }

    public func respond(to request: HTTPRequest, context: RequestContext, completion: ResponseCompletion) {
        let t0 = monotonicNanoseconds()
        let table = state.sources
        let head = request.head
        let metrics = self.metrics
        let series = self.series
        guard let source = table.source(forPath: head.path) else {
            logger.debug("no source at this path", [("status", 404), ("remote", .string(context.remote.host))])
            return Self.answer(.error(GatewayError(.notFound, "no notification source at this path")), source: nil, eventCode: nil, since: t0, metrics: metrics, series: series, completion)
        }
        // Who may call, then how often: both before any signature work (SM2 verification is the
        // most expensive thing a client can make the gateway do).
        guard source.allows(context.remote.host) else {
            logger.warning("request from an address outside allowFrom", [("source", .string(source.name)), ("remote", .string(context.remote.host))])
            return Self.answer(
                .error(GatewayError(.forbidden, "this address may not send notifications here", reason: "address_not_allowed")),
                source: source.name, eventCode: nil, since: t0, metrics: metrics, series: series, completion)
        }
        if let limiter = source.rateLimiter {
            let (ok, wait) = limiter.take(nowNs: t0)
            if !ok {
                metrics.rateLimited.labels(source.name).add()
                var e = GatewayError(.tooManyRequests, "too many notifications; retry later", reason: "rate_limited")
                e.retryAfterSeconds = wait
                return Self.answer(.error(e), source: source.name, eventCode: nil, since: t0, metrics: metrics, series: series, completion)
            }
        }
        guard head.method == "POST" else {
            return Self.answer(.error(GatewayError(.methodNotAllowed, "use POST")), source: source.name, eventCode: nil, since: t0, metrics: metrics, series: series, completion)
        }
        let headers = SignatureHeaders { head.headers[$0] }
        do {
            let signType = try source.verifier.verify(
                method: head.method, target: head.target, headers: headers, body: request.body, now: wallClockSeconds())
            let event = try Self.event(request.body, source: source, headers: headers, signType: signType)
            var routes: [PlannedRoute] = []
            var keepUnmatched = false
            switch dispatcher.plan(event) {
            case .backlogFull(let route):
                state.stats.rejected.add(1, ordering: .relaxed)
                logger.warning("notification refused: delivery backlog full", [("route", .string(route)), ("msgID", .string(event.msgID))])
                return Self.answer(
                    .error(GatewayError(.unavailable, "the gateway is overloaded; retry later", reason: "backlog_full")), source: source.name,
                    eventCode: event.eventCode, since: t0, metrics: metrics, series: series, completion)
            case .routes(let r): routes = r
            case .unmatched(let action): keepUnmatched = action == .deadletter
            }
            // Stored first, answered after: the acknowledgement promises the notification is on disk.
            // Without a digest (an OpenSSL failure) there is no de-duplication for this one: an
            // empty digest would make every such notification a "duplicate" of the first.
            // The key is the first 16 bytes of SHA-256(source, 0, body), hashed in place. A source
            // without a window (`dedupWindowSeconds: 0`) skips it: nothing would ever read it, and
            // a SHA-256 of the body is about 1.9 µs (a twentieth of a notification's CPU).
            let window = Int64(source.dedupWindowSeconds) * 1000
            var hash: [UInt8]? = nil
            if window > 0 {
                hash = try? Digest.hash(.sha256) { update in
                    event.source.withUTF8Bytes { update(UnsafeRawBufferPointer($0)) }
                    withUnsafeBytes(of: UInt8(0)) { update($0) }
                    event.rawBody.withUnsafeBytes { update($0) }
                }
                if let h = hash, h.count > 16 { hash?.removeLast(h.count - 16) }
            }
            // Routes whose leading handlers are pure filters ask them now: a route they drop is
            // left out of the record (see `Dispatcher.screen`).
            let screened = routes.isEmpty ? nil : dispatcher.screen(event, planned: routes)
            let fields = logger.isEnabled(.info) ? acceptedFields(event, signType: signType, remote: context.remote) : []
            let (planned, keep) = (routes, keepUnmatched)
            // One closure value, captured by reference below: the spool's completion and the hop
            // to the loop then hold one pointer each, small blocks whatever thread frees them,
            // not a copy of everything this captures (a local function's captures are copied
            // into every closure that calls it). It reads the event in its context, not a local
            // copy of it: a copy retained and released each of its dozen strings and arrays again.
            // It captures this responder and the source, and reads the logger, the dispatcher,
            // the counters and the acknowledgement through them: captured by value, the logger
            // (three references) and the acknowledgement (three more) were retained into the
            // context and released with it, about 16 atomic operations per notification.
            let finish: @Sendable (Spool.AcceptResult) -> Void = { [self] result in
                let ack = source.ackResponse
                switch result {
                case .stored(let id):
                    if planned.isEmpty {
                        if keep {
                            dispatcher.keepUnmatched(event, recordID: id)
                        } else {
                            logger.debug("no route takes this notification; dropped", [("msgID", .string(event.msgID))])
                        }
                    }
                    state.stats.accepted.add(1, ordering: .relaxed)
                    logger.info("notification accepted", fields)
                    // The deliveries start on the connection's loop thread, right after the
                    // answer: routes whose first handlers never block (filters) run them there,
                    // in parallel across loops, instead of on the spool's single writer thread.
                    var startDeliveries: (@Sendable () -> Void)? = nil
                    if !planned.isEmpty {
                        let deliveries = screened.map { dispatcher.settle(event, $0) } ?? dispatcher.prepare(event, recordID: id, planned: planned)
                        if !deliveries.isEmpty {
                            let dispatcher = dispatcher
                            startDeliveries = { dispatcher.submit(deliveries) }
                        }
                    }
                    Self.answer(ack, source: event.source, eventCode: event.eventCode, since: t0, metrics: self.metrics, series: self.series, completion, then: startDeliveries)
                case .duplicate:
                    state.stats.duplicates.add(1, ordering: .relaxed)
                    self.metrics.duplicates.labels(event.source).add()
                    logger.info("duplicate notification acknowledged, not delivered again", [("source", .string(event.source)), ("msgID", .string(event.msgID))])
                    Self.answer(ack, source: event.source, eventCode: event.eventCode, since: t0, metrics: self.metrics, series: self.series, completion)
                case .failed(let why):
                    state.stats.rejected.add(1, ordering: .relaxed)
                    logger.error("notification refused: it could not be stored", [("msgID", .string(event.msgID)), ("error", .string(why))])
                    Self.answer(
                        .error(GatewayError(.unavailable, "the gateway cannot store notifications right now; retry later", reason: "spool_unavailable")),
                        source: event.source, eventCode: event.eventCode, since: t0, metrics: self.metrics, series: self.series, completion)
                }
            }
            dispatcher.spool.accept(
                id: screened?.recordID, source: event.source, msgID: event.msgID, eventCode: event.eventCode.rawValue,
                dedupHash: hash ?? [], dedupWindowMs: hash == nil ? 0 : window,
                routes: screened?.storedRouteNames ?? planned.map(\.route.name),
                headers: event.keptHeaders, receivedMs: event.receivedMs, body: event.rawBody, deferWake: spoolWakeAtIterationEnd
            ) { result in
                // The commit may be another loop's (or the writer's): the rest runs on this
                // request's loop, where its memory was allocated. In glibc a large block freed
                // by another thread takes its arena's lock, which the owning loop then contends
                // for: half a futex call per request in the benchmark before this hop.
                completion.onConnectionLoop { finish(result) }
            }
        } catch {
            state.stats.rejected.add(1, ordering: .relaxed)
            if error.status == 401 { metrics.signatureFailures.labels(source.name, error.reason).add() }
            logger.warning(
                "notification rejected",
                [
                    ("source", .string(source.name)), ("status", .int(error.status)), ("reason", .string(error.reason)),
                    ("error", .string(error.message)), ("msgID", .string((headers.msgID ?? "").prefixCharacters(64))),
                    ("remote", .string(context.remote.host)),
                ])
            Self.answer(
                .error(error, closeConnection: error.kind == .badRequest), source: source.name, eventCode: nil, since: t0, metrics: metrics, series: series,
                completion)
        }
    }

    /// The classified event with what the spool keeps beside it.
    private static func event(_ body: [UInt8], source: CompiledSource, headers: SignatureHeaders, signType: SignType) throws(GatewayError) -> GatewayEvent {
        // Verified above, so both headers are present and well-formed; bounded anyway.
        try source.classifier.classify(
            source: source.name, msgID: headers.msgID ?? "", rawBody: body, receivedMs: wallClockMilliseconds(),
            keptHeaders: [KeptHeader("DateTime", (headers.dateTime ?? "").prefixCharacters(64)), KeptHeader("SignType", signType.rawValue)])
    }

    private func acceptedFields(_ n: GatewayEvent, signType: SignType, remote: SocketAddress) -> [(String, LogValue)] {
        var f: [(String, LogValue)] = []
        f.reserveCapacity(16)
        // One append each: `f += [...]` built a second array and copied it over.
        f.append(("source", .string(n.source)))
        f.append(("eventCode", .string(n.eventCode.rawValue)))
        f.append(("known", .bool(n.eventCode.isKnown)))
        f.append(("msgID", .string(n.msgID)))
        f.append(("signType", .string(signType.rawValue)))
        let t = n.transaction
        if let v = t.merchantTransID { f.append(("merchantTransID", .string(v))) }
        if let v = t.evoTransID { f.append(("evoTransID", .string(v))) }
        if let v = t.status { f.append(("txStatus", .string(v))) }
        if let v = t.amount { f.append(("amount", .string(v))) }
        if let v = t.currency { f.append(("currency", .string(v))) }
        f.append(("bytes", .int(n.rawBody.count)))
        f.append(("remote", .string(remote.host)))
        return f
    }
}

/// What the running gateway shares between listeners and commands: the configuration in force
/// (swapped whole on reload), readiness and counters.
public final class GatewayState: Sendable {
    /// One configuration generation: replaced whole, never mutated.
    final class Snapshot: Sendable {
        let config: GatewayConfig
        let sources: SourceTable
        let generation: Int
        init(config: GatewayConfig, sources: SourceTable, generation: Int) {
            self.config = config
            self.sources = sources
            self.generation = generation
        }
    }

    /// Read for every request by both loops: no lock on the read path (see `ReadMostly`).
    private let current: ReadMostly<Snapshot>
    private let readyFlag = Atomic<Bool>(false)
    public let stats = IngressStats()

    public init(config: GatewayConfig, sources: SourceTable) {
        current = ReadMostly(Snapshot(config: config, sources: sources, generation: 1))
    }

    var snapshot: Snapshot { current.value }
    public var sources: SourceTable { snapshot.sources }
    public var config: GatewayConfig { snapshot.config }
    public var generation: Int { snapshot.generation }

    /// Swaps in a new configuration; requests already being handled finish with the old one.
    public func replace(config: GatewayConfig, sources: SourceTable) {
        current.update { $0 = Snapshot(config: config, sources: sources, generation: $0.generation + 1) }
    }

    public var isReady: Bool { readyFlag.load(ordering: .relaxed) }
    public func setReady(_ r: Bool) { readyFlag.store(r, ordering: .relaxed) }
}

public final class IngressStats: Sendable {
    public let accepted = Atomic<Int>(0)
    public let duplicates = Atomic<Int>(0)
    public let rejected = Atomic<Int>(0)
    public init() {}
}
