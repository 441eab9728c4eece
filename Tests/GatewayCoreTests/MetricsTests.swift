import Dispatch
import Foundation
import Testing

@testable import GatewayCore

@Suite("Metrics")
struct MetricsTests {
    func text(_ r: MetricsRegistry) -> String { String(decoding: r.render(), as: UTF8.self) }

    @Test func countersAndGaugesRenderWithEscapedLabels() {
        let r = MetricsRegistry()
        let c = r.counter("x_total", "Things.\nSecond line \\ here", labels: ["route", "outcome"])
        c.labels("a\"b", "ok").add(2)
        c.labels("line\nbreak", "ok").add()
        c.labels("a\"b", "ok").add()
        let g = r.gauge("y", "A gauge.")
        g.labels([]).set(-4)
        let t = text(r)
        #expect(t.contains(#"# HELP x_total Things.\nSecond line \\ here"#))
        #expect(t.contains("# TYPE x_total counter\n"))
        #expect(t.contains(#"x_total{route="a\"b",outcome="ok"} 3"#))
        #expect(t.contains(#"x_total{route="line\nbreak",outcome="ok"} 1"#))
        #expect(t.contains("# TYPE y gauge\ny -4\n"))
    }

    @Test func histogramsAreCumulativeWithInfAndSum() {
        let r = MetricsRegistry()
        let h = r.histogram("lat_seconds", "Latency.", options: {
            var o = MetricFamilyOptions()
            o.buckets = [0.01, 0.1, 1]
            return o
        }()).labels([])
        for v in [0.005, 0.01, 0.05, 0.5, 3] { h.observe(v) }
        let t = text(r)
        #expect(t.contains(#"lat_seconds_bucket{le="0.01"} 2"#))  // le is inclusive
        #expect(t.contains(#"lat_seconds_bucket{le="0.1"} 3"#))
        #expect(t.contains(#"lat_seconds_bucket{le="1"} 4"#))
        #expect(t.contains(#"lat_seconds_bucket{le="+Inf"} 5"#))
        #expect(t.contains("lat_seconds_count 5\n"))
        #expect(t.contains("lat_seconds_sum 3.565\n"))
    }

    /// Observations are lock-free atomic adds: from several threads at once none is lost, and
    /// the count is always the buckets' total. Negative and NaN durations count as 0.
    @Test func concurrentObservationsAreAllCounted() {
        let h = Histogram(bounds: [0.001, 0.01])
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for i in 0..<5000 { h.observe(i % 2 == 0 ? 0.0005 : 0.005 * Double(t + 1)) }
        }
        let s = h.snapshot
        #expect(s.count == 20_000)
        // Half in the first bucket; threads 0 and 1 (0.005, 0.01) in the second; 2 and 3 beyond.
        #expect(s.cumulative == [10_000, 15_000])
        let expected = 10_000 * 0.0005 + 2_500 * (0.005 + 0.010 + 0.015 + 0.020)
        #expect(abs(s.sum - expected) < 1e-6, "\(s.sum)")
        h.observe(-1)
        h.observe(.nan)
        #expect(h.snapshot.cumulative == [10_002, 15_002] && abs(h.snapshot.sum - expected) < 1e-6)
    }

    @Test func seriesBeyondTheCapShareOneOtherSeries() {
        let r = MetricsRegistry()
        var o = MetricFamilyOptions()
        o.maxSeries = 3
        let f = r.counter("c_total", "C.", labels: ["k"], options: o)
        for i in 0..<10 { f.labels("v\(i)").add() }
        #expect(f.allSeries.count == 4)
        #expect(f.labels("zzz") === f.labels("other"))
        #expect(text(r).contains(#"c_total{k="other"} 7"#))
        // An existing series is still found once the cap is reached.
        f.labels("v1").add()
        #expect(text(r).contains(#"c_total{k="v1"} 2"#))
    }

    @Test func collectedFamiliesAreComputedAtScrapeTime() {
        let r = MetricsRegistry()
        let box = Locked(1.0)
        r.collected("pending", "Pending.", labels: ["route"]) { [(["a"], box.withLock { $0 })] }
        #expect(text(r).contains(#"pending{route="a"} 1"#))
        box.withLock { $0 = 2.5 }
        #expect(text(r).contains(#"pending{route="a"} 2.5"#))
    }

    @Test func namesAreChecked() {
        #expect(PrometheusText.isValidName("gateway_requests_total"))
        #expect(!PrometheusText.isValidName("9lives"))
        #expect(!PrometheusText.isValidName("has-dash"))
        #expect(PrometheusText.isValidLabelName("route"))
        #expect(!PrometheusText.isValidLabelName("__reserved"))
    }
}
