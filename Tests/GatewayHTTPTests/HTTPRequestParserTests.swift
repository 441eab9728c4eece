import CByteScan
import GatewayCore
import Testing

@testable import GatewayHTTP

@Suite("HTTP request parser")
struct HTTPRequestParserTests {
    /// `hasToken` (no allocation) says what `tokens(name).contains(token)` says, across values
    /// with spaces, tabs, case, empty items and near-misses, and several fields of one name.
    @Test func hasTokenAgreesWithTokens() {
        let values = ["close", "Close", " keep-alive , close ", "closed", "x,close", "close,", ",", "", "  ", "CLOSE\t", "upgrade, Keep-Alive", "clo se", "gzip, chunked"]
        for v in values {
            for v2 in values.prefix(5) {
                let h = HTTPHeaders([("Connection", v), ("connection", v2), ("Transfer-Encoding", v)])
                for t in ["close", "keep-alive", "chunked", "gzip", "upgrade"] {
                    for name in ["Connection", "transfer-encoding", "X-Other"] {
                        #expect(h.hasToken(name, t) == h.tokens(name).contains(t), "\(name): '\(v)' / '\(v2)' has \(t)")
                    }
                }
            }
        }
    }

    @Test func simplePostWithContentLength() {
        let seen = parseEverySplit("POST /webhooks/evo?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        #expect(seen == [.request(method: "POST", target: "/webhooks/evo?x=1", body: "hello", keepAlive: true)])
    }

    @Test func headersAreCaseInsensitiveAndTrimmed() {
        let events = parse(Array("POST / HTTP/1.1\r\nhOsT: a\r\nSIGNTYPE: \t SHA256 \t\r\nContent-Length: 0\r\n\r\n".utf8))
        guard case .request(let r) = events.first else {
            Issue.record("no request: \(events)")
            return
        }
        #expect(r.head.headers["signtype"] == "SHA256")
        #expect(r.head.headers["SignType"] == "SHA256")
        #expect(r.head.path == "/")
    }

    @Test func aLoneCRBeforeARequestFailsWhereverTheInputIsSplit() {
        // Found by the http-parser fuzz target: "\r" at the end of one read and a non-LF byte at
        // the start of the next was kept waiting, while the same bytes in one read got a 400.
        let one = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n0"
        #expect(parseEverySplit(one + "\r%") == [.request(method: "POST", target: "/a", body: "0", keepAlive: true), .error(400)])
        #expect(parseEverySplit("\rGET / HTTP/1.1\r\n\r\n") == [.error(400)])
    }

    @Test func pipelinedRequestsComeOutInOrder() {
        let one = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n1"
        let two = "POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n22\r\n0\r\n\r\n"
        let three = "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        let seen = parseEverySplit(one + two + three)
        #expect(
            seen == [
                .request(method: "POST", target: "/a", body: "1", keepAlive: true),
                .request(method: "POST", target: "/b", body: "22", keepAlive: true),
                .request(method: "GET", target: "/c", body: "", keepAlive: false),
            ])
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() {
        let seen = parseEverySplit(
            "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
                + "4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: yes\r\n\r\n")
        #expect(seen == [.request(method: "POST", target: "/x", body: "Wikipedia in\r\n\r\nchunks.", keepAlive: true)])
    }

    @Test func expectContinueIsReportedBeforeTheBody() {
        let events = summarize(
            parse(Array("POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8)))
        #expect(events == [.continueRequested])
        let full = parseEverySplit("POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok")
        #expect(full == [.continueRequested, .request(method: "POST", target: "/x", body: "ok", keepAlive: true)])
    }

    @Test func unsupportedExpectationIs417() {
        #expect(parseEverySplit("POST /x HTTP/1.1\r\nHost: a\r\nExpect: magic\r\nContent-Length: 0\r\n\r\n") == [.error(417)])
    }

    @Test func http10KeepAliveRules() {
        #expect(parseEverySplit("GET / HTTP/1.0\r\n\r\n") == [.request(method: "GET", target: "/", body: "", keepAlive: false)])
        #expect(
            parseEverySplit("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                == [.request(method: "GET", target: "/", body: "", keepAlive: true)])
    }

    @Test func leadingEmptyLinesAreTolerated() {
        #expect(
            parseEverySplit("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
                == [.request(method: "GET", target: "/", body: "", keepAlive: true)])
    }

    // MARK: - Refusals (each closes the connection after the answer)

    @Test(arguments: [
        ("CL and TE together", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("duplicate CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        ("CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
        ("negative CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        ("plus CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400),
        ("hex CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
        ("huge CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
        ("empty CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400),
        ("TE chunked, identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
        ("TE gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400),
        ("TE twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("TE identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400),
        ("TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("space before colon", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc", 400),
        ("obs-fold", "POST / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400),
        ("NUL in header", "POST / HTTP/1.1\r\nHost: a\r\nX-A: b\u{0}c\r\n\r\n", 400),
        ("control byte in header", "POST / HTTP/1.1\r\nHost: a\r\nX-A: b\u{1}c\r\n\r\n", 400),
        ("DEL in header", "POST / HTTP/1.1\r\nHost: a\r\nX-A: b\u{7f}c\r\n\r\n", 400),
        ("bare LF", "POST / HTTP/1.1\nHost: a\n\n", 400),
        ("bare LF in header", "POST / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400),
        ("garbage request line", "HELLO\r\n\r\n", 400),
        ("garbage bytes", "\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\r\n\r\n", 400),
        ("two spaces", "POST  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("lowercase version", "POST / http/1.1\r\nHost: a\r\n\r\n", 400),
        ("HTTP/2.0", "POST / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("no host", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400),
        ("two hosts", "POST / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("relative target", "POST webhooks HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("bad chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("long chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n000000001\r\nx\r\n0\r\n\r\n", 400),
        ("chunk size with space", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n", 400),
        ("negative chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n", 400),
        ("chunk without CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n", 400),
        ("chunk bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n", 400),
    ])
    func refusals(_ name: String, _ input: String, _ status: Int) {
        let seen = parseEverySplit(input)
        #expect(seen == [.error(status)], "\(name)")
    }

    /// A control byte anywhere in the request line or a header (name or value), at every
    /// position and so at every offset within an 8-byte word of the head scan, is refused as
    /// soon as it arrives: the head never completes here, so only the scan of incoming head
    /// bytes can refuse it (binary garbage, such as TLS sent to a plain port, gets its 400 at
    /// once instead of waiting for a blank line that never comes).
    @Test func aControlByteInAnIncompleteHeadIsRefusedAtOnce() {
        let head = Array("POST /webhooks/evo?x=1 HTTP/1.1\r\nHost: a.example\r\nX-Long-Header-Name: some value here\r\n".utf8)
        for position in head.indices where head[position] != 0x0D && head[position] != 0x0A {
            for control: UInt8 in [0x00, 0x01, 0x0B, 0x1F, 0x7F] {
                var bytes = head
                bytes[position] = control
                var p = HTTPRequestParser(limits: HTTPParserLimits())
                var events: [HTTPRequestParser.Event] = []
                p.feed(bytes, into: &events)
                #expect(summarize(events) == [.error(400)], "byte \(control) at \(position)")
            }
        }
        // Without a control byte the same incomplete head is simply waited for.
        var p = HTTPRequestParser(limits: HTTPParserLimits())
        var events: [HTTPRequestParser.Event] = []
        p.feed(head, into: &events)
        #expect(events.isEmpty)
    }

    /// A bare CR inside a header line passes the incoming-byte scan (CR ends every line) and is
    /// refused by the field check, at every position of a long value (every offset of the
    /// value's 8-byte words) and of the name.
    @Test func aBareCRInsideAHeaderLineIsRefused() {
        let prefix = "POST / HTTP/1.1\r\nHost: a\r\n"
        let name = "X-Signature-Like"
        let value = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        for position in 0..<(name.utf8.count + 2 + value.utf8.count) {
            var line = Array("\(name): \(value)".utf8)
            line.insert(0x0D, at: position)
            let text = prefix + String(decoding: line, as: UTF8.self) + "\r\nContent-Length: 0\r\n\r\n"
            #expect(summarize(parse(Array(text.utf8))) == [.error(400)], "CR at \(position)")
        }
        let clean = prefix + "\(name): \(value)\r\nContent-Length: 0\r\n\r\n"
        #expect(summarize(parse(Array(clean.utf8))) == [.request(method: "POST", target: "/", body: "", keepAlive: true)])
    }

    @Test func nothingIsParsedAfterAnError() {
        let seen = parseEverySplit(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx" + "GARBAGE\r\n\r\n" + "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(seen == [.request(method: "POST", target: "/", body: "x", keepAlive: true), .error(400)])
    }

    // MARK: - Limits

    @Test func bodyOverTheLimitIs413FromContentLength() {
        var limits = HTTPParserLimits()
        limits.maxBodyBytes = 10
        #expect(parseEverySplit("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits: limits) == [.error(413)])
        #expect(
            parseEverySplit("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits)
                == [.request(method: "POST", target: "/", body: "0123456789", keepAlive: true)])
    }

    @Test func chunkedBodyOverTheLimitIs413() {
        var limits = HTTPParserLimits()
        limits.maxBodyBytes = 10
        let seen = parseEverySplit(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n", limits: limits)
        #expect(seen == [.error(413)])
    }

    @Test func longTargetIs414() {
        var limits = HTTPParserLimits()
        limits.maxRequestTargetBytes = 100
        let target = "/" + String(repeating: "a", count: 150)
        #expect(parseEverySplit("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits) == [.error(414)])
        // Detected before the line ends, too (a client streaming an endless target).
        let endless = "GET /" + String(repeating: "a", count: 500)
        #expect(summarize(parse(Array(endless.utf8), limits: limits)) == [.error(414)])
    }

    @Test func endlessGarbageWithoutNewlineIs400NotWaitingForever() {
        var limits = HTTPParserLimits()
        limits.maxRequestTargetBytes = 100
        let garbage = String(repeating: "\u{1}", count: 500)
        #expect(summarize(parse(Array(garbage.utf8), limits: limits)) == [.error(400)])
    }

    @Test func tooManyHeadersIs431() {
        var limits = HTTPParserLimits()
        limits.maxHeaderCount = 10
        let headers = (0..<11).map { "X-\($0): v\r\n" }.joined()
        #expect(parseEverySplit("GET / HTTP/1.1\r\nHost: a\r\n\(headers)\r\n", limits: limits) == [.error(431)])
    }

    @Test func headerSectionTooLargeIs431() {
        var limits = HTTPParserLimits()
        limits.maxHeaderBytes = 1024
        let big = String(repeating: "b", count: 2000)
        #expect(parseEverySplit("GET / HTTP/1.1\r\nHost: a\r\nX-Big: \(big)\r\n\r\n", limits: limits) == [.error(431)])
    }

    @Test func tenThousandHeadersIs431() {
        let headers = (0..<10_000).map { "X-\($0): v\r\n" }.joined()
        let events = summarize(parse(Array("GET / HTTP/1.1\r\nHost: a\r\n\(headers)\r\n".utf8)))
        #expect(events == [.error(431)])
    }

    @Test func phaseFollowsTheRequest() {
        var p = HTTPRequestParser()
        var events: [HTTPRequestParser.Event] = []
        #expect(p.phase == .idle)
        p.feed(Array("POST / HTTP/1.1\r\nHost: a\r\n".utf8), into: &events)
        #expect(p.phase == .head)
        p.feed(Array("Content-Length: 4\r\n\r\nab".utf8), into: &events)
        #expect(p.phase == .body)
        p.feed(Array("cd".utf8), into: &events)
        #expect(p.phase == .idle)
        p.feed(Array("\u{0}".utf8), into: &events)
        #expect(p.phase == .failed)
    }

    /// Parsed headers (kept as bytes until read) answer every lookup as the same fields added as
    /// Strings do: values in order, counts, tokens, the field list; adding to them keeps the order.
    @Test func parsedHeadersAnswerLikeTheSameFieldsAsStrings() {
        let head = "POST /w HTTP/1.1\r\nHost: a\r\nX-Dup: one\r\nconnection: keep-alive, Upgrade\r\nx-dup:  two \t\r\nEmpty:\r\nUser-Agent: caf\u{e9}/1\r\nContent-Length: 0\r\n\r\n"
        guard case .request(let r) = parse(Array(head.utf8)).first else {
            Issue.record("no request")
            return
        }
        let parsed = r.head.headers
        let fields: [(String, String)] = [
            ("Host", "a"), ("X-Dup", "one"), ("connection", "keep-alive, Upgrade"), ("x-dup", "two"), ("Empty", ""), ("User-Agent", "caf\u{e9}/1"),
            ("Content-Length", "0"),
        ]
        let owned = HTTPHeaders(fields)
        for h in [parsed, owned] {
            #expect(h.count == 7)
            #expect(h.fields == owned.fields)
            #expect(h["x-DUP"] == "one" && h.values("X-Dup") == ["one", "two"] && h.count(of: "x-dup") == 2)
            #expect(h["Empty"] == "" && h["missing"] == nil && h["User-Agent"] == "caf\u{e9}/1")
            #expect(h.tokens("Connection") == ["keep-alive", "upgrade"] && h.hasToken("CONNECTION", "upgrade") && !h.hasToken("Connection", "close"))
            #expect(h.map(\.name) == fields.map(\.0))
        }
        var added = parsed
        added.add("X-New", "3")
        #expect(added.fields.map(\.name) == fields.map(\.0) + ["X-New"] && added["x-new"] == "3" && added["host"] == "a")
    }

    /// The header-line check on a line in memory (by pointer, the value by words) answers as the
    /// byte-by-byte check does, for random lines of token characters, spaces, tabs, colons,
    /// control and non-ASCII bytes.
    @Test func theFieldLineCheckAnswersLikeTheByteByByteOne() {
        let alphabet: [UInt8] = Array("aZ0-!~".utf8) + [0x20, 0x09, 0x3A, 0x3A, 0x00, 0x0D, 0x7F, 0x80, 0xC3, 0xA9, 0x22, 0x2C]
        var rng = SystemRandomNumberGenerator()
        for round in 0..<20000 {
            // Half short and dense in faults; half up to 60 bytes and mostly plain, so that values
            // pass the 16-byte check with a fault at every position of a block, or none.
            let long = round % 2 == 1
            let line = (0..<Int.random(in: 0..<(long ? 60 : 30), using: &rng)).map { _ in
                long && Int.random(in: 0..<8, using: &rng) != 0 ? UInt8(ascii: "v") : alphabet.randomElement(using: &rng) ?? 0x61
            }
            let fast = line.withUnsafeBufferPointer { HeadParser.validateFieldLine($0)?.message }
            let slow = HeadParser.validateFieldLine(line[...])?.message
            // Both refuse the same lines. The reason may differ when a line has two faults (the
            // line check looks at the name first): only lines with one kind are compared.
            #expect((fast == nil) == (slow == nil), "\(line)")
            if !line.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) { #expect(fast == slow, "\(line)") }
        }
    }

    /// Header names keep the bytes sent, whether they are given as literals (the usual
    /// spellings) or made from the bytes: each usual name, its lower-case form, the same length
    /// with one byte changed, and one byte shorter.
    @Test func headerNamesKeepTheirBytes() {
        let usual = [
            "Host", "MsgID", "Accept", "Expect", "DateTime", "SignType", "Connection", "User-Agent", "Content-Type", "Authorization",
            "Content-Length", "Accept-Encoding", "Transfer-Encoding",
        ]
        var names: [String] = []
        // (Framing, connection and Host headers change what is parsed: they stay as sent below.)
        for n in usual where !["Host", "Content-Length", "Transfer-Encoding", "Expect", "Connection"].contains(n) {
            names += [n, n.lowercased(), "X" + n.dropFirst(), String(n.dropLast())]
        }
        var checked = 0
        for name in names {
            let head = "POST /w HTTP/1.1\r\nHost: a\r\n\(name): v\r\nContent-Length: 0\r\n\r\n"
            guard case .request(let r) = parse(Array(head.utf8)).first else {
                Issue.record("no request for \(name)")
                continue
            }
            #expect(r.head.headers.fields.map(\.name) == ["Host", name, "Content-Length"], "\(name)")
            #expect(r.head.headers[name] == "v", "\(name)")
            if r.head.headers.fields.map(\.name) == ["Host", name, "Content-Length"] { checked += 1 }
        }
        #expect(checked == names.count)
    }

    /// The 16-byte masks (SSE2) that the head scan and the field-value check use flag exactly
    /// the bytes the parser's byte predicates refuse: every byte value at every position.
    @Test func theSixteenByteMasksFlagExactlyTheRefusedBytes() {
        var checked = 0
        for value in 0...255 {
            for position in 0..<16 {
                var block = [UInt8](repeating: UInt8(ascii: "a"), count: 16)
                block[position] = UInt8(value)
                let b = UInt8(value)
                let head = block.withUnsafeBufferPointer { gw_http_head_forbidden16($0.baseAddress!) }
                let field = block.withUnsafeBufferPointer { gw_http_value_forbidden16($0.baseAddress!) }
                let headRefuses = (b < 0x20 && b != 0x09 && b != 0x0D && b != 0x0A) || b == 0x7F
                #expect(head == (headRefuses ? 1 << position : 0), "head mask, byte \(value) at \(position)")
                #expect(field == (ASCII.isControlInFieldValue(b) ? 1 << position : 0), "value mask, byte \(value) at \(position)")
                if head == (headRefuses ? 1 << position : 0) && field == (ASCII.isControlInFieldValue(b) ? 1 << position : 0) { checked += 1 }
            }
        }
        #expect(checked == 256 * 16)
    }

    /// The path of each form of target: origin-form with and without a query or fragment,
    /// absolute-form with and without a path, non-ASCII in the path.
    @Test func thePathOfEveryFormOfTarget() {
        for (target, path) in [
            ("/", "/"), ("/webhooks/evo", "/webhooks/evo"), ("/webhooks/evo?a=1&b=/x", "/webhooks/evo"), ("/a#frag?x", "/a"),
            ("/caf%C3%A9/é?q", "/caf%C3%A9/é"), ("/?", "/"), ("http://gw.example/webhooks/evo?a=1", "/webhooks/evo"),
            ("http://gw.example", "/"), ("https://u@gw.example:8443/p/q#f", "/p/q"), ("*", "/"),
        ] {
            let head = HTTPRequestHead(
                method: "POST", target: target, versionMinor: 1, headers: HTTPHeaders(), keepAlive: true, expectContinue: false)
            #expect(head.path == Substring(path), "\(target)")
        }
    }

    @Test func absoluteFormTargetKeepsTheRawTargetAndExposesThePath() {
        let events = parse(Array("POST http://gw.example/webhooks/evo?a=1 HTTP/1.1\r\nHost: gw.example\r\n\r\n".utf8))
        guard case .request(let r) = events.first else {
            Issue.record("no request")
            return
        }
        #expect(r.head.target == "http://gw.example/webhooks/evo?a=1")
        #expect(r.head.path == "/webhooks/evo")
    }
}
