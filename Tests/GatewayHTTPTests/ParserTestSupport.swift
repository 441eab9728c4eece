import GatewayCore
import Testing

@testable import GatewayHTTP

/// An event reduced to what tests compare.
enum Seen: Equatable, CustomStringConvertible {
    case request(method: String, target: String, body: String, keepAlive: Bool)
    case continueRequested
    case error(Int)

    var description: String {
        switch self {
        case .request(let m, let t, let b, let k): "request(\(m) \(t) body=\(b.count)B keepAlive=\(k))"
        case .continueRequested: "100-continue"
        case .error(let s): "error(\(s))"
        }
    }
}

func summarize(_ events: [HTTPRequestParser.Event]) -> [Seen] {
    events.map {
        switch $0 {
        case .request(let r):
            .request(method: r.head.method, target: r.head.target, body: String(decoding: r.body, as: UTF8.self), keepAlive: r.head.keepAlive)
        case .continueRequested: .continueRequested
        case .error(let e): .error(e.status)
        }
    }
}

/// Feeds `input` in the given chunk sizes.
func parse(_ input: [UInt8], chunks: [Int]? = nil, limits: HTTPParserLimits = HTTPParserLimits()) -> [HTTPRequestParser.Event] {
    var p = HTTPRequestParser(limits: limits)
    var events: [HTTPRequestParser.Event] = []
    guard let chunks else {
        p.feed(input, into: &events)
        return events
    }
    var i = 0
    var c = 0
    while i < input.count {
        let n = min(chunks[c % chunks.count], input.count - i)
        p.feed(Array(input[i..<(i + n)]), into: &events)
        i += n
        c += 1
    }
    return events
}

/// The NIO `ByteToMessageDecoderVerifier` idea: the parser must produce the same events whether
/// the input arrives all at once, byte by byte, or split at any single offset.
func parseEverySplit(_ text: String, limits: HTTPParserLimits = HTTPParserLimits(), sourceLocation: SourceLocation = #_sourceLocation) -> [Seen] {
    let input = Array(text.utf8)
    let whole = summarize(parse(input, limits: limits))
    let bytewise = summarize(parse(input, chunks: [1], limits: limits))
    #expect(bytewise == whole, "byte-by-byte differs", sourceLocation: sourceLocation)
    if input.count > 1 {
        for split in 1..<input.count {
            var p = HTTPRequestParser(limits: limits)
            var events: [HTTPRequestParser.Event] = []
            p.feed(Array(input[0..<split]), into: &events)
            p.feed(Array(input[split...]), into: &events)
            let s = summarize(events)
            if s != whole {
                Issue.record("split at \(split) gives \(s), whole gives \(whole)", sourceLocation: sourceLocation)
                break
            }
        }
    }
    return whole
}
