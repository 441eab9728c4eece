import Foundation
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import GatewayTestKit
import Glibc
import Testing

let hookecho = repoRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures/hookecho.sh").path

/// A gateway with every plugin on its own route, all delivering somewhere the test can look.
func deliveryConfig(receiver: String, retry: String = "{maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 200}", forwardTimeoutMs: Int = 2000, shellArgs: String = #""{{payment.merchantTransInfo.merchantTransID}}""#, shellTimeoutMs: Int = 5000, unmatched: String = "drop") -> String {
    """
    server:
      listen: 127.0.0.1:0
      workers: 2
    spool:
      dir: @DIR@/spool
    sources:
      - name: evo
        path: /webhooks/evo
        signKey: test-sign-key
    routes:
      - name: ledger
        events: [Payment, Refund]
        when:
          - { path: payment.status, equals: Success }
        transform:
          - remove: [paymentMethod.card.holderName]
          - mask: [paymentMethod.card.first6No]
          - set: { "gateway.route": ledger, ref: "{{payment.merchantTransInfo.merchantTransID}}" }
        handlers:
          - plugin: forward-http
            with:
              url: \(receiver)/ledger?x=1
              timeoutMs: \(forwardTimeoutMs)
              headers: { X-Team: pay }
              sign: { secret: "whsec_c2VjcmV0LWZvci10ZXN0cw==" }
        retry: \(retry)
      - name: audit
        events: ["*"]
        handlers:
          - plugin: file
            with: { path: "@DIR@/out/{route}-{eventCode}.jsonl" }
      - name: legacy
        events: [Payment]
        handlers:
          - plugin: shell
            with:
              command: ["\(hookecho)", \(shellArgs)]
              env: { HOOK_OUT: "@DIR@/hook", ORDER_STATUS: "{{payment.status}}" }
              timeoutMs: \(shellTimeoutMs)
        retry: {maxAttempts: 2, initialDelayMs: 50, maxDelayMs: 100}
      - name: c-plugin
        events: [Payment]
        handlers:
          - plugin: c-echo
            with: { path: "@DIR@/out/c-echo.txt" }
      - name: tenant-acme
        events: ["*"]
        handlers:
          - plugin: metadata-filter
            with: { when: [ { key: tenant, equals: acme } ] }
          - plugin: file
            with: { path: "@DIR@/out/acme.jsonl" }
    unmatched: \(unmatched)
    log:
      level: debug
    """
}

func readFile(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

func lines(_ path: String) -> [String] { readFile(path).split(separator: "\n").map(String.init) }

func paymentBody(merchantTransID: String = "MT1001", status: String = "Success", metadata: String = "tenant=acme&region=sg") -> String {
    #"{"eventCode":"Payment","metadata":\#(JSONValue.quoted(metadata)),"payment":{"status":"\#(status)","merchantTransInfo":{"merchantTransID":\#(JSONValue.quoted(merchantTransID))},"transAmount":{"currency":"USD","value":"10.00"}},"paymentMethod":{"card":{"holderName":"JANE DOE","first6No":"411111","last4No":"1111"}}}"#
}

@Suite("Delivery through plugins")
struct DeliveryTests {
    @Test func fanOutToEveryPluginWithTransforms() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        try withGateway(deliveryConfig(receiver: receiver.url)) { gw in
            try FileManager.default.createDirectory(at: gw.directory.appendingPathComponent("hook"), withIntermediateDirectories: true)
            // The C test plugin does not create directories (the file plugin does).
            try FileManager.default.createDirectory(at: gw.directory.appendingPathComponent("out"), withIntermediateDirectories: true)
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(SignedRequest(body: paymentBody()).bytes).status == 200)
            let dir = gw.directory.path

            // forward-http: transformed body, gateway headers, Standard Webhooks signature.
            let got = receiver.waitFor(1)
            let r = try #require(got.first)
            #expect(r.method == "POST" && r.target == "/ledger?x=1")
            #expect(r.headers["X-Gateway-Event-Code"] == "Payment")
            #expect(r.headers["X-Gateway-Attempt"] == "1")
            #expect(r.headers["X-Team"] == "pay")
            #expect(r.headers["Content-Type"] == "application/json")
            let id = try #require(r.headers["X-Gateway-Delivery-Id"])
            // SPOOLID-<record id, hex>-ROUTE, as the plugin got it in gw_event.delivery_id.
            #expect(id.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]+-ledger/) != nil, "\(id)")
            let body = try JSONParser.parse(r.body)
            #expect(body.value(at: "paymentMethod.card.holderName") == nil)
            #expect(body.value(at: "paymentMethod.card.first6No") == .string("**1111"))
            #expect(body.value(at: "gateway.route") == .string("ledger"))
            #expect(body["ref"] == .string("MT1001"))
            #expect(r.headers["webhook-id"] == id)
            let ts = try #require(r.headers["webhook-timestamp"])
            let key = Base64.decode("c2VjcmV0LWZvci10ZXN0cw==") ?? []
            let mac = try HMAC.authenticate(.sha256, key: key, parts: [Array("\(id).\(ts).".utf8), r.body])
            #expect(r.headers["webhook-signature"] == "v1," + Base64.encode(mac))

            // file: the body as received, one line.
            #expect(eventually { lines(dir + "/out/audit-Payment.jsonl").count == 1 })
            #expect(lines(dir + "/out/audit-Payment.jsonl").first == paymentBody())
            // shell: argv from a template, GATEWAY_ variables, event on stdin.
            #expect(eventually { FileManager.default.fileExists(atPath: dir + "/hook") && ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/hook"))?.contains { $0.hasSuffix(".stdin") } ?? false) })
            let hookFiles = try FileManager.default.contentsOfDirectory(atPath: dir + "/hook")
            let stem = try #require(hookFiles.first { $0.hasSuffix(".args") }).dropLast(5)
            #expect(eventually { readFile(dir + "/hook/\(stem).stdin") == paymentBody() })
            #expect(readFile(dir + "/hook/\(stem).args") == "MT1001\n")
            let env = readFile(dir + "/hook/\(stem).env")
            #expect(env.contains("GATEWAY_EVENT_CODE=Payment") && env.contains("GATEWAY_ROUTE=legacy") && env.contains("GATEWAY_ATTEMPT=1"))
            #expect(env.contains("ORDER_STATUS=Success"))
            #expect(env.contains("PATH=/usr/local/bin:/usr/bin:/bin"))
            #expect(!env.contains("HOME="), "the shell plugin must start programs with a clean environment")
            // C plugin and metadata filter.
            #expect(eventually { lines(dir + "/out/c-echo.txt") == ["1 Payment \(paymentBody())"] }, "c-echo wrote: \(readFile(dir + "/out/c-echo.txt"))")
            #expect(eventually { lines(dir + "/out/acme.jsonl").count == 1 })
            #expect(gw.waitForLine { $0.contains("\"msg\":\"delivered\"") && $0.contains("\"route\":\"ledger\"") } != nil)
        }
    }

    /// The file plugin writes one line per event: a body passed through as the provider
    /// formatted it (line breaks between members) loses its breaks; a compact one is written
    /// byte for byte.
    @Test func theFilePluginWritesEveryBodyAsOneLine() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        try withGateway(deliveryConfig(receiver: receiver.url)) { gw in
            let c = try TestClient(port: gw.port)
            let pretty = "{\r\n  \"eventCode\": \"Refund\",\n  \"refund\": {\"status\": \"Success\"}\n}\n"
            let compact = #"{"eventCode":"Refund","refund":{"status":"Failed"}}"#
            #expect(try c.roundTrip(SignedRequest(body: pretty).bytes).status == 200)
            #expect(try c.roundTrip(SignedRequest(body: compact).bytes).status == 200)
            let file = gw.directory.path + "/out/audit-Refund.jsonl"
            #expect(eventually { lines(file).count == 2 })
            // (Two deliveries of one route may finish in either order.)
            #expect(Set(lines(file)) == [#"{  "eventCode": "Refund",  "refund": {"status": "Success"}}"#, compact])
            #expect(readFile(file).utf8.count == 2 + compact.utf8.count + 59, "no byte besides the two newlines: \(readFile(file))")
        }
    }

    @Test func conditionsAndTheMetadataFilterSelect() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        try withGateway(deliveryConfig(receiver: receiver.url)) { gw in
            let c = try TestClient(port: gw.port)
            let dir = gw.directory.path
            #expect(try c.roundTrip(SignedRequest(body: paymentBody(status: "Failure", metadata: #"{"tenant":"globex"}"#)).bytes).status == 200)
            #expect(try c.roundTrip(SignedRequest(body: #"{"eventCode":"Cryptogram","metadata":"tenant=acme;x=1"}"#).bytes).status == 200)
            #expect(eventually { lines(dir + "/out/audit-Cryptogram.jsonl").count == 1 && lines(dir + "/out/audit-Payment.jsonl").count == 1 })
            #expect(eventually { lines(dir + "/out/acme.jsonl").count == 1 })
            // The failed payment did not go to the ledger; the globex one not to acme's file.
            #expect(gw.waitForLine { $0.contains("dropped by a handler") && $0.contains("tenant-acme") } != nil)
            #expect(receiver.received.isEmpty)
            #expect(lines(dir + "/out/acme.jsonl").first?.contains("Cryptogram") == true)
        }
    }

    @Test func retryThenSuccessKeepsTheDeliveryID() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        receiver.script([.init(status: 503), .init(status: 500)])
        try withGateway(deliveryConfig(receiver: receiver.url)) { gw in
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(SignedRequest(body: paymentBody()).bytes).status == 200)
            let got = receiver.waitFor(3)
            #expect(got.count == 3)
            #expect(got.map { $0.headers["X-Gateway-Attempt"] ?? "" } == ["1", "2", "3"])
            #expect(Set(got.map { $0.headers["X-Gateway-Delivery-Id"] ?? "" }).count == 1)
            #expect(gw.waitForLine { $0.contains("\"msg\":\"delivered\"") && $0.contains("\"route\":\"ledger\"") && $0.contains("\"attempt\":3") } != nil)
            // Other routes were not held up by the ledger's retries.
            #expect(lines(gw.directory.path + "/out/audit-Payment.jsonl").count == 1)
        }
    }

    /// A filter (non-blocking) runs on the receiving thread with the transforms; what it passes
    /// is handed to a worker, which continues the same attempt: the first request the receiver
    /// sees is attempt 1, the retry attempt 2, both with the transformed body.
    @Test func aFilterRunOnTheReceivingThreadHandsOverTheSameAttempt() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        receiver.script([.init(status: 503)])
        let config = oneSourceConfig(
            rest: """
                routes:
                  - name: acme-ledger
                    events: ["*"]
                    transform:
                      - mask: [paymentMethod.card.first6No]
                      - set: { ref: "{{payment.merchantTransInfo.merchantTransID}}" }
                    handlers:
                      - plugin: metadata-filter
                        with: { when: [ { key: tenant, equals: acme } ] }
                      - plugin: forward-http
                        with: { url: "\(receiver.url)/acme", timeoutMs: 2000 }
                    retry: {maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 100}
                log:
                  level: debug
                """)
        try withGateway(config) { gw in
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(SignedRequest(body: paymentBody(merchantTransID: "MT-GLOBEX", metadata: "tenant=globex")).bytes).status == 200)
            #expect(try c.roundTrip(SignedRequest(body: paymentBody(merchantTransID: "MT-ACME")).bytes).status == 200)
            let got = receiver.waitFor(2)
            #expect(got.map { $0.headers["X-Gateway-Attempt"] ?? "" } == ["1", "2"])
            for r in got {
                let body = String(decoding: r.body, as: UTF8.self)
                #expect(body.contains(#""ref":"MT-ACME""#) && body.contains(#""first6No":"**1111""#), "\(body)")
            }
            #expect(gw.waitForLine { $0.contains("\"msg\":\"delivered\"") && $0.contains("\"attempt\":2") } != nil)
            // The globex event was dropped by the filter and never reached the receiver.
            #expect(gw.waitForLine { $0.contains("dropped by a handler") } != nil)
            #expect(receiver.received.count == 2)
        }
    }

    /// A pure filter that reads the body (`c-body-filter`, in C) is asked on the receiving
    /// thread with the body the route's transforms made (written out by the splice): it passes
    /// on an event whose transformed body holds a text only a transform put there, and drops
    /// one whose text a transform removed. What it passes is delivered with that body; what it
    /// drops is counted as dropped by it and delivered nowhere.
    @Test func aPureFilterReadsTheTransformedBody() throws {
        let config = oneSourceConfig(
            admin: "admin:\n  listen: 127.0.0.1:0",
            rest: """
                routes:
                  - name: pass
                    events: ["*"]
                    transform:
                      - set: { tier: gold-tier }
                      - keep: [eventCode, tier]
                    handlers:
                      - plugin: c-body-filter
                        with: { contains: gold-tier }
                      - plugin: file
                        with: { path: "@DIR@/out/pass.jsonl" }
                  - name: drop
                    events: ["*"]
                    transform:
                      - remove: [payment]
                    handlers:
                      - plugin: c-body-filter
                        with: { contains: merchantTransID }
                      - plugin: file
                        with: { path: "@DIR@/out/drop.jsonl" }
                log:
                  level: debug
                """)
        try withGateway(config) { gw in
            let c = try TestClient(port: gw.port)
            #expect(paymentBody().contains("merchantTransID"))
            #expect(try c.roundTrip(SignedRequest(body: paymentBody()).bytes).status == 200)
            let dir = gw.directory.path
            #expect(eventually { lines(dir + "/out/pass.jsonl") == [#"{"eventCode":"Payment","tier":"gold-tier"}"#] }, "\(readFile(dir + "/out/pass.jsonl"))")
            var metrics = MetricsText()
            #expect(eventually {
                metrics = (try? MetricsText(admin(gw, "GET", "/metrics", token: nil).bodyText)) ?? MetricsText()
                return metrics[#"gateway_deliveries_total{route="drop",plugin="c-body-filter",outcome="dropped"}"#] == 1
            })
            #expect(metrics[#"gateway_deliveries_total{route="pass",plugin="file",outcome="delivered"}"#] == 1)
            #expect(!FileManager.default.fileExists(atPath: dir + "/out/drop.jsonl"))
        }
    }

    @Test func retryAfterIsHonoured() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        receiver.script([.init(status: 429, headers: [("Retry-After", "1")])])
        try withGateway(deliveryConfig(receiver: receiver.url)) { gw in
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(SignedRequest(body: paymentBody()).bytes).status == 200)
            let got = receiver.waitFor(2)
            #expect(got.count == 2)
            if got.count == 2 {
                let gap = got[1].at.timeIntervalSince(got[0].at)
                #expect(gap >= 0.95, "retried after \(gap)s despite Retry-After: 1")
            }
        }
    }

    @Test func clientErrorsAndExhaustedRetriesBecomeDeadLetters() throws {
        let receiver = try RecordingHTTPServer(answer: .init(status: 503))
        defer { receiver.stop() }
        receiver.script([.init(status: 422)])
        try withGateway(deliveryConfig(receiver: receiver.url)) { gw in
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(SignedRequest(body: paymentBody(merchantTransID: "MT-A")).bytes).status == 200)
            #expect(gw.waitForLine { $0.contains("\"msg\":\"dead letter\"") && $0.contains("HTTP 422") } != nil)
            #expect(receiver.received.count == 1, "a 4xx must not be retried")
            // 503 every time: three attempts (maxAttempts counts the first), then a dead letter.
            #expect(try c.roundTrip(SignedRequest(body: paymentBody(merchantTransID: "MT-B")).bytes).status == 200)
            #expect(gw.waitForLine { $0.contains("\"msg\":\"dead letter\"") && $0.contains("gave up after 3 attempts: HTTP 503") } != nil)
            #expect(receiver.received.count == 4)
        }
    }

    @Test func slowReceiverTimesOutAndIsRetried() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        receiver.script([.init(status: 200, delayMs: 1500)])
        try withGateway(deliveryConfig(receiver: receiver.url, forwardTimeoutMs: 300)) { gw in
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(SignedRequest(body: paymentBody()).bytes).status == 200)
            #expect(gw.waitForLine { $0.contains("delivery will be retried") && $0.contains("timed out") } != nil)
            #expect(gw.waitForLine { $0.contains("\"msg\":\"delivered\"") && $0.contains("\"route\":\"ledger\"") && $0.contains("\"attempt\":2") } != nil)
        }
    }

    @Test func shellArgumentsCannotInject() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        let marker = "/tmp/gw-pwned-\(UUID().uuidString.prefix(8))"
        let hostile = "; touch \(marker) $(touch \(marker)) `touch \(marker)` && rm -rf /nonexistent | x"
        try withGateway(deliveryConfig(receiver: receiver.url, shellArgs: #""--id={{payment.merchantTransInfo.merchantTransID}}", "{{metadata}}""#)) { gw in
            try FileManager.default.createDirectory(at: gw.directory.appendingPathComponent("hook"), withIntermediateDirectories: true)
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(SignedRequest(body: paymentBody(merchantTransID: hostile, metadata: "a b\nc")).bytes).status == 200)
            let dir = gw.directory.path + "/hook"
            #expect(eventually { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).contains { $0.hasSuffix(".stdin") } })
            let args = try #require(try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasSuffix(".args") })
            #expect(readFile(dir + "/" + args) == "--id=\(hostile)\na b\nc\n")
            #expect(!FileManager.default.fileExists(atPath: marker))
        }
    }

    @Test func shellTimeoutKillsTheWholeProcessGroup() throws {
        try expectKilledAtTheTimeout(hookMode: "sleep", pidFiles: ".child", what: "child of a timed-out hook")
    }

    /// A hook that closes its output and keeps running: the output's end says nothing, the
    /// handler waits for the process itself (a pidfd) and kills it at the timeout.
    @Test func shellTimeoutAppliesAfterTheOutputCloses() throws {
        try expectKilledAtTheTimeout(hookMode: "quiet-sleep", pidFiles: ".pid", what: "hook that outlived its timeout")
    }

    /// Runs the legacy route's hook in `hookMode` (see hookecho.sh) with a 400 ms timeout: both
    /// attempts time out, the delivery becomes a dead letter, and every process whose pid the
    /// hook wrote to a `pidFiles` file is gone.
    private func expectKilledAtTheTimeout(hookMode: String, pidFiles: String, what: String) throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        try withGateway(deliveryConfig(receiver: receiver.url, shellArgs: "\"\(hookMode)\"", shellTimeoutMs: 400)) { gw in
            try FileManager.default.createDirectory(at: gw.directory.appendingPathComponent("hook"), withIntermediateDirectories: true)
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(SignedRequest(body: paymentBody()).bytes).status == 200)
            #expect(gw.waitForLine { $0.contains("\"msg\":\"dead letter\"") && $0.contains("\"route\":\"legacy\"") && $0.contains("timed out") } != nil)
            let dir = gw.directory.path + "/hook"
            let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(pidFiles) }
            #expect(files.count == 2, "two attempts, each with a \(pidFiles) file")
            for f in files {
                let pid = Int32(readFile(dir + "/" + f).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
                #expect(pid > 0)
                #expect(eventually(timeout: 5) { kill(pid, 0) != 0 }, "\(what) (\(pid)) is still alive")
            }
        }
    }

    @Test func dryRunShowsMatchesReasonsAndBodies() throws {
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("g.yaml").path
        try deliveryConfig(receiver: "http://127.0.0.1:9").replacing("@DIR@", with: dir.path).writeAtomically(to: config)
        let event = dir.appendingPathComponent("event.json").path
        try paymentBody().writeAtomically(to: event)
        var r = try runGateway(["route", "--config", config, event])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("route 'ledger': MATCH"))
        let ledger = r.output.components(separatedBy: "route 'ledger'").dropFirst().first?.components(separatedBy: "\nroute ").first ?? ""
        #expect(ledger.contains(#""first6No":"**1111""#) && !ledger.contains("JANE DOE"))
        // Routes without transforms show the body exactly as received.
        #expect(r.output.contains(paymentBody()))
        #expect(r.output.contains("route 'tenant-acme': MATCH"))
        try paymentBody(status: "Failure").writeAtomically(to: event)
        r = try runGateway(["route", "--config", config, event])
        #expect(r.status == 0)
        #expect(r.output.contains("route 'ledger': no match: condition failed: payment.status does not equal \"Success\""))
        try #"{"eventCode":"TokenUpdate"}"#.writeAtomically(to: event)
        r = try runGateway(["route", "--config", config, event])
        #expect(r.status == 0 && r.output.contains("route 'legacy': no match: eventCode is not one of Payment"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path), "a dry run delivers nothing")
        try "{not json".writeAtomically(to: event)
        r = try runGateway(["route", "--config", config, event])
        #expect(r.status == 2 && r.output.contains("would be refused with 400"))
    }

    @Test func checkReportsPluginConfigErrorsWithPositions() throws {
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("g.yaml").path
        let text = """
            server: {listen: "127.0.0.1:0"}
            sources: [{name: evo, path: /w, signKey: k}]
            routes:
              - name: r
                events: ["*"]
                handlers:
                  - plugin: forward-http
                    with: {url: "http://x/", retries: 3}
                  - plugin: nosuchplugin
            """
        try text.writeAtomically(to: config)
        let r = try runGateway(["check", "--config", config])
        #expect(r.status == 1)
        #expect(r.output.contains("\(config):7:9: route 'r': handlers[0] (forward-http): unknown key 'retries' in with"))
        #expect(r.output.contains("\(config):9:9: route 'r': handlers[1] (nosuchplugin): plugin 'nosuchplugin' not found"))
    }
}
