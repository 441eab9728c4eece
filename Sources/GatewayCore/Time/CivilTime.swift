/// Calendar arithmetic on the proleptic Gregorian calendar, without Foundation's calendars
/// (no locale or time-zone database involved). Algorithms from Howard Hinnant's
/// "chrono-Compatible Low-Level Date Algorithms".
public enum CivilTime {
    /// Days since 1970-01-01 for a date; `month` 1...12, `day` 1...31.
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The date for a count of days since 1970-01-01.
    public static func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    public static func isLeapYear(_ y: Int) -> Bool {
        (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: 31
        case 4, 6, 9, 11: 30
        case 2: isLeapYear(year) ? 29 : 28
        default: 0
        }
    }

    /// RFC 3339 UTC timestamp with milliseconds, e.g. `2026-11-22T10:00:00.123Z`.
    public static func iso8601(epochMillis: Int64) -> String {
        var out = [UInt8]()
        out.reserveCapacity(24)
        writeISO8601(epochMillis: epochMillis, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the RFC 3339 timestamp to `out` (no intermediate string).
    public static func writeISO8601(epochMillis: Int64, into out: inout [UInt8]) {
        var text = iso8601Bytes(epochMillis: epochMillis)
        withUnsafeBytes(of: &text) { out.append(contentsOf: $0) }
    }

    /// The 24 bytes of `iso8601`, in a fixed buffer: every log line starts with them, and
    /// digit-by-digit appends (a capacity check each) cost more than the date arithmetic.
    /// The three words are composed in registers, two digits at a time (a digit loop per field
    /// writing byte by byte through a buffer pointer was some 500 instructions a line).
    public static func iso8601Bytes(epochMillis: Int64) -> (UInt64, UInt64, UInt64) {
        let ms = Int(((epochMillis % 1000) + 1000) % 1000)
        let secs = Int((epochMillis - Int64(ms)) / 1000)
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let rem = secs - days * 86400
        let (y0, m, d) = civilFromDays(days)
        let y = max(0, min(y0, 9999))
        // Two ASCII digits of 0...99, the first in the low byte.
        @inline(__always) func two(_ v: Int) -> UInt64 { UInt64(0x30 + v / 10) | UInt64(0x30 + v % 10) << 8 }
        let dash: UInt64 = 0x2D, colon: UInt64 = 0x3A
        // "YYYY-MM-", "DDTHH:MM", ":SS.mmmZ", little-endian (first byte lowest).
        let w0 = two(y / 100) | two(y % 100) << 16 | dash << 32 | two(m) << 40 | dash << 56
        let w1 = two(d) | UInt64(UInt8(ascii: "T")) << 16 | two(rem / 3600) << 24 | colon << 40 | two(rem / 60 % 60) << 48
        let w2 = colon | two(rem % 60) << 8 | UInt64(UInt8(ascii: ".")) << 24 | UInt64(0x30 + ms / 100) << 32
            | two(ms % 100) << 40 | UInt64(UInt8(ascii: "Z")) << 56
        return (w0.littleEndian, w1.littleEndian, w2.littleEndian)
    }

    /// RFC 9110 IMF-fixdate for the HTTP `Date` header, e.g. `Sun, 22 Nov 2026 02:00:00 GMT`.
    public static func httpDate(epochSeconds: Int64) -> String {
        let secs = Int(epochSeconds)
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let rem = secs - days * 86400
        let (y, m, d) = civilFromDays(days)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let wd = weekdays[((days % 7) + 7) % 7]
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(wd), \(two(d)) \(months[m - 1]) \(y) \(two(rem / 3600)):\(two(rem / 60 % 60)):\(two(rem % 60)) GMT"
    }
}
