public import GatewayCore
internal import CByteScan
import Glibc

/// An incremental HTTP/1.1 request parser with no I/O: bytes in, events out.
///
/// Feed it whatever the socket delivered, in any split; it emits complete requests (head and
/// de-chunked body together: the gateway needs the whole body before it can check a signature),
/// a `continueRequested` event for `Expect: 100-continue`, or one `error`, after which it
/// ignores all input (the connection must be answered and closed: once framing is in doubt,
/// nothing after it can be trusted; this is what prevents request smuggling).
///
/// Strictness, each refusal a 400 unless noted:
/// - bare LF anywhere in the head or chunk framing; obs-fold (a header line starting with
///   whitespace); whitespace between a header name and its colon; control bytes (NUL, DEL, ...)
///   in the request line or a header; a method or header name that is not a token;
/// - `Content-Length` together with `Transfer-Encoding`; more than one `Content-Length`; a
///   `Content-Length` that is not 1 to 18 digits; any `Transfer-Encoding` other than exactly
///   `chunked` (`chunked, identity`, `gzip, chunked`, duplicates); `Transfer-Encoding` on HTTP/1.0;
/// - chunk sizes that are not 1 to 8 hex digits, or followed by anything but `;ext` or CRLF;
/// - a missing or repeated `Host` on HTTP/1.1; a request line that is not
///   `METHOD SP TARGET SP HTTP/1.x` (`HTTP/2.0` or other versions: 505);
/// - limits: target over `maxRequestTargetBytes` 414, head over `maxHeaderBytes` or more than
///   `maxHeaderCount` fields 431, body over `maxBodyBytes` 413 (from `Content-Length` at once,
///   from chunks as they come), `Expect` other than `100-continue` 417.
public struct HTTPRequestParser: Sendable {
    public enum Event: Sendable {
        /// The head of a request with `Expect: 100-continue` is complete and its body has not
        /// started: the driver may send `100 Continue` (after any earlier answers).
        case continueRequested
        case request(HTTPRequest)
        case error(GatewayError)
    }

    /// What the parser is waiting for, so the driver can apply the right timeout.
    public enum Phase: Sendable, Equatable {
        /// Between requests: nothing of the next one received.
        case idle
        /// Inside a request's head.
        case head
        /// Inside a request's body.
        case body
        /// After an error; input is ignored.
        case failed
    }

    private enum State: Sendable {
        case head
        case fixedBody(remaining: Int)
        case chunkLine
        case chunkData(remaining: Int)
        case chunkDataEnd(seenCR: Bool)
        case trailers
        case failed
    }

    public let limits: HTTPParserLimits
    private var state: State = .head
    /// Bytes of the current head (or chunk line / trailer line).
    private var buffer: [UInt8] = []
    /// Offset in `buffer` where the current line starts.
    private var lineStart = 0
    private var requestLineDone = false
    private var headerLines = 0
    private var trailerBytes = 0
    private var leadingEmptyLines = 0
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
    }

    public var phase: Phase {
        switch state {
        case .head: buffer.isEmpty ? .idle : .head
        case .failed: .failed
        default: .body
        }
    }

    /// Parses `bytes`, appending what it finds to `events`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into events: inout [Event]) {
        let input = bytes.bindMemory(to: UInt8.self)
        var i = 0
        while i < input.count {
            switch state {
            case .failed:
                return
            case .head:
                i = consumeHead(input, from: i, events: &events)
            case .fixedBody(let remaining):
                let n = min(remaining, input.count - i)
                body.append(contentsOf: UnsafeBufferPointer(rebasing: input[i..<(i + n)]))
                i += n
                if remaining - n == 0 { finishRequest(&events) } else { state = .fixedBody(remaining: remaining - n) }
            case .chunkLine, .trailers:
                i = consumeLine(input, from: i, events: &events)
            case .chunkData(let remaining):
                let n = min(remaining, input.count - i)
                body.append(contentsOf: UnsafeBufferPointer(rebasing: input[i..<(i + n)]))
                i += n
                state = remaining - n == 0 ? .chunkDataEnd(seenCR: false) : .chunkData(remaining: remaining - n)
            case .chunkDataEnd(let seenCR):
                let b = input[i]
                i += 1
                if !seenCR {
                    guard b == 0x0D else { return fail(.badRequest, "chunk data not followed by CRLF", &events) }
                    state = .chunkDataEnd(seenCR: true)
                } else {
                    guard b == 0x0A else { return fail(.badRequest, "chunk data not followed by CRLF", &events) }
                    buffer.removeAll(keepingCapacity: true)
                    lineStart = 0
                    state = .chunkLine
                }
            }
        }
    }

    public mutating func feed(_ bytes: [UInt8], into events: inout [Event]) {
        bytes.withUnsafeBytes { feed($0, into: &events) }
    }

    // MARK: - Head

    /// Appends head bytes line by line until the empty line; returns the new input offset.
    private mutating func consumeHead(_ input: UnsafeBufferPointer<UInt8>, from start: Int, events: inout [Event]) -> Int {
        var i = start
        while i < input.count {
            // A lone CR kept from the end of the previous read must be followed by LF, exactly as
            // when both bytes arrive together (found by fuzzing: the outcome depended on where
            // the input was split).
            if !requestLineDone && buffer.count == 1 && buffer[0] == 0x0D && input[i] != 0x0A {
                fail(.badRequest, "malformed request line", &events)
                return input.count
            }
            // Tolerate empty lines before a request line (RFC 9112 2.2), a common client habit.
            if buffer.isEmpty && !requestLineDone && (input[i] == 0x0D || input[i] == 0x0A) {
                if input[i] == 0x0A {
                    fail(.badRequest, "bare LF in request", &events)
                    return input.count
                }
                if i + 1 < input.count {
                    guard input[i + 1] == 0x0A, noteEmptyLine() else {
                        fail(.badRequest, "malformed request line", &events)
                        return input.count
                    }
                    i += 2
                    continue
                }
                // A lone CR at the end of this read: keep it and look again with the next read.
            }
            guard let lf = indexOfLF(input, from: i) else {
                if !appendHead(input, i..<input.count) {
                    fail(.badRequest, "control character in request head", &events)
                    return input.count
                }
                checkIncompleteHead(&events)
                return input.count
            }
            if !appendHead(input, i..<(lf + 1)) {
                fail(.badRequest, "control character in request head", &events)
                return input.count
            }
            i = lf + 1
            if let err = checkHeadSize() {
                fail(err, &events)
                return input.count
            }
            let lineEnd = buffer.count - 1  // index of LF
            guard lineEnd >= 1, buffer[lineEnd - 1] == 0x0D else {
                fail(.badRequest, "bare LF in request head", &events)
                return input.count
            }
            if !requestLineDone {
                if lineEnd - 1 == lineStart {
                    // An empty line before the request line, whose CR ended an earlier read.
                    buffer.removeAll()
                    lineStart = 0
                    guard noteEmptyLine() else {
                        fail(.badRequest, "malformed request line", &events)
                        return input.count
                    }
                    continue
                }
                requestLineDone = true
            } else if lineEnd - 1 == lineStart {
                // Empty line: the head is complete.
                completeHead(&events)
                return i
            } else {
                headerLines += 1
                if headerLines > limits.maxHeaderCount {
                    fail(.headersTooLarge, "more than \(limits.maxHeaderCount) header fields", &events)
                    return input.count
                }
            }
            lineStart = buffer.count
        }
        return i
    }

    /// Counts a tolerated empty line before a request line; false when there were too many.
    private mutating func noteEmptyLine() -> Bool {
        leadingEmptyLines += 1
        return leadingEmptyLines <= 8
    }

    private func indexOfLF(_ input: UnsafeBufferPointer<UInt8>, from i: Int) -> Int? {
        guard i < input.count, let base = input.baseAddress else { return nil }
        guard let p = memchr(base + i, 0x0A, input.count - i) else { return nil }
        return base.distance(to: p.assumingMemoryBound(to: UInt8.self))
    }

    /// Empties the head buffer for the next request, keeping an ordinary head's capacity: a
    /// keep-alive connection then allocates it once, not once per request.
    private mutating func clearBuffer() {
        if buffer.capacity <= Self.keptBufferCapacity { buffer.removeAll(keepingCapacity: true) } else { buffer = [] }
    }

    static let keptBufferCapacity = 2048

    private mutating func append(_ input: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) {
        // One allocation for a typical head instead of a series of doublings.
        if buffer.capacity == 0 { buffer.reserveCapacity(1024) }
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: input[r]))
    }

    /// Appends head bytes, refusing control bytes at once (binary garbage, NUL) rather than
    /// waiting for a line end that may never come.
    private mutating func appendHead(_ input: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        // Sixteen bytes at a time, exactly (SSE2, CByteScan): the CRLF at every line's end
        // costs nothing more.
        var j = r.lowerBound
        if let base = input.baseAddress {
            while j &+ 16 <= r.upperBound {
                if gw_http_head_forbidden16(base + j) != 0 { return false }
                j &+= 16
            }
        }
        while j < r.upperBound {
            if !Self.allowedInHead(input[j]) { return false }
            j += 1
        }
        append(input, r)
        return true
    }

    /// Control bytes other than tab, CR and LF (and DEL) are never allowed in a request head.
    @inline(__always)
    private static func allowedInHead(_ b: UInt8) -> Bool {
        !((b < 0x20 && b != 0x09 && b != 0x0D && b != 0x0A) || b == 0x7F)
    }

    /// Limits that can be decided before the head is complete.
    private func checkHeadSize() -> GatewayError? {
        if !requestLineDone {
            // The request line (method, target, version) may exceed the target limit only by
            // the size of a method and a version.
            if buffer.count - lineStart > limits.maxRequestTargetBytes + 64 { return requestLineTooLong() }
        }
        if buffer.count > limits.maxHeaderBytes {
            return GatewayError(.headersTooLarge, "request header section is larger than \(limits.maxHeaderBytes) bytes")
        }
        return nil
    }

    private mutating func checkIncompleteHead(_ events: inout [Event]) {
        if let err = checkHeadSize() { fail(err, &events) }
    }

    /// 414 when the line starts like a request line, 400 when it is garbage anyway.
    private func requestLineTooLong() -> GatewayError {
        var j = 0
        while j < buffer.count, ASCII.isTokenChar(buffer[j]) { j += 1 }
        if j > 0, j < buffer.count, buffer[j] == 0x20 {
            return GatewayError(.uriTooLong, "request target is longer than \(limits.maxRequestTargetBytes) bytes")
        }
        return GatewayError(.badRequest, "malformed request line")
    }

    private mutating func completeHead(_ events: inout [Event]) {
        let result = buffer.withUnsafeBufferPointer { HeadParser(bytes: $0, limits: limits).parse() }
        clearBuffer()
        lineStart = 0
        requestLineDone = false
        headerLines = 0
        switch result {
        case .failure(let e):
            fail(e, &events)
        case .success(let (h, framing)):
            head = h
            switch framing {
            case .none:
                finishRequest(&events)
            case .length(let n):
                if h.expectContinue { events.append(.continueRequested) }
                body.reserveCapacity(n)
                state = .fixedBody(remaining: n)
            case .chunked:
                if h.expectContinue { events.append(.continueRequested) }
                state = .chunkLine
            }
        }
    }

    private mutating func finishRequest(_ events: inout [Event]) {
        if let h = head { events.append(.request(HTTPRequest(head: h, body: body))) }
        head = nil
        body = []
        clearBuffer()
        lineStart = 0
        trailerBytes = 0
        leadingEmptyLines = 0
        state = .head
    }

    // MARK: - Chunked framing

    /// Collects one chunk-size line or trailer line; returns the new input offset.
    private mutating func consumeLine(_ input: UnsafeBufferPointer<UInt8>, from start: Int, events: inout [Event]) -> Int {
        guard let lf = indexOfLF(input, from: start) else {
            append(input, start..<input.count)
            if case .chunkLine = state, buffer.count > limits.maxChunkLineBytes {
                fail(.badRequest, "chunk size line is too long", &events)
            } else if trailerBytes + buffer.count > limits.maxHeaderBytes {
                fail(.headersTooLarge, "trailer section is too large", &events)
            }
            return input.count
        }
        append(input, start..<(lf + 1))
        let line = buffer
        buffer.removeAll(keepingCapacity: true)
        guard line.count >= 2, line[line.count - 2] == 0x0D else {
            fail(.badRequest, "bare LF in chunked body", &events)
            return input.count
        }
        let content = line[0..<(line.count - 2)]
        if case .chunkLine = state {
            guard content.count <= limits.maxChunkLineBytes else {
                fail(.badRequest, "chunk size line is too long", &events)
                return input.count
            }
            switch parseChunkSize(content) {
            case .failure(let e):
                fail(e, &events)
                return input.count
            case .success(let size):
                if size == 0 {
                    state = .trailers
                } else if body.count + size > limits.maxBodyBytes {
                    fail(.payloadTooLarge, "body is larger than \(limits.maxBodyBytes) bytes", &events)
                    return input.count
                } else {
                    state = .chunkData(remaining: size)
                }
            }
        } else {
            // Trailer section: ignored, but still bounded and well-formed.
            trailerBytes += line.count
            if content.isEmpty {
                finishRequest(&events)
                return lf + 1
            }
            if trailerBytes > limits.maxHeaderBytes {
                fail(.headersTooLarge, "trailer section is too large", &events)
                return input.count
            }
            if let err = HeadParser.validateFieldLine(content) {
                fail(err, &events)
                return input.count
            }
        }
        return lf + 1
    }

    private func parseChunkSize(_ line: ArraySlice<UInt8>) -> Result<Int, GatewayError> {
        var size = 0
        var digits = 0
        var idx = line.startIndex
        while idx < line.endIndex, let v = Hex.value(of: line[idx]) {
            digits += 1
            if digits > 8 { return .failure(GatewayError(.badRequest, "chunk size is too long")) }
            size = size << 4 | Int(v)
            idx += 1
        }
        guard digits > 0 else { return .failure(GatewayError(.badRequest, "invalid chunk size")) }
        if idx < line.endIndex {
            guard line[idx] == UInt8(ascii: ";") else { return .failure(GatewayError(.badRequest, "invalid chunk size")) }
            for b in line[idx...] where ASCII.isControlInFieldValue(b) {
                return .failure(GatewayError(.badRequest, "control character in chunk extension"))
            }
        }
        return .success(size)
    }

    // MARK: - Errors

    private mutating func fail(_ kind: GatewayError.Kind, _ message: String, _ events: inout [Event]) {
        fail(GatewayError(kind, message), &events)
    }

    private mutating func fail(_ error: GatewayError, _ events: inout [Event]) {
        state = .failed
        buffer = []
        body = []
        head = nil
        events.append(.error(error))
    }
}

/// Body framing decided from the head.
enum BodyFraming: Sendable {
    case none
    case length(Int)
    case chunked
}

/// Parses a complete head (request line, fields, final CRLF CRLF) and decides its framing.
struct HeadParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let limits: HTTPParserLimits

    func parse() -> Result<(HTTPRequestHead, BodyFraming), GatewayError> {
        // Skip tolerated leading CRLFs (an empty first line).
        var pos = 0
        while pos + 1 < bytes.count, bytes[pos] == 0x0D, bytes[pos + 1] == 0x0A { pos += 2 }
        guard let firstLF = find(0x0A, from: pos) else { return .failure(bad("malformed request line")) }
        let requestLine = UnsafeBufferPointer(rebasing: bytes[pos..<(firstLF - 1)])
        let method: String
        let target: String
        let minor: Int
        switch parseRequestLine(requestLine) {
        case .failure(let e): return .failure(e)
        case .success(let v): (method, target, minor) = v
        }
        var headers = HTTPHeaders(capacity: 16)
        var framing = FramingHeaders()
        var lineStart = firstLF + 1
        while lineStart < bytes.count {
            guard let lf = find(0x0A, from: lineStart) else { break }
            let line = UnsafeBufferPointer(rebasing: bytes[lineStart..<(lf - 1)])
            lineStart = lf + 1
            if line.isEmpty { break }
            switch parseField(line, framing: &framing) {
            case .failure(let e): return .failure(e)
            case .success(let (name, value)): headers.add(name, value)
            }
        }
        return frame(method: method, target: target, minor: minor, headers: headers, framing: framing)
    }

    private func find(_ byte: UInt8, from: Int) -> Int? {
        guard from < bytes.count, let base = bytes.baseAddress, let p = memchr(base + from, Int32(byte), bytes.count - from) else { return nil }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(p))
    }

    private func bad(_ m: String) -> GatewayError { GatewayError(.badRequest, m) }

    private func parseRequestLine(_ line: UnsafeBufferPointer<UInt8>) -> Result<(String, String, Int), GatewayError> {
        var i = 0
        while i < line.count, ASCII.isTokenChar(line[i]) { i += 1 }
        guard i > 0, i < line.count, line[i] == 0x20 else { return .failure(bad("malformed request line")) }
        let method = String(decoding: UnsafeBufferPointer(rebasing: line[0..<i]), as: UTF8.self)
        i += 1
        let targetStart = i
        while i < line.count, line[i] > 0x20, line[i] < 0x7F { i += 1 }
        guard i > targetStart, i < line.count, line[i] == 0x20 else {
            if i < line.count, line[i] != 0x20 { return .failure(bad("invalid character in request target")) }
            return .failure(bad("malformed request line"))
        }
        if i - targetStart > limits.maxRequestTargetBytes {
            return .failure(GatewayError(.uriTooLong, "request target is longer than \(limits.maxRequestTargetBytes) bytes"))
        }
        let target = String(decoding: UnsafeBufferPointer(rebasing: line[targetStart..<i]), as: UTF8.self)
        guard target.hasPrefix("/") || (target == "*" && method == "OPTIONS") || target.lowercased().hasPrefix("http://")
            || target.lowercased().hasPrefix("https://")
        else { return .failure(bad("invalid request target")) }
        i += 1
        let version = UnsafeBufferPointer(rebasing: line[i...])
        guard version.count == 8, version.starts(with: "HTTP/".utf8), version[6] == UInt8(ascii: "."),
            version[5] >= 0x30 && version[5] <= 0x39, version[7] >= 0x30 && version[7] <= 0x39
        else { return .failure(bad("malformed HTTP version")) }
        guard version[5] == UInt8(ascii: "1"), version[7] == UInt8(ascii: "0") || version[7] == UInt8(ascii: "1") else {
            return .failure(GatewayError(.versionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported"))
        }
        return .success((method, target, Int(version[7] - 0x30)))
    }

    /// `validateFieldLine` for a line in memory: the value, most of a line (an `Authorization`
    /// is 70 to 130 bytes), is checked for control bytes 16 at a time (a tab is allowed), and
    /// its last few bytes one by one.
    static func validateFieldLine(_ line: UnsafeBufferPointer<UInt8>) -> GatewayError? {
        guard let base = line.baseAddress else { return validateFieldLine(line[...]) }
        // The name up to the colon, byte by byte through the pointer (the generic check over a
        // slice cost 19 instructions a byte, and finding the colon was a pass of its own); the
        // first fault found is the one `validateFieldLine(_: some Collection)` reports.
        var colon = 0
        while colon < line.count && base[colon] != UInt8(ascii: ":") {
            let b = base[colon]
            if b == 0x20 || b == 0x09 {
                return GatewayError(.badRequest, colon == 0 ? "obsolete line folding is not allowed" : "whitespace before a header colon")
            }
            guard ASCII.isTokenChar(b) else { return GatewayError(.badRequest, "invalid character in header name") }
            colon += 1
        }
        guard colon < line.count, colon > 0 else { return GatewayError(.badRequest, "malformed header line") }
        // The value 16 bytes at a time, exactly (SSE2, CByteScan); the last few byte by byte.
        var j = colon &+ 1
        while j &+ 16 <= line.count {
            if gw_http_value_forbidden16(base + j) != 0 { return GatewayError(.badRequest, "control character in header value") }
            j &+= 16
        }
        if UnsafeBufferPointer(rebasing: line[j...]).contains(where: ASCII.isControlInFieldValue) {
            return GatewayError(.badRequest, "control character in header value")
        }
        return nil
    }

    /// Checks one `name: value` line (also used for trailers); nil when it is well-formed.
    static func validateFieldLine(_ line: some Collection<UInt8>) -> GatewayError? {
        var sawColon = false
        var nameLength = 0
        for b in line {
            if !sawColon {
                if b == UInt8(ascii: ":") {
                    sawColon = true
                    continue
                }
                if b == 0x20 || b == 0x09 {
                    return GatewayError(.badRequest, nameLength == 0 ? "obsolete line folding is not allowed" : "whitespace before a header colon")
                }
                guard ASCII.isTokenChar(b) else { return GatewayError(.badRequest, "invalid character in header name") }
                nameLength += 1
            } else if ASCII.isControlInFieldValue(b) {
                return GatewayError(.badRequest, "control character in header value")
            }
        }
        guard sawColon, nameLength > 0 else { return GatewayError(.badRequest, "malformed header line") }
        return nil
    }

    private func parseField(_ line: UnsafeBufferPointer<UInt8>, framing: inout FramingHeaders) -> Result<(String, String), GatewayError> {
        if let e = HeadParser.validateFieldLine(line) { return .failure(e) }
        var colon = 0
        while line[colon] != UInt8(ascii: ":") { colon += 1 }
        let nameBytes = UnsafeBufferPointer(rebasing: line[0..<colon])
        let name = HeadParser.knownName(nameBytes) ?? String(decoding: nameBytes, as: UTF8.self)
        let value = String(
            decoding: UnsafeBufferPointer(rebasing: line[HTTPHeaders.trimmingSpacesAndTabs(line, (colon + 1)..<line.count)]), as: UTF8.self)
        framing.note(FramingHeaders.Known(nameBytes), value)
        return .success((name, value))
    }

    /// A header name as clients usually spell it (the provider's, curl's, the benchmark's) is
    /// given as a literal: no allocation, validation or reference counting, where making each
    /// name a String cost some 130 instructions. Chosen by length, then compared whole. Other
    /// names (and other spellings) are made as usual; lookups ignore case either way.
    static func knownName(_ name: UnsafeBufferPointer<UInt8>) -> String? {
        @inline(__always) func isName(_ literal: StaticString) -> Bool {
            guard let n = name.baseAddress else { return false }
            return memcmp(literal.utf8Start, n, name.count) == 0
        }
        switch name.count {
        case 4: return isName("Host") ? "Host" : nil
        case 5: return isName("MsgID") ? "MsgID" : nil
        case 6: return isName("Accept") ? "Accept" : isName("Expect") ? "Expect" : nil
        case 8: return isName("DateTime") ? "DateTime" : isName("SignType") ? "SignType" : nil
        case 10: return isName("Connection") ? "Connection" : isName("User-Agent") ? "User-Agent" : nil
        case 12: return isName("Content-Type") ? "Content-Type" : nil
        case 13: return isName("Authorization") ? "Authorization" : nil
        case 14: return isName("Content-Length") ? "Content-Length" : nil
        case 15: return isName("Accept-Encoding") ? "Accept-Encoding" : nil
        case 17: return isName("Transfer-Encoding") ? "Transfer-Encoding" : nil
        default: return nil
        }
    }

    private func frame(
        method: String, target: String, minor: Int, headers: HTTPHeaders, framing f: FramingHeaders
    ) -> Result<(HTTPRequestHead, BodyFraming), GatewayError> {
        let teCount = f.transferEncoding.count
        let clValues = f.contentLength
        if teCount > 0 && !clValues.isEmpty {
            return .failure(bad("Content-Length and Transfer-Encoding together are not allowed"))
        }
        var framing = BodyFraming.none
        if teCount > 0 {
            guard minor == 1 else { return .failure(bad("Transfer-Encoding is not allowed in HTTP/1.0")) }
            let codings = f.transferEncoding.flatMap { $0.split(separator: ",") }.map { $0.trimmingASCIISpaces().lowercased() }
            guard teCount == 1, codings == ["chunked"] else {
                return .failure(bad("unsupported Transfer-Encoding (only 'chunked' is accepted)"))
            }
            framing = .chunked
        } else if !clValues.isEmpty {
            guard clValues.count == 1 else { return .failure(bad("more than one Content-Length header")) }
            let v = clValues[0]
            guard !v.isEmpty, v.utf8.count <= 18, v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(v) else {
                return .failure(bad("malformed Content-Length"))
            }
            if n > limits.maxBodyBytes {
                return .failure(GatewayError(.payloadTooLarge, "body is larger than \(limits.maxBodyBytes) bytes"))
            }
            framing = n == 0 ? .none : .length(n)
        }
        let hostCount = f.hostCount
        if minor == 1 && hostCount != 1 {
            return .failure(bad(hostCount == 0 ? "missing Host header" : "more than one Host header"))
        }
        if hostCount > 1 { return .failure(bad("more than one Host header")) }
        var expectContinue = false
        if let expect = f.expect {
            guard expect.lowercased() == "100-continue" else {
                return .failure(GatewayError(.expectationFailed, "only 'Expect: 100-continue' is supported"))
            }
            expectContinue = minor == 1
        }
        let connection = f.connection.flatMap { $0.split(separator: ",") }.map { $0.trimmingASCIISpaces().lowercased() }
        let keepAlive = minor == 1 ? !connection.contains("close") : connection.contains("keep-alive")
        let head = HTTPRequestHead(
            method: method, target: target, versionMinor: minor, headers: headers, keepAlive: keepAlive,
            expectContinue: expectContinue)
        return .success((head, framing))
    }
}

/// The headers that decide framing and connection handling, collected while the fields are
/// parsed (so no second pass over the header list is needed).
struct FramingHeaders {
    enum Known {
        case contentLength, transferEncoding, host, expect, connection, other

        /// Classifies a header name without allocating (length first, then a case-insensitive compare).
        init(_ name: UnsafeBufferPointer<UInt8>) {
            func eq(_ lit: StaticString) -> Bool {
                guard lit.utf8CodeUnitCount == name.count else { return false }
                let p = lit.utf8Start
                for i in 0..<name.count where ASCII.lower(name[i]) != p[i] { return false }
                return true
            }
            switch name.count {
            case 4: self = eq("host") ? .host : .other
            case 6: self = eq("expect") ? .expect : .other
            case 10: self = eq("connection") ? .connection : .other
            case 14: self = eq("content-length") ? .contentLength : .other
            case 17: self = eq("transfer-encoding") ? .transferEncoding : .other
            default: self = .other
            }
        }
    }

    var contentLength: [String] = []
    var transferEncoding: [String] = []
    var hostCount = 0
    var expect: String?
    var connection: [String] = []

    mutating func note(_ k: Known, _ value: String) {
        switch k {
        case .contentLength: contentLength.append(value)
        case .transferEncoding: transferEncoding.append(value)
        case .host: hostCount += 1
        case .expect: if expect == nil { expect = value }
        case .connection: connection.append(value)
        case .other: break
        }
    }
}
