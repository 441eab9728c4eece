import GatewayCore

/// Parses the `DateTime` header into seconds since the epoch.
///
/// Accepted: `YYYY-MM-DDThh:mm:ss` (optionally with a fraction `.sss`), then an offset:
/// `+hh:mm`, `-hh:mm`, `+hhmm`, `+hh`, a bare `Z` (UTC), or `Zhh:mm`, the form of the
/// provider's English pages (`2020-03-04T15:39:40Z08:00`), which means `+hh:mm`. A space is
/// accepted in place of `T`. Fields are range-checked (no 2026-02-30, no 25:00).
public enum EVODateTime {
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2) else { return nil }
        guard i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == 0x20 else { return nil }
        i += 1
        guard let hour = digits(2), expect(0x3A), let minute = digits(2), expect(0x3A), let second = digits(2) else { return nil }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
            guard i > start, i - start <= 9 else { return nil }
        }
        guard (1...12).contains(month), day >= 1, day <= CivilTime.daysInMonth(year: year, month: month),
            hour <= 23, minute <= 59, second <= 60
        else { return nil }

        var offset = 0
        guard i < b.count else { return nil }  // an offset is required: local time is ambiguous
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
            if i < b.count {
                // `Zhh:mm`: the English pages' spelling of `+hh:mm`. A sign after Z is also tolerated.
                var sign = 1
                if b[i] == UInt8(ascii: "+") {
                    i += 1
                } else if b[i] == UInt8(ascii: "-") {
                    sign = -1
                    i += 1
                }
                guard let o = parseOffset(b, &i) else { return nil }
                offset = sign * o
            }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let o = parseOffset(b, &i) else { return nil }
            offset = sign * o
        default:
            return nil
        }
        guard i == b.count else { return nil }
        let days = CivilTime.daysFromCivil(year: year, month: month, day: day)
        let local = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59))
        return local - Int64(offset)
    }

    /// `hh:mm`, `hhmm` or `hh`, at most 18:00; returns seconds.
    private static func parseOffset(_ b: [UInt8], _ i: inout Int) -> Int? {
        func two() -> Int? {
            guard i + 2 <= b.count, b[i] >= 0x30 && b[i] <= 0x39, b[i + 1] >= 0x30 && b[i + 1] <= 0x39 else { return nil }
            defer { i += 2 }
            return Int(b[i] - 0x30) * 10 + Int(b[i + 1] - 0x30)
        }
        guard let h = two() else { return nil }
        var m = 0
        if i < b.count {
            if b[i] == 0x3A { i += 1 }
            guard let mm = two() else { return nil }
            m = mm
        }
        guard h <= 18, m <= 59, h * 60 + m <= 18 * 60 else { return nil }
        return (h * 60 + m) * 60
    }

    /// Formats epoch seconds as `YYYY-MM-DDThh:mm:ss+hh:mm` in the given offset (for `gateway send`).
    public static func format(epochSeconds: Int64, offsetMinutes: Int = 0) -> String {
        let local = Int(epochSeconds) + offsetMinutes * 60
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let rem = local - days * 86_400
        let (y, mo, d) = CivilTime.civilFromDays(days)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let sign = offsetMinutes < 0 ? "-" : "+"
        let o = abs(offsetMinutes)
        return "\(y)-\(two(mo))-\(two(d))T\(two(rem / 3600)):\(two(rem / 60 % 60)):\(two(rem % 60))\(sign)\(two(o / 60)):\(two(o % 60))"
    }
}

