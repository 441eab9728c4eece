import GatewayCore
import GatewayHTTP
import Synchronization

/// Every metric the gateway exposes on `GET /metrics`, registered once at start.
///
/// Label values are names from the configuration (sources, routes, plugins) or small fixed sets
/// (status codes, reasons, outcomes); an event code not in the provider's documented list is
/// counted as `other`, so a client cannot mint series. No label ever carries notification data.
public final class GatewayMetrics: Sendable {
    public let registry = MetricsRegistry()

    let requests: MetricFamily<Counter>
    let signatureFailures: MetricFamily<Counter>
    let duplicates: MetricFamily<Counter>
    let rateLimited: MetricFamily<Counter>
    let requestSeconds: MetricFamily<Histogram>
    let deliveries: MetricFamily<Counter>
    let retries: MetricFamily<Counter>
    let deadLetters: MetricFamily<Counter>
    let attemptSeconds: MetricFamily<Histogram>
    let deliverySeconds: MetricFamily<Histogram>
    let reloads: MetricFamily<Counter>
    let generation: Gauge
    let lastReloadSeconds: Gauge
    /// The spool's fsync durations (the spool observes into it).
    public let fsyncSeconds: Histogram

    public init() {
        let r = registry
        r.collected("gateway_build_info", "Build of the running gateway (value 1).", labels: ["version"]) {
            [([GatewayCommandLine.version], 1)]
        }
        let start = Double(wallClockMilliseconds()) / 1000
        r.collected("gateway_start_time_seconds", "When the process started (Unix time).") { [([], start)] }
        requests = r.counter(
            "gateway_requests_total", "Requests on the public listener by source, answer status and event code.",
            labels: ["source", "status", "event_code"])
        signatureFailures = r.counter(
            "gateway_signature_failures_total", "Notifications refused with 401, by source and reason.", labels: ["source", "reason"])
        duplicates = r.counter(
            "gateway_duplicates_total", "Notifications acknowledged without delivery: same body within the window.", labels: ["source"])
        rateLimited = r.counter("gateway_rate_limited_total", "Requests refused with 429 by a source's rateLimit.", labels: ["source"])
        requestSeconds = r.histogram(
            "gateway_request_duration_seconds", "From a complete request to its answer (includes the spool fsync).",
            labels: ["source"])
        deliveries = r.counter(
            "gateway_deliveries_total",
            "Finished deliveries by route, the plugin where they ended, and outcome (delivered, dropped, dead).",
            labels: ["route", "plugin", "outcome"])
        retries = r.counter("gateway_delivery_retries_total", "Delivery attempts that will be retried.", labels: ["route", "plugin"])
        deadLetters = r.counter("gateway_dead_letters_total", "Deliveries kept as dead letters, by route.", labels: ["route"])
        attemptSeconds = r.histogram(
            "gateway_delivery_attempt_duration_seconds", "One attempt through a route's handler chain.", labels: ["route"])
        deliverySeconds = r.histogram(
            "gateway_delivery_duration_seconds", "From acceptance to a delivery's final outcome (retries included).",
            labels: ["route"])
        reloads = r.counter("gateway_config_reloads_total", "Configuration reloads by result (ok, failed).", labels: ["result"])
        let gen = r.gauge("gateway_config_generation", "Generation of the configuration in force (1 at start, +1 per reload).")
        generation = gen.labels([])
        generation.set(1)
        lastReloadSeconds = r.gauge(
            "gateway_config_last_reload_success_timestamp_seconds", "When the configuration in force was loaded (Unix time)."
        ).labels([])
        lastReloadSeconds.set(Int(start))
        fsyncSeconds = r.histogram("gateway_spool_fsync_duration_seconds", "One group commit's fsync.").labels([])
        for result in ["ok", "failed"] { _ = reloads.labels(result) }
    }

    /// The series an `eventCode` is counted under.
    static func eventCodeLabel(_ code: EventCode?) -> String {
        guard let code else { return "" }
        return code.isKnown ? code.rawValue : "other"
    }

    /// Adds the scrape-time families: listener, spool and delivery state.
    func addCollectors(servers: [HTTPServer], dispatcher: Dispatcher) {
        let r = registry
        r.collected("gateway_connections_open", "Open connections by listener.", labels: ["listener"]) {
            servers.map { ([$0.name], Double($0.stats.open.load(ordering: .relaxed))) }
        }
        r.collected("gateway_connections_accepted_total", "Accepted connections by listener.", type: "counter", labels: ["listener"]) {
            servers.map { ([$0.name], Double($0.stats.accepted.load(ordering: .relaxed))) }
        }
        r.collected(
            "gateway_connections_refused_total", "Connections closed at once: connection limit reached, or draining.", type: "counter",
            labels: ["listener"]
        ) { servers.map { ([$0.name], Double($0.stats.refused.load(ordering: .relaxed))) } }
        r.collected(
            "gateway_http_protocol_errors_total", "Requests refused by the HTTP parser (400, 413, 414, 431...).", type: "counter",
            labels: ["listener"]
        ) { servers.map { ([$0.name], Double($0.stats.protocolErrors.load(ordering: .relaxed))) } }
        r.collected("gateway_http_timeouts_total", "Connections closed by a header, body, idle or write timeout.", type: "counter", labels: ["listener"]) {
            servers.map { ([$0.name], Double($0.stats.timeouts.load(ordering: .relaxed))) }
        }
        r.collected(
            "gateway_http_write_stalls_total", "Answers that found the client's socket full and waited for it to drain.", type: "counter",
            labels: ["listener"]
        ) { servers.map { ([$0.name], Double($0.stats.writeStalls.load(ordering: .relaxed))) } }
        r.collected("gateway_tls_handshake_failures_total", "TLS handshakes that failed, by listener.", type: "counter", labels: ["listener"]) {
            servers.filter(\.isTLS).map { ([$0.name], Double($0.stats.tlsHandshakeFailures.load(ordering: .relaxed))) }
        }
        r.collected("gateway_deliveries_pending", "Deliveries queued, running or waiting for a retry, by route.", labels: ["route"]) {
            dispatcher.pending.sorted { $0.key < $1.key }.map { ([$0.key], Double($0.value)) }
        }
        r.collected(
            "gateway_delivery_oldest_pending_age_seconds", "Age of the oldest notification still pending on a route (0 when none).",
            labels: ["route"]
        ) {
            let now = wallClockMilliseconds()
            return dispatcher.oldestPendingMs.sorted { $0.key < $1.key }.map { ([$0.key], $0.value.map { Double(max(0, now - $0)) / 1000 } ?? 0) }
        }
        let spool = dispatcher.spool
        r.collected("gateway_spool_bytes", "Bytes of spool segments on disk.") { [([], Double(spool.bytesOnDisk))] }
        r.collected("gateway_spool_segments", "Spool segment files.") { [([], Double(spool.segmentCount))] }
        r.collected("gateway_spool_dedup_entries", "De-duplication entries within their window.") { [([], Double(spool.dedupEntries))] }
        r.collected("gateway_spool_write_failures_total", "Group commits that could not be written or synced.", type: "counter") {
            [([], Double(spool.writeFailures))]
        }
        r.collected("gateway_dead_letters_stored", "Dead letters on disk, waiting to be replayed or purged.") {
            [([], Double(dispatcher.events.deadLetters.count))]
        }
    }
}
