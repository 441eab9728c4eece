/// The one place that decides what may not appear in a log line, metric label or error answer.
///
/// It scrubs, in every string field and in the message:
/// - fields whose *name* is sensitive (`signKey`, `authorization`, `holderName`, `tokenCryptogram`,
///   `cvc`, `password`, `secret`, `token`, ... and any configured extra names): the value becomes
///   `[REDACTED]`;
/// - any configured secret value (sign keys, tokens), wherever it appears: `[REDACTED]`;
/// - digit runs that look like a card number (13 to 19 digits, spaces or dashes allowed between
///   groups, passing the Luhn check): all but the last four digits become `*`;
/// - credentials in URLs (`scheme://user:pass@host`): become `scheme://***@host`;
/// - in free text (a script's stderr, an error echoing a body), the value after a sensitive key
///   written as JSON (`"holderName": "..."`, `"token": {...}`) or as `key=value`: `[REDACTED]`.
///   `first6No` is a sensitive name too: with `last4No` it gives away ten digits of the card.
public struct Redactor: Sendable {
    public static let defaultSensitiveNames: Set<String> = [
        "signkey", "sign_key", "secret", "password", "passwd", "authorization", "token", "apikey", "api_key",
        "holdername", "tokencryptogram", "cvc", "cvv", "cvv2", "pan", "cardnumber", "card_number", "privatekey",
        "private_key", "icCardData".lowercased(), "bearer", "first6no", "cryptogram", "expirydate",
    ]

    /// Lower-cased field names whose values are always hidden.
    public let sensitiveNames: Set<String>
    /// Exact secret values (sign keys, admin token...) hidden wherever they appear. Values shorter
    /// than 4 characters are ignored: they would redact ordinary text.
    public let secrets: [String]
    /// `sensitiveNames` as lower-case bytes, bucketed by length, each bucket its names one after
    /// another in one array: the check walks plain bytes (an array of arrays cost a retain and a
    /// release per candidate, several hundred instructions per field of every log line).
    private let namesByLength: [[UInt8]]
    private let secretBytes: [[UInt8]]

    public init(extraNames: [String] = [], secrets: [String] = []) {
        let names = Redactor.defaultSensitiveNames.union(extraNames.map { $0.lowercased() })
        self.sensitiveNames = names
        self.secrets = secrets.filter { $0.utf8.count >= 4 }.sorted { $0.utf8.count > $1.utf8.count }
        var buckets = [[UInt8]](repeating: [], count: 65)
        for n in names.sorted() where n.utf8.count <= 64 { buckets[n.utf8.count].append(contentsOf: n.utf8) }
        self.namesByLength = buckets
        self.secretBytes = self.secrets.map { Array($0.utf8) }
    }

    public func redact(_ record: inout LogRecord) {
        if let m = scrubbed(record.message) { record.message = m }
        // Changes are collected and written back after the loop, only when there are any: the
        // caller usually still holds the fields array, and a write inside the loop lets the
        // optimizer make `record.fields` unique (a copy) before the first iteration.
        var changes: [(Int, String)] = []
        // By index: `for (name, value) in` copies every field (a retain and release of each).
        for i in record.fields.indices {
            if isSensitive(record.fields[i].0) {
                changes.append((i, "[REDACTED]"))
            } else if case .string(let s) = record.fields[i].1, let clean = scrubbed(s) {
                changes.append((i, clean))
            }
        }
        if !changes.isEmpty {
            for (i, v) in changes { record.fields[i].1 = .string(v) }
        }
    }

    /// Whether a field name is sensitive (ignoring ASCII case). No hashing, no allocation.
    public func isSensitive(_ name: String) -> Bool {
        return name.withUTF8Bytes { u in
            guard u.count < namesByLength.count else { return sensitiveNames.contains(name.lowercased()) }
            let n = u.count
            guard n > 0 else { return sensitiveNames.contains("") }
            return namesByLength[n].withUnsafeBufferPointer { bucket in
                var start = 0
                while start + n <= bucket.count {
                    var i = 0
                    while i < n && ASCII.lower(u[i]) == bucket[start + i] { i += 1 }
                    if i == n { return true }
                    start += n
                }
                return false
            }
        }
    }

    /// Scrubs secrets, card numbers and URL credentials out of free text.
    ///
    /// A search per secret (memchr-driven) and one pass over the bytes decide whether anything can
    /// need scrubbing (a secret, a run of 13+ digits, a `://`, a `key=` or `"key":`); the
    /// rewriting passes run only then.
    public func scrub(_ text: String) -> String {
        scrubbed(text) ?? text
    }

    /// `scrub`, or nil when there is nothing to scrub (the common case, decided in one pass).
    public func scrubbed(_ text: String) -> String? {
        let (secretFound, cardLike, url, keyed) = text.withUTF8Bytes { u -> (Bool, Bool, Bool, Bool) in
            let secretFound = containsSecret(u)
            // Most values need none of the rules: one branch-free pass says so. Identifiers mix
            // letters and digits at random (hex IDs), and `exactScan`, a branch per byte class,
            // was mispredicted about every other byte on them (some 2.5 ns a byte).
            guard Redactor.needsExactScan(u) else { return (secretFound, false, false, false) }
            let (cardLike, url, keyed) = Redactor.exactScan(u)
            return (secretFound, cardLike && Redactor.hasCardNumber(u), url, keyed)
        }
        if !secretFound && !cardLike && !url && !keyed { return nil }
        var s = text
        if keyed { s = redactKeyedValues(s) }
        if secretFound {
            for secret in secrets { s = ByteSearch.replacingAll(secret, with: "[REDACTED]", in: s) }
        }
        if cardLike { s = Redactor.maskCardNumbers(s) }
        if url && s.utf8.contains(UInt8(ascii: "@")) { s = Redactor.maskURLCredentials(s) }
        return s
    }

    /// Which rules `text` needs, byte by byte: a card-like digit run, a URL (`://`), a keyed
    /// value (`=`, or `:` after a quote or a space).
    static func exactScan(_ u: UnsafeBufferPointer<UInt8>) -> (cardLike: Bool, url: Bool, keyed: Bool) {
        var keyed = false
        var run = 0
        var cardLike = false
        var url = false
        var i = 0
        while i < u.count {
            let b = u[i]
            if b &- 0x30 < 10 {
                if run == 0 && i > 0 && Redactor.isAlphanumeric(u[i - 1]) {
                    run = -1_000  // glued to a word: not a card number
                }
                run += 1
                if run >= 13 { cardLike = true }
            } else if b == 0x20 || b == 0x2D {
                if run < 0 { run = 0 }  // a separator may sit inside a card number
            } else {
                run = 0
                if b == 0x3D {
                    keyed = true  // '=': key=value text
                } else if b == 0x3A {
                    if i + 2 < u.count && u[i + 1] == 0x2F && u[i + 2] == 0x2F { url = true }
                    if i > 0 && (u[i - 1] == 0x22 || u[i - 1] == 0x20) { keyed = true }  // "key": value
                }
            }
            i += 1
        }
        return (cardLike, url, keyed)
    }

    /// Per byte: 1 for what may sit inside a card number (a digit, a space, a dash), 2 for
    /// what starts the other rules (`=`, `:`), 4 for what a JSON string must escape (controls,
    /// quote, backslash, DEL).
    static let scanClasses: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 256)
        for d in 0x30...0x39 { t[d] = 1 }
        t[0x20] = 1
        t[0x2D] = 1
        t[0x3D] = 2
        t[0x3A] = 2
        for c in 0..<0x20 { t[c] = 4 }
        t[0x22] = 4
        t[0x5C] = 4
        t[0x7F] = 4
        return t
    }()

    /// Whether one of the configured secret values occurs in `u` (memchr-driven per secret).
    @inline(__always)
    func containsSecret(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        for sb in secretBytes where sb.count <= u.count {
            if sb.withUnsafeBufferPointer({ ByteSearch.firstOffset(of: $0, in: u) }) != nil { return true }
        }
        return false
    }

    /// One branch-free pass: whether `exactScan` is needed at all.
    @inline(__always)
    static func needsExactScan(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        scanClasses.withUnsafeBufferPointer { table in
            var scan = QuickScan()
            for b in u { scan.add(table[Int(b)]) }
            return scan.needsExactScan
        }
    }

    /// The state of the branch-free pass over a value's byte classes (`scanClasses`), fed one
    /// class at a time: by `needsExactScan`, and by the log line's one-pass writer, which
    /// copies the bytes in the same loop.
    struct QuickScan {
        private var run = 0
        private var longest = 0
        private(set) var seen: UInt8 = 0

        @inline(__always) mutating func add(_ c: UInt8) {
            run = (run &+ 1) & -Int(c & 1)
            longest = Swift.max(longest, run)
            seen |= c
        }

        /// A card number of 13 digits spans at least 13 bytes of digits, spaces and dashes in
        /// a row; with no such stretch, and no `=` or `:`, none of the exact rules can apply.
        var needsExactScan: Bool { longest >= 13 || seen & 2 != 0 }
        /// Whether a byte needs a JSON escape.
        var needsEscape: Bool { seen & 4 != 0 }
    }

    /// Hides the value following a sensitive key in text: `"name" : <JSON value>` (a string, or
    /// a whole object or array, brackets balanced, strings respected) and `name=value` (up to a
    /// space, `&`, `;`, `,` or quote). The key stays, so the line still says what was there.
    func redactKeyedValues(_ text: String) -> String {
        let u = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(u.count)
        var i = 0
        var changed = false
        let redacted = Array("[REDACTED]".utf8)
        while i < u.count {
            let b = u[i]
            // A key: a run of [A-Za-z0-9_-] (maybe inside quotes) followed by ':' or '='. It starts
            // a word; an escape such as `\n` (a script's output folded on one line) ends the word
            // before it.
            let escapeBefore = i >= 2 && u[i - 2] == 0x5C && (u[i - 1] == UInt8(ascii: "n") || u[i - 1] == UInt8(ascii: "t") || u[i - 1] == UInt8(ascii: "r"))
            let startsWord = i == 0 || !(Redactor.isAlphanumeric(u[i - 1]) || u[i - 1] == 0x5F) || escapeBefore
            let isEscape = i >= 1 && u[i - 1] == 0x5C
            guard Redactor.isAlphanumeric(b) || b == 0x5F, startsWord, !isEscape else {
                out.append(b)
                i += 1
                continue
            }
            var j = i
            while j < u.count && (Redactor.isAlphanumeric(u[j]) || u[j] == 0x5F || u[j] == 0x2D) { j += 1 }
            let name = String(decoding: u[i..<j], as: UTF8.self)
            let quoted = i > 0 && u[i - 1] == 0x22 && j < u.count && u[j] == 0x22
            var k = quoted ? j + 1 : j
            while k < u.count && u[k] == 0x20 { k += 1 }
            let sep: UInt8? = k < u.count && (u[k] == 0x3A || u[k] == 0x3D) ? u[k] : nil
            guard let sep, (sep == 0x3D || quoted || u[k - 1] != 0x20), isSensitive(name) else {
                out.append(contentsOf: u[i..<j])
                i = j
                continue
            }
            // Copy through the separator and the spaces after it, then replace the value.
            k += 1
            while k < u.count && u[k] == 0x20 { k += 1 }
            out.append(contentsOf: u[i..<k])
            let end: Int
            if k < u.count && u[k] == 0x22 {
                end = Redactor.endOfJSONString(u, from: k)
                out.append(0x22)
                out.append(contentsOf: redacted)
                out.append(0x22)
            } else if k < u.count && (u[k] == 0x7B || u[k] == 0x5B) {
                end = Redactor.endOfJSONContainer(u, from: k)
                out.append(0x22)
                out.append(contentsOf: redacted)
                out.append(0x22)
            } else {
                var e = k
                while e < u.count && !Redactor.valueStops.contains(u[e]) { e += 1 }
                end = e
                if e > k { out.append(contentsOf: redacted) }
            }
            changed = changed || end > k
            i = end
        }
        return changed ? String(decoding: out, as: UTF8.self) : text
    }

    /// Bytes that end an unquoted `key=value` value: space, `&`, `;`, `,`, quote, `}`, `]`, LF,
    /// tab, backslash (an escape in folded output).
    static let valueStops: Set<UInt8> = [0x20, 0x26, 0x3B, 0x2C, 0x22, 0x7D, 0x5D, 0x0A, 0x09, 0x5C]

    /// Index just past the JSON string starting at `from` (a quote); the end of text if unclosed.
    static func endOfJSONString(_ u: [UInt8], from: Int) -> Int {
        var i = from + 1
        while i < u.count {
            if u[i] == 0x5C {
                i += 2
                continue
            }
            if u[i] == 0x22 { return i + 1 }
            i += 1
        }
        return u.count
    }

    /// Index just past the object or array starting at `from`; the end of text if unbalanced.
    static func endOfJSONContainer(_ u: [UInt8], from: Int) -> Int {
        var depth = 0
        var i = from
        while i < u.count {
            switch u[i] {
            case 0x22:
                i = endOfJSONString(u, from: i)
                continue
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D:
                depth -= 1
                if depth == 0 { return i + 1 }
            default: break
            }
            i += 1
        }
        return u.count
    }

    static func mayContainCardNumber(_ s: String) -> Bool {
        var run = 0
        for b in s.utf8 {
            if b >= 0x30 && b <= 0x39 {
                run += 1
                if run >= 13 { return true }
            } else if b != 0x20 && b != 0x2D {
                run = 0
            }
        }
        return false
    }

    /// Masks every card number in `s` (see `forEachCardNumber`): all digits but the last four
    /// become `*`.
    static func maskCardNumbers(_ s: String) -> String {
        var bytes = Array(s.utf8)
        var found: [(Range<Int>, Int)] = []
        bytes.withUnsafeBufferPointer { u in
            forEachCardNumber(u) { range, digits in
                found.append((range, digits))
                return true
            }
        }
        for (range, digits) in found {
            var seen = 0
            for p in range where isDigit(bytes[p]) {
                if seen < digits - 4 { bytes[p] = UInt8(ascii: "*") }
                seen += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `u` holds a card number that `maskCardNumbers` would mask. The quick passes flag
    /// any 13 digits in a row that are not glued to a word before them; this asks the whole
    /// rule, so a value that only looks like one (a hex ID whose first 13 characters are digits,
    /// 20 digits or more, a failed Luhn check) keeps the log line on its one-pass path instead
    /// of sending it through redact-then-format to change nothing.
    static func hasCardNumber(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        var any = false
        forEachCardNumber(u) { _, _ in
            any = true
            return false
        }
        return any
    }

    /// Calls `found` with the range (first digit to last) and digit count of every card number
    /// in `u`, in order, until it returns false. A card number is a run of 13 to 19 digits with
    /// single spaces or dashes allowed between them, standing on its own (no letter or digit
    /// right before or after it: an order reference such as MT9F86000000001234 is not one), that
    /// passes the Luhn check. The whole run must qualify: a sub-window of a longer digit run
    /// would mask order numbers and timestamps by chance (one in ten windows passes Luhn).
    static func forEachCardNumber(_ u: UnsafeBufferPointer<UInt8>, _ found: (Range<Int>, Int) -> Bool) {
        let n = u.count
        var i = 0
        while i < n {
            guard isDigit(u[i]) else {
                i += 1
                continue
            }
            if i > 0 && isAlphanumeric(u[i - 1]) {
                while i < n && isDigit(u[i]) { i += 1 }
                continue
            }
            // The run's digits, with the Luhn sum both ways: `even` doubles the digits at even
            // positions from the left, `odd` those at odd ones. Luhn doubles every second digit
            // from the right, so the run's length picks which sum applies.
            var digits = 0
            var even = 0
            var odd = 0
            var j = i
            while j < n {
                let b = u[j]
                if isDigit(b) {
                    let v = Int(b &- 0x30)
                    let doubled = v < 5 ? 2 * v : 2 * v - 9
                    if digits & 1 == 0 {
                        even += doubled
                        odd += v
                    } else {
                        even += v
                        odd += doubled
                    }
                    digits += 1
                    j += 1
                } else if (b == 0x20 || b == 0x2D), j + 1 < n, isDigit(u[j + 1]), digits > 0 {
                    j += 1
                } else {
                    break
                }
            }
            let gluedAfter = j < n && isAlphanumeric(u[j])
            // From the right, the last digit is not doubled: with an odd count that is an even
            // position from the left, so the odd positions are doubled (and the reverse).
            if !gluedAfter, (13...19).contains(digits), (digits & 1 == 1 ? odd : even) % 10 == 0 {
                guard found(i..<j, digits) else { return }
            }
            i = max(j, i + 1)
        }
    }

    /// The Luhn check over ASCII digits (the tests' reference for `forEachCardNumber`'s sums).
    static func luhnValid(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (k, d) in digits.reversed().enumerated() {
            var v = Int(d - 0x30)
            if k % 2 == 1 {
                v *= 2
                if v > 9 { v -= 9 }
            }
            sum += v
        }
        return sum % 10 == 0
    }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    @inline(__always) static func isAlphanumeric(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    /// `http://user:pass@host/x` -> `http://***@host/x`, for every URL in the text.
    static func maskURLCredentials(_ s: String) -> String {
        var out = ""
        var rest = Substring(s)
        while let r = rest.firstRange(of: "://") {
            out += rest[..<r.upperBound]
            rest = rest[r.upperBound...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == " " || $0 == "\"" || $0 == "?" || $0 == "#" } ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                out += "***"
                rest = rest[at...]
            }
        }
        return out + rest
    }
}

