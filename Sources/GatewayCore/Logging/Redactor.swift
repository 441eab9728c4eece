/// The one place that decides what may not appear in a log line, metric label or error answer.
///
/// It scrubs, in every string field and in the message:
/// - fields whose *name* is sensitive (`signKey`, `authorization`, `holderName`, `tokenCryptogram`,
///   `cvc`, `password`, `secret`, `token`, ... and any configured extra names): the value becomes
///   `[REDACTED]`;
/// - any configured secret value (sign keys, tokens), wherever it appears: `[REDACTED]`;
/// - digit runs that look like a card number (13 to 19 digits, spaces or dashes allowed between
///   groups, passing the Luhn check): all but the last four digits become `*`;
/// - credentials in URLs (`scheme://user:pass@host`): become `scheme://***@host`.
public struct Redactor: Sendable {
    public static let defaultSensitiveNames: Set<String> = [
        "signkey", "sign_key", "secret", "password", "passwd", "authorization", "token", "apikey", "api_key",
        "holdername", "tokencryptogram", "cvc", "cvv", "cvv2", "pan", "cardnumber", "card_number", "privatekey",
        "private_key", "icCardData".lowercased(), "bearer",
    ]

    /// Lower-cased field names whose values are always hidden.
    public var sensitiveNames: Set<String>
    /// Exact secret values (sign keys, admin token...) hidden wherever they appear. Values shorter
    /// than 4 characters are ignored: they would redact ordinary text.
    public private(set) var secrets: [String]

    public init(extraNames: [String] = [], secrets: [String] = []) {
        self.sensitiveNames = Redactor.defaultSensitiveNames.union(extraNames.map { $0.lowercased() })
        self.secrets = secrets.filter { $0.utf8.count >= 4 }.sorted { $0.utf8.count > $1.utf8.count }
    }

    public func redact(_ record: inout LogRecord) {
        record.message = scrub(record.message)
        for i in record.fields.indices {
            let (name, value) = record.fields[i]
            if sensitiveNames.contains(name.lowercased()) {
                record.fields[i].1 = .string("[REDACTED]")
            } else if case .string(let s) = value {
                record.fields[i].1 = .string(scrub(s))
            }
        }
    }

    /// Scrubs secrets, card numbers and URL credentials out of free text.
    public func scrub(_ text: String) -> String {
        var s = text
        for secret in secrets where s.contains(secret) {
            s = s.replacing(secret, with: "[REDACTED]")
        }
        if Redactor.mayContainCardNumber(s) { s = Redactor.maskCardNumbers(s) }
        if s.contains("://") && s.contains("@") { s = Redactor.maskURLCredentials(s) }
        return s
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

    /// Masks Luhn-valid runs of 13-19 digits (separators ' ' and '-' allowed inside a run).
    static func maskCardNumbers(_ s: String) -> String {
        var bytes = Array(s.utf8)
        var i = 0
        while i < bytes.count {
            guard isDigit(bytes[i]), i == 0 || !isDigit(bytes[i - 1]) else {
                i += 1
                continue
            }
            // Collect a run of digits with single separators between them.
            var digitPositions: [Int] = []
            var j = i
            while j < bytes.count {
                if isDigit(bytes[j]) {
                    digitPositions.append(j)
                    j += 1
                } else if (bytes[j] == 0x20 || bytes[j] == 0x2D), j + 1 < bytes.count, isDigit(bytes[j + 1]), !digitPositions.isEmpty {
                    j += 1
                } else {
                    break
                }
            }
            // The whole run must look like a card number: a sub-window of a longer digit run would
            // mask order numbers and timestamps by chance (one in ten windows passes Luhn).
            if (13...19).contains(digitPositions.count), luhnValid(digitPositions.map { bytes[$0] }) {
                for p in digitPositions.dropLast(4) { bytes[p] = UInt8(ascii: "*") }
            }
            i = max(j, i + 1)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

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

