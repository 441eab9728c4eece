import GatewayCore

/// One route's metric series, resolved once when the route is installed so that a delivery
/// updates counters without a label lookup.
final class RouteMetrics: Sendable {
    /// Per handler index (plus one slot, last, for "no handler": a delivery ended before any ran).
    let delivered: [Counter]
    let dropped: [Counter]
    let dead: [Counter]
    let retries: [Counter]
    let deadLetters: Counter
    let attemptSeconds: Histogram
    let deliverySeconds: Histogram

    init(route: String, handlerNames: [String], metrics: GatewayMetrics?) {
        let plugins = handlerNames + ["-"]
        func series(_ f: MetricFamily<Counter>?, _ outcome: String?) -> [Counter] {
            plugins.map { p in
                guard let f else { return Counter() }
                return outcome.map { f.labels(route, p, $0) } ?? f.labels(route, p)
            }
        }
        delivered = series(metrics?.deliveries, "delivered")
        dropped = series(metrics?.deliveries, "dropped")
        dead = series(metrics?.deliveries, "dead")
        retries = series(metrics?.retries, nil)
        deadLetters = metrics?.deadLetters.labels(route) ?? Counter()
        attemptSeconds = metrics?.attemptSeconds.labels(route) ?? Histogram()
        deliverySeconds = metrics?.deliverySeconds.labels(route) ?? Histogram()
    }

    private func slot(_ handler: Int) -> Int { handler >= 0 && handler < delivered.count - 1 ? handler : delivered.count - 1 }

    func finished(_ outcome: DeliveryOutcome, handler: Int) {
        switch outcome {
        case .delivered: delivered[slot(handler)].add()
        case .dropped: dropped[slot(handler)].add()
        case .dead:
            dead[slot(handler)].add()
            deadLetters.add()
        }
    }

    func retried(handler: Int) { retries[slot(handler)].add() }
}
