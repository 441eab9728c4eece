import Foundation
import GatewayCore
import GatewayHTTP
import GatewayTestKit
import Glibc
import Synchronization
import Testing

func spoolConfig(receiver: String, dedupWindowSeconds: Int = 86_400, receiverDelay: Bool = false, maxAttempts: Int = 50) -> String {
    """
    server:
      listen: 127.0.0.1:0
      workers: 2
    admin:
      listen: 127.0.0.1:0
    spool:
      dir: @DIR@/spool
    sources:
      - name: evo
        path: /webhooks/evo
        signKey: test-sign-key
        dedupWindowSeconds: \(dedupWindowSeconds)
    routes:
      - name: ledger
        events: ["*"]
        handlers:
          - plugin: forward-http
            with: { url: "\(receiver)/ledger", timeoutMs: 2000 }
        retry: {maxAttempts: \(maxAttempts), initialDelayMs: 50, maxDelayMs: 300}
        concurrency: 2
    log:
      level: info
    """
}

/// The MsgIDs a receiver got (each once, however often it was sent).
func receivedMsgIDs(_ r: RecordingHTTPServer) -> Set<String> {
    Set(r.received.compactMap { req in (try? JSONParser.parse(req.body))?.value(at: "n")?.scalarText })
}

func numbered(_ i: Int) -> SignedRequest {
    var r = SignedRequest(body: #"{"eventCode":"Payment","n":"\#(i)","payment":{"status":"Success"}}"#)
    r.msgID = String(format: "msg%05d", i)
    return r
}

@Suite("Durability", .serialized)
struct DurabilityTests {
    @Test func everyAcknowledgedNotificationIsDeliveredAcrossKillDashNine() throws {
        let receiver = try RecordingHTTPServer(answer: .init(status: 200, delayMs: 5))
        defer { receiver.stop() }
        let config = spoolConfig(receiver: receiver.url).replacing("concurrency: 2", with: "concurrency: 8")
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var acked: Set<String> = []
        var refused = 0
        var next = 0
        var rng = SystemRandomNumberGenerator()
        for round in 0..<4 {
            let gw = try GatewayProcess(config: config, directory: dir)
            try gw.waitUntilListening()
            // Send for a random while, then kill -9 in the middle of the traffic (except the last round).
            let sendFor = Double.random(in: 0.3...0.9, using: &rng)
            let start = Date()
            let clientDone = DispatchSemaphore(value: 0)
            let results = Locked<[(String, Bool)]>([])
            let first = next
            let count = 2000  // more than one client sends before the crash: the kill lands mid-traffic
            next += count
            Thread {
                var client = try? TestClient(port: gw.port, timeoutMs: 2000)
                for i in first..<(first + count) {
                    if Date().timeIntervalSince(start) > sendFor + 1 { break }
                    let n = String(i)
                    do {
                        if client == nil { client = try TestClient(port: gw.port, timeoutMs: 2000) }
                        let a = try client!.roundTrip(numbered(i).bytes)
                        results.withLock { $0.append((n, a.status == 200)) }
                    } catch {
                        results.withLock { $0.append((n, false)) }
                        client = nil
                        if !gw.isRunning { break }
                    }
                }
                clientDone.signal()
            }.start()
            if round < 3 {
                Thread.sleep(forTimeInterval: sendFor)  // how long traffic runs before the crash, not a wait for a condition
                gw.crash()
            }
            _ = clientDone.wait(timeout: .now() + 30)
            for (n, ok) in results.withLock({ $0 }) {
                if ok { acked.insert(n) } else { refused += 1 }
            }
            if round == 3 {
                // Final run: everything acknowledged must arrive.
                let delivered = eventually(timeout: 60) { receivedMsgIDs(receiver).isSuperset(of: acked) }
                let missing = acked.subtracting(receivedMsgIDs(receiver))
                #expect(delivered, "\(missing.count) acknowledged notifications never delivered, e.g. \(missing.sorted().prefix(5))")
                gw.stop(keepDirectory: true)
            }
        }
        #expect(acked.count > 100, "the test acknowledged too little to prove anything (\(acked.count))")
        print("crash test: \(acked.count) acknowledged, \(refused) not acknowledged, \(receivedMsgIDs(receiver).count) delivered, \(receiver.received.count) requests")
        // Nothing arrives that was never sent.
        #expect(receivedMsgIDs(receiver).allSatisfy { Int($0).map { $0 < next } ?? false })
    }

    @Test func duplicatesAreDeliveredOnceAlsoAcrossARestartButAgainAfterTheWindow() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = spoolConfig(receiver: receiver.url, dedupWindowSeconds: 3)
        let request = numbered(1).bytes
        do {
            let gw = try GatewayProcess(config: config, directory: dir)
            try gw.waitUntilListening()
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(request).status == 200)
            #expect(try c.roundTrip(request).status == 200)
            #expect(receiver.waitFor(1).count == 1)
            #expect(gw.waitForLine { $0.contains("duplicate notification acknowledged") } != nil)
            gw.stop(keepDirectory: true)
        }
        let gw = try GatewayProcess(config: config, directory: dir)
        defer { gw.stop(keepDirectory: true) }
        try gw.waitUntilListening()
        let c = try TestClient(port: gw.port)
        #expect(try c.roundTrip(request).status == 200)
        #expect(gw.waitForLine { $0.contains("duplicate notification acknowledged") } != nil)
        #expect(receiver.received.count == 1)
        // The same body signed again with another MsgID is still the same notification.
        var resent = numbered(1)
        resent.msgID = "another-msg-id"
        #expect(try c.roundTrip(resent.bytes).status == 200)
        #expect(receiver.received.count == 1)
        // After the window it is delivered again.
        #expect(eventually(timeout: 10) { (try? c.roundTrip(request).status) == 200 && receiver.received.count == 2 })
    }

    /// `dedupWindowSeconds: 0` turns de-duplication off (and the gateway skips the digest):
    /// every copy is stored and delivered, across a restart too.
    @Test func withoutAWindowEveryCopyIsDelivered() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = spoolConfig(receiver: receiver.url, dedupWindowSeconds: 0)
        let request = numbered(7).bytes
        do {
            let gw = try GatewayProcess(config: config, directory: dir)
            try gw.waitUntilListening()
            let c = try TestClient(port: gw.port)
            for _ in 0..<3 { #expect(try c.roundTrip(request).status == 200) }
            #expect(receiver.waitFor(3).count == 3)
            gw.stop(keepDirectory: true)
        }
        let gw = try GatewayProcess(config: config, directory: dir)
        defer { gw.stop(keepDirectory: true) }
        try gw.waitUntilListening()
        #expect(try TestClient(port: gw.port).roundTrip(request).status == 200)
        #expect(receiver.waitFor(4).count == 4)
        #expect(!gw.output.contains { $0.contains("duplicate notification acknowledged") })
    }

    @Test func pendingDeliveriesAndDeadLettersSurviveARestartAndReplayDeliversThem() throws {
        let receiver = try RecordingHTTPServer(answer: .init(status: 503))
        defer { receiver.stop() }
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = spoolConfig(receiver: receiver.url, maxAttempts: 3)
        do {
            let gw = try GatewayProcess(config: config, directory: dir)
            try gw.waitUntilListening()
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(numbered(1).bytes).status == 200)
            #expect(gw.waitForLine { $0.contains("\"msg\":\"dead letter\"") } != nil)
            gw.stop(keepDirectory: true)
        }
        let configPath = dir.appendingPathComponent("gateway.yaml").path
        var r = try runGateway(["deadletter", "list", "--config", configPath])
        #expect(r.status == 0)
        #expect(r.output.contains("\"route\":\"ledger\"") && r.output.contains("\"attempts\":3") && r.output.contains("gave up after 3 attempts: HTTP 503"))
        #expect(r.output.contains(#""body":{"eventCode":"Payment","n":"1""#))
        #expect(r.output.contains(#""SignType":"SHA256""#) && r.output.contains(#""headers":{"DateTime":""#))
        #expect(r.output.contains("1 dead letter(s)"))
        // The time it was received, not the time it died.
        let line = try #require(r.output.split(separator: "\n").first { $0.contains("\"route\":\"ledger\"") })
        let entry = try JSONParser.parse(Array(line.utf8))
        let received = Int64(entry.value(at: "receivedMs")?.scalarText ?? "") ?? 0
        let died = Int64(entry.value(at: "deadMs")?.scalarText ?? "") ?? 0
        #expect(received > 0 && received < died, "received \(received), dead \(died)")
        // The receiver recovers; replay while the gateway runs.
        receiver.script(Array(repeating: .init(status: 200), count: 10))
        let gw = try GatewayProcess(config: config, directory: dir)
        defer { gw.stop(keepDirectory: true) }
        try gw.waitUntilListening()
        let before = receiver.received.count
        r = try runGateway(["deadletter", "replay", "--config", configPath, "--route", "ledger"])
        #expect(r.status == 0 && r.output.contains("1 dead letter(s) queued for replay"))
        #expect(eventually { receiver.received.count > before && receiver.received.last?.bodyText.contains(#""n":"1""#) == true })
        #expect(gw.waitForLine { $0.contains("dead letter replayed") } != nil)
        r = try runGateway(["deadletter", "list", "--config", configPath])
        #expect(r.output.contains("0 dead letter(s)"))
    }

    @Test func deliveriesPendingAtShutdownResumeAfterTheRestart() throws {
        let receiver = try RecordingHTTPServer(answer: .init(status: 503))
        defer { receiver.stop() }
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = spoolConfig(receiver: receiver.url)
        do {
            let gw = try GatewayProcess(config: config, directory: dir)
            try gw.waitUntilListening()
            let c = try TestClient(port: gw.port)
            for i in 0..<5 { #expect(try c.roundTrip(numbered(i).bytes).status == 200) }
            #expect(receiver.waitFor(5).count >= 5)
            gw.stop(keepDirectory: true)
            #expect(gw.output.contains { $0.contains("deliveries pending at exit resume on the next start") })
        }
        receiver.script(Array(repeating: .init(status: 200), count: 100))
        let gw = try GatewayProcess(config: config, directory: dir)
        defer { gw.stop(keepDirectory: true) }
        try gw.waitUntilListening()
        #expect(gw.waitForLine { $0.contains("resuming deliveries from the spool") } != nil)
        #expect(eventually { receivedMsgIDs(receiver).isSuperset(of: ["0", "1", "2", "3", "4"]) && gw.output.filter { $0.contains("\"msg\":\"delivered\"") }.count >= 5 })
    }

    /// A route whose first handler is a pure filter (metadata-filter) asks it before the store:
    /// an event it drops is stored without the route (counted and logged as dropped, nothing
    /// pending, nothing resumed after a restart); one it passes is stored with it and resumes
    /// after a restart under the same delivery ID, the filter asked again.
    @Test func aPureFilterDecidesBeforeTheStoreAndWhatItPassedSurvivesARestart() throws {
        let receiver = try RecordingHTTPServer(answer: .init(status: 503))
        defer { receiver.stop() }
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = oneSourceConfig(
            admin: "admin:\n  listen: 127.0.0.1:0",
            rest: """
                routes:
                  - name: acme
                    events: ["*"]
                    handlers:
                      - plugin: metadata-filter
                        with: { when: [ { key: tenant, equals: acme } ] }
                      - plugin: forward-http
                        with: { url: "\(receiver.url)/acme", timeoutMs: 2000 }
                    retry: {maxAttempts: 50, initialDelayMs: 50, maxDelayMs: 100}
                log:
                  level: debug
                """)
        func event(_ n: Int, tenant: String) -> SignedRequest {
            var r = SignedRequest(body: #"{"eventCode":"Payment","n":"\#(n)","metadata":"tenant=\#(tenant)"}"#)
            r.msgID = "msg\(n)"
            return r
        }
        var firstID = ""
        do {
            let gw = try GatewayProcess(config: config, directory: dir)
            try gw.waitUntilListening()
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(event(1, tenant: "globex").bytes).status == 200)
            #expect(try c.roundTrip(event(2, tenant: "acme").bytes).status == 200)
            let got = receiver.waitFor(2)
            #expect(got.count >= 2 && got.allSatisfy { $0.bodyText.contains(#""n":"2""#) })
            #expect(got.prefix(2).map { $0.headers["X-Gateway-Attempt"] ?? "" } == ["1", "2"])
            firstID = got.first?.headers["X-Gateway-Delivery-Id"] ?? ""
            // The drop is logged with the delivery ID the route would have given it (the same
            // spool and record id scheme), at attempt 1, and counted like any filter's drop.
            let dropped = gw.waitForLine { $0.contains("dropped by a handler") }
            #expect(dropped?.contains(#""route":"acme""#) == true && dropped?.contains(#""msgID":"msg1""#) == true)
            #expect(dropped?.contains(#""attempt":1"#) == true && dropped?.contains(#""plugin":"metadata-filter""#) == true)
            var metrics = MetricsText()
            #expect(eventually {
                metrics = (try? MetricsText(admin(gw, "GET", "/metrics", token: nil).bodyText)) ?? MetricsText()
                return metrics[#"gateway_deliveries_total{route="acme",plugin="metadata-filter",outcome="dropped"}"#] == 1
            })
            #expect(metrics[#"gateway_deliveries_pending{route="acme"}"#] == 1)
            #expect(metrics[#"gateway_delivery_duration_seconds_count{route="acme"}"#] == 1)
            // The provider retries the globex one: the filter is asked again before the store
            // finds it a duplicate, and nothing of that is counted or logged a second time.
            #expect(try c.roundTrip(event(1, tenant: "globex").bytes).status == 200)
            #expect(gw.waitForLine { $0.contains("duplicate notification acknowledged") } != nil)
            metrics = try MetricsText(admin(gw, "GET", "/metrics", token: nil).bodyText)
            #expect(metrics[#"gateway_deliveries_total{route="acme",plugin="metadata-filter",outcome="dropped"}"#] == 1)
            #expect(metrics[#"gateway_duplicates_total{source="evo"}"#] == 1)
            #expect(gw.output.filter { $0.contains("dropped by a handler") }.count == 1)
            gw.stop(keepDirectory: true)
        }
        #expect(firstID.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]+-acme/) != nil, "\(firstID)")
        receiver.script(Array(repeating: .init(status: 200), count: 10))
        let before = receiver.received.count
        let gw = try GatewayProcess(config: config, directory: dir)
        defer { gw.stop(keepDirectory: true) }
        try gw.waitUntilListening()
        // Only acme's delivery was stored: one resumed, none for globex's.
        let resumed = gw.waitForLine { $0.contains("resuming deliveries from the spool") }
        #expect(resumed?.contains(#""deliveries":1"#) == true, "\(resumed ?? "no resume line")")
        #expect(gw.waitForLine { $0.contains("\"msg\":\"delivered\"") && $0.contains(#""msgID":"msg2""#) } != nil)
        let after = Array(receiver.received.dropFirst(before))
        #expect(after.count == 1)
        #expect(after.first?.headers["X-Gateway-Delivery-Id"] == firstID)
        #expect(after.first?.bodyText.contains(#""n":"2""#) == true)
        #expect(!gw.output.contains { $0.contains("dropped by a handler") && $0.contains("msg1") })
    }

    @Test func aTornTailIsReportedAndTheGatewayStarts() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = spoolConfig(receiver: receiver.url)
        do {
            let gw = try GatewayProcess(config: config, directory: dir)
            try gw.waitUntilListening()
            let c = try TestClient(port: gw.port)
            for i in 0..<3 { #expect(try c.roundTrip(numbered(i).bytes).status == 200) }
            gw.crash()
        }
        let segDir = dir.appendingPathComponent("spool/segments").path
        let newest = try #require(try FileManager.default.contentsOfDirectory(atPath: segDir).filter { $0.hasSuffix(".seg") }.sorted().last)
        let path = segDir + "/" + newest
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        #expect(size > 16)
        truncate(path, off_t(size - 3))
        let gw = try GatewayProcess(config: config, directory: dir)
        defer { gw.stop(keepDirectory: true) }
        try gw.waitUntilListening()
        #expect(gw.output.contains { $0.contains("torn tail of the spool cut off") && $0.contains("truncated record") })
        let c = try TestClient(port: gw.port)
        #expect(try c.roundTrip(numbered(10).bytes).status == 200)
        #expect(eventually { receivedMsgIDs(receiver).contains("10") })
    }

    @Test func aSecondGatewayOnTheSameSpoolIsRefused() throws {
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = spoolConfig(receiver: "http://127.0.0.1:9")
        let first = try GatewayProcess(config: config, directory: dir)
        defer { first.stop(keepDirectory: true) }
        try first.waitUntilListening()
        let r = try runGateway(["serve", "--config", dir.appendingPathComponent("gateway.yaml").path])
        #expect(r.status == 1)
        #expect(r.output.contains("another gateway is using the spool"))
    }
    @Test func aFullSpoolAnswers503AndAcceptsAgainOnceDelivered() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        receiver.script(Array(repeating: .init(status: 503), count: 100_000))  // the route is down
        let config = spoolConfig(receiver: receiver.url, maxAttempts: 1000)
            .replacing("  dir: @DIR@/spool", with: "  dir: @DIR@/spool\n  maxBytes: 256KiB")
            .replacing("initialDelayMs: 50, maxDelayMs: 300", with: "initialDelayMs: 200, maxDelayMs: 500")
        let gw = try GatewayProcess(config: config, directory: try GatewayProcess.makeTempDirectory())
        defer { gw.stop() }
        try gw.waitUntilListening()
        let pad = String(repeating: "p", count: 2000)
        func padded(_ i: Int) -> [UInt8] {
            var r = SignedRequest(body: #"{"eventCode":"Payment","n":"\#(i)","pad":"\#(pad)","payment":{"status":"Success"}}"#)
            r.msgID = String(format: "full%05d", i)
            return r.bytes
        }
        let c = try TestClient(port: gw.port)
        var acked: Set<String> = []
        var refused: Set<String> = []
        var next = 0
        // Fill the spool: the first answers are 200, then 503 (nothing stored, nothing lost).
        while next < 1000 && refused.count < 3 {
            let a = try c.roundTrip(padded(next))
            if a.status == 200 {
                acked.insert(String(next))
            } else {
                #expect(a.status == 503)
                #expect(a.headers["Retry-After"] == "1")
                refused.insert(String(next))
            }
            next += 1
        }
        #expect(refused.count == 3, "the spool never filled up")
        #expect(acked.count > 50)
        #expect(gw.waitForLine { $0.contains("spool.maxBytes") } != nil)
        // The route comes back: everything acknowledged arrives, nothing refused does, and once
        // the delivered segments are deleted new notifications are accepted again.
        receiver.clearScript()
        #expect(eventually(timeout: 30) { receivedMsgIDs(receiver).isSuperset(of: acked) })
        #expect(receivedMsgIDs(receiver).isDisjoint(with: refused))
        var later = 5000
        #expect(eventually(timeout: 20) {
            later += 1
            return (try? c.roundTrip(padded(later)).status) == 200
        })
    }
}
