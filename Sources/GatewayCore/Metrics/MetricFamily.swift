import Synchronization

/// What a family can hold: counters, gauges or histograms.
public protocol MetricValue: AnyObject, Sendable {
    static var typeName: String { get }
    /// Makes a fresh metric for a new label set (histograms get the family's buckets).
    static func make(_ family: MetricFamilyOptions) -> Self
}

extension Counter: MetricValue {
    public static var typeName: String { "counter" }
    public static func make(_ family: MetricFamilyOptions) -> Self { Self() }
}

extension Gauge: MetricValue {
    public static var typeName: String { "gauge" }
    public static func make(_ family: MetricFamilyOptions) -> Self { Self() }
}

extension Histogram: MetricValue {
    public static var typeName: String { "histogram" }
    public static func make(_ family: MetricFamilyOptions) -> Self { Self(bounds: family.buckets) }
}

public struct MetricFamilyOptions: Sendable {
    public var buckets: [Double] = Histogram.latencyBuckets
    /// Label sets beyond this share one series whose labels all read `other`: a client must not
    /// be able to grow the gateway's memory (or a Prometheus server's) through label values.
    public var maxSeries = 1000
    public init() {}
}

/// One metric name with labels: a series per distinct label-value tuple, created on first use.
///
/// Callers on hot paths keep the returned metric object instead of looking it up per event.
public final class MetricFamily<M: MetricValue>: Sendable {
    public let name: String
    public let help: String
    public let labelNames: [String]
    let options: MetricFamilyOptions
    private let series: Locked<[[String]: M]>

    init(name: String, help: String, labelNames: [String], options: MetricFamilyOptions) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.options = options
        series = Locked([:])
    }

    /// The metric for these label values (in `labelNames` order).
    public func labels(_ values: [String]) -> M {
        precondition(values.count == labelNames.count, "metric \(name): wrong number of label values")
        return series.withLock { s in
            if let m = s[values] { return m }
            let key = s.count < options.maxSeries ? values : values.map { _ in "other" }
            if let m = s[key] { return m }
            let m = M.make(options)
            s[key] = m
            return m
        }
    }

    public func labels(_ values: String...) -> M { labels(values) }

    /// Every series, sorted by label values (stable output for people and tests).
    public var allSeries: [([String], M)] {
        series.withLock { s in s.map { ($0.key, $0.value) } }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }

    /// Drops the series whose labels match `keep == false` (a removed route's gauges).
    public func removeSeries(where remove: ([String]) -> Bool) {
        series.withLock { s in
            for k in s.keys where remove(k) { s.removeValue(forKey: k) }
        }
    }
}
