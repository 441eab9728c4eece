/// The query string of a request target, decoded (`%XX` and `+`): `?route=ledger&id=abc`.
/// Malformed escapes are kept as written; a repeated key keeps its first value.
public struct QueryString: Sendable {
    private var values: [String: String] = [:]

    public init(target: String) {
        guard let q = target.firstIndex(of: "?") else { return }
        for pair in target[target.index(after: q)...].split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = QueryString.decode(kv[0])
            let value = kv.count > 1 ? QueryString.decode(kv[1]) : ""
            if values[key] == nil { values[key] = value }
        }
    }

    public subscript(key: String) -> String? { values[key] }

    static func decode(_ s: Substring) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        let u = Array(s.utf8)
        var i = 0
        while i < u.count {
            let b = u[i]
            if b == UInt8(ascii: "+") {
                out.append(0x20)
            } else if b == UInt8(ascii: "%"), i + 2 < u.count, let h = hex(u[i + 1]), let l = hex(u[i + 2]) {
                out.append(h << 4 | l)
                i += 2
            } else {
                out.append(b)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
