import Synchronization

/// The gateway's metrics, rendered in the Prometheus text exposition format (version 0.0.4).
///
/// Families are registered once at start; values computed only when scraped (pending deliveries,
/// spool bytes) come from collectors, so nothing is kept up to date that nobody reads.
public final class MetricsRegistry: Sendable {
    /// A family's rendering, registered in order.
    private let renderers: Locked<[(name: String, render: @Sendable (inout [UInt8]) -> Void)]> = Locked([])

    public init() {}

    public func counter(_ name: String, _ help: String, labels: [String] = [], options: MetricFamilyOptions = .init()) -> MetricFamily<Counter> {
        family(name, help, labels, options)
    }

    public func gauge(_ name: String, _ help: String, labels: [String] = [], options: MetricFamilyOptions = .init()) -> MetricFamily<Gauge> {
        family(name, help, labels, options)
    }

    public func histogram(_ name: String, _ help: String, labels: [String] = [], options: MetricFamilyOptions = .init()) -> MetricFamily<Histogram> {
        family(name, help, labels, options)
    }

    private func family<M: MetricValue>(_ name: String, _ help: String, _ labels: [String], _ options: MetricFamilyOptions) -> MetricFamily<M> {
        precondition(PrometheusText.isValidName(name) && labels.allSatisfy(PrometheusText.isValidLabelName), "invalid metric name \(name)")
        let f = MetricFamily<M>(name: name, help: help, labelNames: labels, options: options)
        add(name) { out in
            PrometheusText.writeHeader(name: f.name, help: f.help, type: M.typeName, to: &out)
            for (values, m) in f.allSeries {
                PrometheusText.write(m, name: f.name, labelNames: f.labelNames, values: values, to: &out)
            }
        }
        return f
    }

    /// A family whose samples are computed at scrape time (`type`: `gauge` or `counter`), for
    /// values another component already keeps (pending deliveries, spool bytes, open connections).
    public func collected(
        _ name: String, _ help: String, type: String = "gauge", labels: [String] = [],
        _ collect: @escaping @Sendable () -> [([String], Double)]
    ) {
        precondition(PrometheusText.isValidName(name), "invalid metric name \(name)")
        add(name) { out in
            PrometheusText.writeHeader(name: name, help: help, type: type, to: &out)
            for (values, v) in collect() {
                PrometheusText.writeSample(name: name, labelNames: labels, values: values, value: v, to: &out)
            }
        }
    }

    private func add(_ name: String, _ render: @escaping @Sendable (inout [UInt8]) -> Void) {
        renderers.withLock { r in
            precondition(!r.contains { $0.name == name }, "metric \(name) registered twice")
            r.append((name, render))
        }
    }

    /// The whole exposition.
    public func render() -> [UInt8] {
        let rs = renderers.withLock { $0 }
        var out: [UInt8] = []
        out.reserveCapacity(16 << 10)
        for r in rs { r.render(&out) }
        return out
    }
}
