import Foundation
import GatewayHTTP
import GatewayTestKit
import Glibc
import Testing

/// Process-level behaviour: commands, signals, timeouts, slow clients, many connections,
/// descriptor exhaustion. Serialized: several of these measure the process (CPU, memory).
@Suite("Gateway process", .serialized)
struct LifecycleTests {
    @Test func checkCommandAcceptsAndRefuses() throws {
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.yaml").path
        try testConfig().replacing("@DIR@", with: dir.path).writeAtomically(to: good)
        var r = try runGateway(["check", "--config", good])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("configuration OK"))
        #expect(r.output.contains("evo: POST /webhooks/evo") && r.output.contains("strict: POST /webhooks/strict"))
        #expect(!r.output.contains("test-sign-key") && !r.output.contains("strict-key"))

        let bad = dir.appendingPathComponent("bad.yaml").path
        try "server:\n  listen: 127.0.0.1:0\n  maxBodyBytes: huge\nsources:\n  - name: evo\n    path: /w\n    signKey: ${NOT_SET_ANYWHERE}\n"
            .writeAtomically(to: bad)
        r = try runGateway(["check", "--config", bad])
        #expect(r.status != 0)
        #expect(r.output.contains("\(bad):3:17: server.maxBodyBytes must be a size"))
        #expect(r.output.contains("\(bad):7:14: source 'evo': signKey: environment variable NOT_SET_ANYWHERE is not set"))

        let empty = dir.appendingPathComponent("empty.yaml").path
        try "".writeAtomically(to: empty)
        r = try runGateway(["check", "--config", empty])
        #expect(r.status != 0 && r.output.contains("\(empty):1:1: empty configuration"))
        r = try runGateway(["serve", "--config", empty])
        #expect(r.status == 2 && r.output.contains("empty configuration"))
        r = try runGateway(["check", "--config", dir.appendingPathComponent("missing.yaml").path])
        #expect(r.status != 0 && r.output.contains("no such file"))
        r = try runGateway(["check"])
        #expect(r.status == 2)
    }

    @Test func sendCommandSignsAndReportsTheAnswer() throws {
        try withGateway { gw in
            let url = "http://127.0.0.1:\(gw.port)/webhooks/evo"
            for code in ["Payment", "Capture", "Cancel", "Refund", "MerchandiseCredit", "Recapture", "Cryptogram", "TokenUpdate"] {
                let r = try runGateway(["send", "--url", url, "--sign-key", "test-sign-key", "--event-code", code])
                #expect(r.status == 0, "\(code): \(r.output)")
                #expect(r.output.contains("HTTP 200") && r.output.contains("SUCCESS"))
            }
            var r = try runGateway(["send", "--url", url, "--sign-key", "wrong", "--event-code", "Refund"])
            #expect(r.status == 1 && r.output.contains("HTTP 401"))
            r = try runGateway(["send", "--url", url, "--sign-type", "HMAC-SHA512", "--event-code", "Payment"], environment: ["GATEWAY_SIGN_KEY": "test-sign-key"])
            #expect(r.status == 0, "\(r.output)")
            r = try runGateway(["send", "--url", url, "--sign-type", "SM2withSM3", "--sm2-key", sm2PrivateKeyPath])
            #expect(r.status == 0, "\(r.output)")
            let body = gw.directory.appendingPathComponent("body.json").path
            try #"{"eventCode":"Verify","x":1}"#.writeAtomically(to: body)
            r = try runGateway(["send", "--url", url, "--sign-key", "test-sign-key", "--body", body])
            #expect(r.status == 0)
            r = try runGateway(["send", "--url", url, "--sign-key", "k", "--event-code", "Nope"])
            #expect(r.status == 2)
            r = try runGateway(["send", "--url", "http://127.0.0.1:1/x", "--sign-key", "k"])
            #expect(r.status == 1 && r.output.contains("cannot connect"))
            // Each run is a new notification: fresh MsgIDs and merchantTransIDs.
            let accepted = gw.output.filter { $0.contains("notification accepted") }
            let ids = Set(accepted.compactMap { line in line.firstRange(of: "\"merchantTransID\":\"").map { line[$0.upperBound...].prefix(18) } })
            #expect(ids.count >= 8)
        }
    }

    @Test func sigtermExitsCleanly() throws {
        let gw = try GatewayProcess(config: testConfig())
        defer { gw.stop() }
        try gw.waitUntilListening()
        let c = try TestClient(port: gw.port)
        #expect(try c.roundTrip(SignedRequest.payment().bytes).status == 200)
        gw.signal(SIGTERM)
        #expect(gw.waitForExit() == 0)
        #expect(gw.output.contains { $0.contains("\"stopped\"") })
    }

    @Test func sighupReloadsSourcesAndKeepsTheOldConfigWhenTheNewOneIsBad() throws {
        let gw = try GatewayProcess(config: testConfig())
        defer { gw.stop() }
        try gw.waitUntilListening()
        let c = try TestClient(port: gw.port)
        #expect(try c.roundTrip(SignedRequest.payment().bytes).status == 200)
        let original = try String(contentsOfFile: gw.configPath, encoding: .utf8)
        try original.replacing("signKey: test-sign-key", with: "signKey: rotated-key").writeAtomically(to: gw.configPath)
        gw.signal(SIGHUP)
        #expect(gw.waitForLine { $0.contains("configuration reloaded") } != nil)
        #expect(try c.roundTrip(SignedRequest.payment().bytes).status == 401)
        #expect(try c.roundTrip(SignedRequest.payment(key: "rotated-key").bytes).status == 200)
        try "server: [broken\n".writeAtomically(to: gw.configPath)
        gw.signal(SIGHUP)
        #expect(gw.waitForLine { $0.contains("configuration reload failed") } != nil)
        #expect(try c.roundTrip(SignedRequest.payment(key: "rotated-key").bytes).status == 200)
    }

    @Test func headerTimeoutAnswers408AndIdleTimeoutCloses() throws {
        let config = testConfig(extraServer: "  headerTimeoutMs: 400\n  idleTimeoutMs: 600")
        try withGateway(config) { gw in
            let slow = try TestClient(port: gw.port)
            try slow.send("POST /webhooks/evo HTTP/1.1\r\nHost: x\r\n")
            let a = try slow.read()
            #expect(a.status == 408)
            #expect(slow.closedByServer())
            let idle = try TestClient(port: gw.port)
            #expect(try idle.roundTrip(SignedRequest.payment().bytes).status == 200)
            #expect(idle.closedByServer(waitMs: 5000))
        }
    }

    @Test func bodyTimeoutAnswers408() throws {
        let config = testConfig(extraServer: "  bodyTimeoutMs: 400")
        try withGateway(config) { gw in
            let c = try TestClient(port: gw.port)
            try c.send("POST /webhooks/evo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"eventCode\"")
            let a = try c.read()
            #expect(a.status == 408)
            #expect(a.bodyText.contains("body"))
            #expect(c.closedByServer())
        }
    }

    @Test func slowClientsDoNotDelayOthers() throws {
        try withGateway { gw in
            // 200 connections dribbling a request one byte at a time, never finishing.
            var slow: [TestClient] = []
            for _ in 0..<200 {
                let s = try TestClient(port: gw.port)
                try s.send("P")
                slow.append(s)
            }
            let fast = try TestClient(port: gw.port, timeoutMs: 2000)
            for i in 0..<200 {
                if i % 20 == 0 { for s in slow { try? s.send("O") } }
                #expect(try fast.roundTrip(SignedRequest.payment().bytes).status == 200)
            }
        }
    }

    @Test func holdsTenThousandIdleKeepAliveConnections() throws {
        raiseOpenFileLimit()
        try withGateway { gw in
            // Warm up allocator and loops before measuring.
            let warm = try TestClient(port: gw.port)
            for _ in 0..<50 { _ = try warm.roundTrip(SignedRequest.payment().bytes) }
            let before = gw.rssKiB
            var conns: [TestClient] = []
            conns.reserveCapacity(10_000)
            for i in 0..<10_000 {
                let c = try TestClient(port: gw.port)
                if i % 10 == 0 {
                    // Some have served a request and are now idle keep-alive connections.
                    #expect(try c.roundTrip(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8)).status == 404)
                }
                conns.append(c)
            }
            // Still serving, promptly, with all of them open.
            let fresh = try TestClient(port: gw.port, timeoutMs: 2000)
            for _ in 0..<20 { #expect(try fresh.roundTrip(SignedRequest.payment().bytes).status == 200) }
            let after = gw.rssKiB
            let perConnection = Double(after - before) / 10_000.0
            print("RSS before \(before) KiB, with 10000 idle connections \(after) KiB: \(perConnection) KiB per connection")
            // Under a sanitizer every allocation carries redzones and shadow memory.
            let bound = ProcessInfo.processInfo.environment["GATEWAY_SANITIZER"] == nil ? 4.0 : 16.0
            #expect(perConnection < bound, "an idle connection costs \(perConnection) KiB")
            #expect(conns.count == 10_000)
        }
    }

    /// With `ulimit -n 64`, ThreadSanitizer's own runtime does not leave the gateway enough
    /// descriptors to start; the test runs everywhere else.
    @Test(.disabled(if: ProcessInfo.processInfo.environment["GATEWAY_SANITIZER"] == "thread", "TSan needs more than 64 descriptors"))
    func runningOutOfDescriptorsDoesNotSpin() throws {
        // A hard limit of 64 descriptors: a few for the process, the rest for connections.
        try withGateway(shellPrefix: "ulimit -Sn 64 && ulimit -Hn 64") { gw in
            #expect(gw.output.contains { $0.contains("\"openFilesLimit\":64") }, "the descriptor limit was not applied")
            var held: [TestClient] = []
            for _ in 0..<100 {
                if let c = try? TestClient(port: gw.port, timeoutMs: 1000) { held.append(c) }
            }
            // Some of those were accepted and closed at once; the rest hold every descriptor.
            let cpu0 = gw.cpuSeconds
            let t0 = Date()
            // More clients knock while descriptors are exhausted.
            var extra: [TestClient] = []
            for _ in 0..<20 { if let c = try? TestClient(port: gw.port, timeoutMs: 500) { extra.append(c) } }
            Thread.sleep(forTimeInterval: 1.0)  // measuring CPU over an interval, not waiting for a condition
            let used = gw.cpuSeconds - cpu0
            let elapsed = Date().timeIntervalSince(t0)
            #expect(used < 0.25 * elapsed, "gateway used \(used)s CPU in \(elapsed)s with descriptors exhausted")
            #expect(gw.isRunning)
            held.removeAll()
            extra.removeAll()
            // Descriptors are back: it serves again.
            var ok = false
            for _ in 0..<50 where !ok {
                if let c = try? TestClient(port: gw.port, timeoutMs: 1000), let a = try? c.roundTrip(SignedRequest.payment().bytes) {
                    ok = a.status == 200
                } else {
                    Thread.sleep(forTimeInterval: 0.1)
                }
            }
            #expect(ok)
            #expect(gw.waitForLine(timeout: 5) { $0.contains("out of file descriptors") } != nil)
        }
    }
}
