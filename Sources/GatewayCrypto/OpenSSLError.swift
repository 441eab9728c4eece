private import COpenSSL

/// A failure inside OpenSSL, with the library's error queue drained into `detail`.
public struct CryptoError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var detail: String

    public var description: String { detail.isEmpty ? operation : "\(operation): \(detail)" }

    /// Captures and clears OpenSSL's thread-local error queue.
    static func drain(_ operation: String) -> CryptoError {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            messages.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return CryptoError(operation: operation, detail: messages.joined(separator: "; "))
    }

    static func clearQueue() { ERR_clear_error() }
}
