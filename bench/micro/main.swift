// Micro-benchmarks of the ingress hot path, per operation, in one process:
//   swift run -c release gateway-microbench [iterations]
// Each line: operation, ns per op, ops/s. Use it to see where a request's CPU goes; the
// end-to-end numbers (with nginx side by side) come from bench/gateway.sh.
import Foundation
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import GatewayPluginHost
import GatewaySignature
import Synchronization

signal(SIGPIPE, SIG_IGN)  // as the gateway does (the plugin ABI says so): writes to a closed pipe fail with EPIPE
let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 200_000 : 200_000

let only = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : nil

func measure(_ name: String, _ body: () -> Void) {
    if let only, !name.contains(only) { return }
    for _ in 0..<min(1000, iterations) { body() }  // warm up
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<iterations { body() }
    let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(iterations)
    print(name.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: "%9.1f ns/op %12.0f ops/s", ns, 1e9 / ns))
}

// A realistic ~2 KB Payment notification like bench/make_requests.py makes.
let meta = #"{"orderNo":"SO-7F3A1C-000000042","storeName":"Orchard Flagship","customerRef":"CUST48213377","items":[{"sku":"SKU-48213","name":"Premium wireless headphones","qty":2},{"sku":"SKU-11873","name":"Organic green tea 250g","qty":1},{"sku":"SKU-99812","name":"Coffee beans 1kg","qty":3}],"note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#
let bodyText = """
    {"eventCode":"Payment","metadata":\(JSONValue.quoted(meta)),"payment":{"merchantTransInfo":{"merchantTransID":"MT7F3A1C000000000042","merchantTransTime":"2026-11-22T09:55:01+08:00","merchantOrderReference":"ORD482133771234"},"evoTransInfo":{"evoTransID":"9f1c2d3e4b5a69788796a5b4c3d2e1f0","evoTransTime":"2026-11-22T09:55:02+08:00","traceNum":"004211","retrievalReferenceNum":"000012345678"},"pspTransInfo":{"pspTransID":"a1b2c3d4e5f6a7b8c9d0e1f2","pspTransTime":"2026-11-22T09:55:03+08:00","pspName":"Visa Direct Acquirer","authorizationCode":"123456"},"transAmount":{"currency":"SGD","value":"128.50"},"billingAmount":{"currency":"SGD","value":"128.50"},"status":"Success","captureMethod":"Automatic","transInitiator":{"platform":"WEB","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"},"channelMerchantID":"482133771234567","storeID":"S482133"},"paymentMethod":{"type":"card","card":{"first6No":"411111","last4No":"1111","paymentBrand":"Visa","holderName":"JANE DOE","expiryDate":"1230","fundingType":"credit","issuingBank":"DBS BANK LTD","issuingCountry":"SGP","tokenID":"0123456789abcdef0123456789abcdef"}},"authentication":{"type":"threeDS","threeDS":{"eci":"05","version":"2.2.0","dsTransID":"12345678-1234-1234-1234-123456789012","authenticationResult":"Y"}},"pspData":{"acquirerID":"482133","mcc":"5411","avsResult":"Y","cvcResult":"M","networkTransID":"482133771234567","responseCode":"00","responseMessage":"Approved or completed successfully"},"result":{"code":"S0000","message":"Success"}}
    """
let body = Array(bodyText.utf8)
print("body: \(body.count) bytes, \(iterations) iterations")

var sink = 0
measure("JSONDocument.parse") { sink &+= (try? JSONDocument.parse(body))?.bytes.count ?? 0 }
let classifier = Classifier()
measure("Classifier.classify") { sink &+= (try? classifier.classify(source: "evo", msgID: "m", rawBody: body))?.msgID.count ?? 0 }
measure("JSONParser.parse (tree)") { if case .object(let o)? = try? JSONParser.parse(body) { sink &+= o.count } }

let msg = CanonicalMessage(method: "POST", target: "/webhooks/evo", dateTime: "2026-11-22T10:00:00+08:00", msgID: "0123456789abcdef0123456789abcdef", body: body)
measure("SHA256 digest") { sink &+= (try? Digest.hash(.sha256, parts: msg.parts(key: "k")))?.count ?? 0 }
let sig = (try? SignatureSigner.sign(msg, type: .sha256, key: "k")) ?? ""
let verifier = SignatureVerifier(keys: ["k"], allowed: [.sha256], sm2PublicKey: nil, maxSkewSeconds: 0)
let headers = SignatureHeaders(authorization: sig, signType: "SHA256", dateTime: msg.dateTime, msgID: msg.msgID)
measure("SignatureVerifier.verify") { sink &+= (try? verifier.verify(method: "POST", target: "/webhooks/evo", headers: headers, body: body, now: 0)) == .sha256 ? 1 : 0 }

let request = Array("POST /webhooks/evo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nDateTime: 2026-11-22T10:00:00+08:00\r\nMsgID: 0123456789abcdef0123456789abcdef\r\nSignType: SHA256\r\nAuthorization: \(sig)\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
var events: [HTTPRequestParser.Event] = []
measure("HTTPRequestParser.feed") {
    var p = HTTPRequestParser()
    p.feed(request, into: &events)
    sink &+= events.count
    events.removeAll(keepingCapacity: true)
}

struct CountingSink: LogSink {
    func write(_ line: [UInt8]) {}
}
let logger = Logger(sink: CountingSink(), redactor: Redactor(secrets: ["evo-bench-sign-key-0123456789abcdef"]))
measure("Logger.info (accepted line)") {
    logger.info("notification accepted", [
        ("source", "evo"), ("eventCode", "Payment"), ("known", true), ("msgID", "0123456789abcdef0123456789abcdef"),
        ("signType", "SHA256"), ("merchantTransID", "MT7F3A1C000000000042"), ("evoTransID", "9f1c2d3e4b5a69788796a5b4c3d2e1f0"),
        ("txStatus", "Success"), ("amount", "128.50"), ("currency", "SGD"), ("bytes", 2100), ("remote", "127.0.0.1"),
    ])
}
let ack = HTTPResponse.text(200, "SUCCESS").prepared()  // as a source's acknowledgement is
var responseBytes: [UInt8] = []
measure("HTTPResponse.serialize (ack)") {
    responseBytes.removeAll(keepingCapacity: true)
    ack.serialize(keepAlive: true, date: "Mon, 30 Nov 2026 10:00:00 GMT", into: &responseBytes)
    sink &+= responseBytes.count
}
measure("CRC32C (body)") { sink &+= Int(CRC32C.checksum(body)) }
// Metrics per request: the labelled counter lookup and a latency observation.
let registry = MetricsRegistry()
let requestsFamily = registry.counter("r_total", "r", labels: ["source", "status", "event_code"])
let latency = registry.histogram("l_seconds", "l", labels: ["source"]).labels("evo")
measure("metrics: counter lookup + add") { requestsFamily.labels("evo", "200", "Payment").add() }
measure("metrics: histogram observe") { latency.observe(0.0021) }
// Routing: match a route with two conditions, then the ledger-like transform chain.
if let n = try? classifier.classify(source: "evo", msgID: "m", rawBody: body) {
    let rule = RouteRule(name: "ledger", source: "evo", events: ["Payment", "Capture", "Refund"], conditions: [
        .match(path: JSONPath("payment.status")!, op: .equals("Success")),
        .any([.match(path: JSONPath("payment.transAmount.currency")!, op: .oneOf(["USD", "SGD"]))]),
    ])
    measure("RouteRule.matches") { sink &+= rule.matches(n) ? 1 : 0 }
    let transforms: [Transform] = [
        .remove([JSONPath("paymentMethod.card.holderName")!]),
        .mask([JSONPath("paymentMethod.card.first6No")!]),
        .set([(JSONPath("gateway.route")!, try! Template("ledger")), (JSONPath("ref")!, try! Template("{{payment.merchantTransInfo.merchantTransID}}"))]),
        .keep(["eventCode", "metadata", "payment", "paymentMethod", "gateway", "ref"]),
    ]
    // What a route does when a handler reads the body: the edits spliced beside the original
    // bytes (SplicedEdits), written out. The tree (EditableJSON) is what value lookups after
    // transforms use and the fallback for cases the splice does not cover.
    let reach = TransformReach(transforms)
    measure("transforms (4) + serialize") {
        sink &+= TransformedEvent(n.document.root, reach: reach).serialized().count
    }
    measure("transforms (4), tree") {
        sink &+= Transform.applyAll(transforms, to: n.document.root).count
    }
}

// metadata-filter on the notification above (its metadata is JSON, about 400 characters): a key
// condition (the tenant split of the README: the metadata is parsed) and a raw one (not parsed).
if let filter = try? PluginLoader.load(name: "metadata-filter", searchPath: [PluginLoader.executableDirectory]) {
    // With the parsed document, as the gateway passes it (values are read from its tape).
    // Two events whose metadata differ (one letter), taken in turn: the filter keeps the last
    // metadata its thread parsed, and the same event every time would measure only that.
    func call(_ b: [UInt8]) -> HandlerCall {
        HandlerCall(body: b, eventCode: "Payment", source: "evo", route: "r", msgID: "m", deliveryID: "d", attempt: 1, document: try? JSONDocument.parse(b))
    }
    let calls = [call(body), call(Array(bodyText.replacingOccurrences(of: "Orchard Flagship", with: "Orchard Flagshop").utf8))]
    var turn = 0
    for (name, with) in [
        ("metadata-filter (JSON key)", #"{"when":[{"key":"storeName","equals":"Orchard Flagship"}]}"#),
        ("metadata-filter (raw prefix)", #"{"when":[{"raw":{"prefix":"{"}}]}"#),
    ] {
        if let f = try? filter.makeInstance(configJSON: Array(with.utf8)) {
            measure(name) {
                turn &+= 1
                sink &+= f.handle(calls[turn & 1]) == .proceed(newBody: nil) ? 1 : 0
            }
        }
    }
    // A tenant split: three routes' filters on the same event (the first parses the metadata).
    let tenants = ["Orchard Flagship", "Marina Bay", "Jewel"].compactMap {
        try? filter.makeInstance(configJSON: Array(#"{"when":[{"key":"storeName","equals":"\#($0)"}]}"#.utf8))
    }
    measure("metadata-filter x3 (tenants)") {
        turn &+= 1
        for f in tenants { sink &+= f.handle(calls[turn & 1]) == .proceed(newBody: nil) ? 1 : 0 }
    }
}

// The shell plugin starting /bin/true, 8 at a time (needs a release build of the plugins).
if only == nil || only == "shell" {
    let dir = PluginLoader.executableDirectory
    if let plugin = try? PluginLoader.load(name: "shell", searchPath: [dir]),
        let shell = try? plugin.makeInstance(configJSON: Array(#"{"command":["/bin/true"],"maxConcurrent":8}"#.utf8))
    {
        let runs = min(iterations, 4000)
        let call = HandlerCall(body: Array("{}".utf8), eventCode: "Refund", source: "evo", route: "r", msgID: "m", deliveryID: "d", attempt: 1)
        let start = DispatchTime.now().uptimeNanoseconds
        let failures = Atomic<Int>(0)
        // Eight callers, as a route's eight delivery workers would be (concurrentPerform would
        // run only as many at once as there are cores: two here, against xargs' eight).
        let callers = 8
        let done = DispatchGroup()
        for t in 0..<callers {
            let n = runs / callers + (t < runs % callers ? 1 : 0)
            done.enter()
            Thread {
                for _ in 0..<n where shell.handle(call) != .proceed(newBody: nil) { failures.add(1, ordering: .relaxed) }
                done.leave()
            }.start()
        }
        done.wait()
        let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print("shell /bin/true (8 at once)".padding(toLength: 30, withPad: " ", startingAt: 0)
            + String(format: "%9.0f processes/s (%d runs, %d failed)", Double(runs) / secs, runs, failures.load(ordering: .relaxed)))
    } else {
        print("shell: plugin not found in \(dir) (build the plugins: swift build -c release)")
    }
}
print("(checksum \(sink))")
