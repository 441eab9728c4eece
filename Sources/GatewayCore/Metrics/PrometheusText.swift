/// Writes the Prometheus text exposition format: `# HELP`, `# TYPE`, then `name{labels} value`
/// lines, label values escaped (`\\`, `\"`, `\n`), histograms as cumulative `_bucket`s with
/// `le`, `_sum` and `_count`.
public enum PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func isValidName(_ s: String) -> Bool {
        guard let f = s.utf8.first, !(f >= 0x30 && f <= 0x39) else { return false }
        return s.utf8.allSatisfy { ASCII.isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":") }
    }

    static func isValidLabelName(_ s: String) -> Bool {
        guard let f = s.utf8.first, !(f >= 0x30 && f <= 0x39), !s.hasPrefix("__") else { return false }
        return s.utf8.allSatisfy { ASCII.isAlnum($0) || $0 == UInt8(ascii: "_") }
    }

    static func writeHeader(name: String, help: String, type: String, to out: inout [UInt8]) {
        out += "# HELP \(name) ".utf8
        for b in help.utf8 {
            switch b {
            case UInt8(ascii: "\\"): out += #"\\"#.utf8
            case 0x0A: out += #"\n"#.utf8
            default: out.append(b)
            }
        }
        out += "\n# TYPE \(name) \(type)\n".utf8
    }

    static func write<M: MetricValue>(_ m: M, name: String, labelNames: [String], values: [String], to out: inout [UInt8]) {
        switch m {
        case let c as Counter: writeSample(name: name, labelNames: labelNames, values: values, value: Double(c.count), to: &out)
        case let g as Gauge: writeSample(name: name, labelNames: labelNames, values: values, value: Double(g.current), to: &out)
        case let h as Histogram:
            let (cumulative, sum, count) = h.snapshot
            let names = labelNames + ["le"]
            for (i, bound) in h.bounds.enumerated() {
                writeSample(name: name + "_bucket", labelNames: names, values: values + [format(bound)], value: Double(cumulative[i]), to: &out)
            }
            writeSample(name: name + "_bucket", labelNames: names, values: values + ["+Inf"], value: Double(count), to: &out)
            writeSample(name: name + "_sum", labelNames: labelNames, values: values, value: sum, to: &out)
            writeSample(name: name + "_count", labelNames: labelNames, values: values, value: Double(count), to: &out)
        default: break
        }
    }

    static func writeSample(name: String, labelNames: [String], values: [String], value: Double, to out: inout [UInt8]) {
        out += name.utf8
        if !labelNames.isEmpty {
            out.append(UInt8(ascii: "{"))
            for (i, (k, v)) in zip(labelNames, values).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out += k.utf8
                out += "=\"".utf8
                for b in v.utf8 {
                    switch b {
                    case UInt8(ascii: "\\"): out += #"\\"#.utf8
                    case UInt8(ascii: "\""): out += #"\""#.utf8
                    case 0x0A: out += #"\n"#.utf8
                    default: out.append(b)
                    }
                }
                out.append(UInt8(ascii: "\""))
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: " "))
        out += format(value).utf8
        out.append(0x0A)
    }

    /// Integers without a fraction; others in Swift's shortest round-trip form; `+Inf`, `NaN`.
    public static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
