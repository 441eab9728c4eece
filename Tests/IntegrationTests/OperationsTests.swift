import Foundation
import GatewayCore
import GatewayHTTP
import GatewayTestKit
import Glibc
import Testing

let adminToken = "admin-token-for-tests-0123456789"

/// A gateway with an admin listener (token `adminToken`) and one route, `routeName`, forwarding
/// everything to `url`.
/// A gateway on `opsConfig`, whose route `main` forwards to a fresh receiver, for `body`.
func withOpsGateway(_ body: (GatewayProcess, RecordingHTTPServer) throws -> Void) throws {
    let receiver = try RecordingHTTPServer()
    defer { receiver.stop() }
    try withGateway(opsConfig(url: receiver.url + "/in")) { gw in try body(gw, receiver) }
}

func opsConfig(url: String, routeName: String = "main", retry: String = "{maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 200}", extraRoutes: String = "", token: Bool = true, graceMs: Int = 10_000) -> String {
    oneSourceConfig(
        server: "  workers: 2\n  shutdownGraceMs: \(graceMs)",
        admin: "admin:\n  listen: 127.0.0.1:0" + (token ? "\n  token: \(adminToken)" : ""),
        rest: """
            routes:
              - name: \(routeName)
                events: ["*"]
                handlers:
                  - plugin: forward-http
                    with: { url: "\(url)", timeoutMs: 2000 }
                retry: \(retry)
            \(extraRoutes)
            """)
}

/// One request to the admin listener.
func admin(_ gw: GatewayProcess, _ method: String, _ target: String, token: String? = adminToken) throws -> HTTPClientResponse {
    let c = try TestClient(port: gw.adminPort)
    var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n"
    if let token { text += "Authorization: Bearer \(token)\r\n" }
    return try c.roundTrip(Array((text + "\r\n").utf8))
}

/// A parsed Prometheus text exposition: sample lines by their full series text
/// (`name{labels}`), after checking the format.
struct MetricsText {
    var samples: [String: Double] = [:]
    var types: [String: String] = [:]

    init() {}

    init(_ text: String) throws {
        let sampleLine = try Regex(#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|[+-]Inf|NaN)$"#)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix("# HELP ") { continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "histogram"].contains(parts[3]) else { throw TestKitError("bad TYPE line: \(line)") }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            guard let m = try sampleLine.wholeMatch(in: String(line)) else { throw TestKitError("not a sample line: \(line)") }
            let name = String(m.output[1].substring ?? "")
            let family = types.keys.first { name == $0 || name == $0 + "_bucket" || name == $0 + "_sum" || name == $0 + "_count" }
            guard family != nil else { throw TestKitError("sample before its TYPE: \(line)") }
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else {
                throw TestKitError("bad value: \(line)")
            }
            samples[String(line[..<space])] = v
        }
        // Histograms: buckets cumulative, +Inf equal to _count.
        for (name, type) in types where type == "histogram" {
            let buckets = samples.filter { $0.key.hasPrefix(name + "_bucket") }
            for (series, count) in samples where series.hasPrefix(name + "_count") {
                let labels = series.dropFirst((name + "_count").count).dropFirst().dropLast()
                let inf = labels.isEmpty ? "\(name)_bucket{le=\"+Inf\"}" : "\(name)_bucket{\(labels),le=\"+Inf\"}"
                guard buckets[inf] == count else { throw TestKitError("\(inf) != \(series)") }
            }
        }
    }

    subscript(_ series: String) -> Double { samples[series] ?? 0 }
}

@Suite("Operations", .serialized)
struct OperationsTests {
    @Test func reloadUnderLoadDropsNothingAndSwitchesRoutes() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        let gw = try GatewayProcess(config: opsConfig(url: receiver.url + "/a"))
        defer { gw.stop() }
        try gw.waitUntilListening()

        // Two clients send continuously on keep-alive connections while the configuration changes.
        let stop = Locked(false)
        let results = Locked<(acked: Set<String>, failures: [String])>(([], []))
        let senders = (0..<2).map { t in
            Thread {
                guard let c = try? TestClient(port: gw.port) else {
                    results.withLock { $0.failures.append("client \(t): cannot connect") }
                    return
                }
                var i = t * 1_000_000
                // Bounded: until told to stop, at most 200,000 requests or 120 s.
                let deadline = Date().addingTimeInterval(120)
                while !stop.withLock({ $0 }) && i < t * 1_000_000 + 200_000 && Date() < deadline {
                    i += 1
                    do {
                        let r = try c.roundTrip(numbered(i).bytes)
                        if r.status == 200 {
                            results.withLock { _ = $0.acked.insert(String(i)) }
                        } else {
                            results.withLock { $0.failures.append("\(i): \(r.status) \(r.bodyText)") }
                        }
                    } catch {
                        results.withLock { $0.failures.append("\(i): \(error)") }
                        return
                    }
                }
            }
        }
        senders.forEach { $0.start() }
        func deliveredTo(_ path: String) -> Bool { receiver.received.contains { $0.target == path } }
        /// Waits until the clients have had `n` more notifications acknowledged.
        func moreAcks(_ n: Int) -> Bool {
            let start = results.withLock { $0.acked.count }
            return eventually { results.withLock { $0.acked.count } >= start + n }
        }

        #expect(eventually { deliveredTo("/a") })
        #expect(moreAcks(200))
        try opsConfig(url: receiver.url + "/b").replacing("@DIR@", with: gw.directory.path).writeAtomically(to: gw.configPath)
        let r1 = try admin(gw, "POST", "/admin/reload")
        #expect(r1.status == 200 && r1.bodyText.contains(#""generation":2"#))
        #expect(eventually { deliveredTo("/b") })
        #expect(moreAcks(200))

        // An invalid file: refused with positions, the current configuration keeps serving.
        let invalid = opsConfig(url: receiver.url + "/x").replacing("plugin: forward-http", with: "plugin: no-such-plugin")
        try invalid.replacing("@DIR@", with: gw.directory.path).writeAtomically(to: gw.configPath)
        let r2 = try admin(gw, "POST", "/admin/reload")
        #expect(r2.status == 422)
        #expect(r2.bodyText.contains("gateway.yaml:") && r2.bodyText.contains("no-such-plugin"))
        #expect(gw.waitForLine { $0.contains("configuration reload failed") && $0.contains("gateway.yaml:") } != nil)
        let countB = receiver.received.filter { $0.target == "/b" }.count
        #expect(eventually { receiver.received.filter { $0.target == "/b" }.count > countB + 10 })

        // SIGHUP does the same as the endpoint; a plugin not used before (file) loads on reload.
        let audit = """
              - name: audit
                events: ["*"]
                handlers:
                  - plugin: file
                    with: { path: "@DIR@/out/audit.jsonl" }
            """
        try opsConfig(url: receiver.url + "/c", extraRoutes: audit).replacing("@DIR@", with: gw.directory.path)
            .writeAtomically(to: gw.configPath)
        gw.signal(SIGHUP)
        #expect(gw.waitForLine { $0.contains("configuration reloaded") && $0.contains(#""generation":3"#) } != nil)
        #expect(eventually { deliveredTo("/c") })
        #expect(moreAcks(200))
        let auditFile = gw.directory.appendingPathComponent("out/audit.jsonl").path
        #expect(eventually { ((try? String(contentsOfFile: auditFile, encoding: .utf8)) ?? "").split(separator: "\n").count >= 20 })
        try opsConfig(url: receiver.url + "/a").replacing("@DIR@", with: gw.directory.path).writeAtomically(to: gw.configPath)
        #expect(try admin(gw, "POST", "/admin/reload").status == 200)
        let countA = receiver.received.filter { $0.target == "/a" }.count
        #expect(eventually { receiver.received.filter { $0.target == "/a" }.count > countA })
        #expect(moreAcks(200))

        stop.withLock { $0 = true }
        #expect(eventually { senders.allSatisfy(\.isFinished) })
        let (acked, failures) = results.withLock { ($0.acked, $0.failures) }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(acked.count > 50)
        // Every acknowledged notification reached the receiver (the route kept its name, so its
        // pending deliveries continued through every reload).
        #expect(eventually(timeout: 30) { receivedMsgIDs(receiver).isSuperset(of: acked) })
        let m = try MetricsText(admin(gw, "GET", "/metrics").bodyText)
        #expect(m[#"gateway_config_reloads_total{result="ok"}"#] == 3)
        #expect(m[#"gateway_config_reloads_total{result="failed"}"#] == 1)
        #expect(m["gateway_config_generation"] == 4)
    }

    @Test func aRemovedRouteKeepsItsPendingDeliveriesAsDeadLetters() throws {
        let receiver = try RecordingHTTPServer(answer: .init(status: 503))
        defer { receiver.stop() }
        let retry = "{maxAttempts: 50, initialDelayMs: 60000, maxDelayMs: 60000}"
        let gw = try GatewayProcess(config: opsConfig(url: receiver.url + "/flaky", routeName: "flaky", retry: retry))
        defer { gw.stop() }
        try gw.waitUntilListening()
        let c = try TestClient(port: gw.port)
        for i in 1...3 { #expect(try c.roundTrip(numbered(i).bytes).status == 200) }
        // Each was tried once and now waits a minute for its retry.
        #expect(receiver.waitFor(3).count >= 3)
        let routes = try admin(gw, "GET", "/admin/routes")
        #expect(routes.status == 200)
        let parsed = try JSONParser.parse(routes.body)
        #expect(parsed.value(at: "routes")?.arrayItems?.first?["pending"]?.scalarText == "3")

        let next = opsConfig(url: receiver.url + "/other", routeName: "other", retry: retry)
        try next.replacing("@DIR@", with: gw.directory.path).writeAtomically(to: gw.configPath)
        let r = try admin(gw, "POST", "/admin/reload")
        #expect(r.status == 200 && r.bodyText.contains(#""removed":["flaky"]"#))
        var letters: [JSONValue] = []
        #expect(eventually {
            letters = (try? JSONParser.parse(admin(gw, "GET", "/admin/deadletters").body))?.value(at: "deadLetters")?.arrayItems ?? []
            return letters.count == 3
        })
        for l in letters {
            #expect(l["route"]?.stringValue == "flaky")
            #expect(l["lastError"]?.stringValue?.contains("removed by configuration reload") == true)
            #expect(l["body"] == nil)  // bodies only when asked for
        }
        let withBodies = try admin(gw, "GET", "/admin/deadletters?route=flaky&body=1")
        #expect(withBodies.bodyText.contains(#""n":"2""#))
        let m = try MetricsText(admin(gw, "GET", "/metrics").bodyText)
        #expect(m[#"gateway_dead_letters_total{route="flaky"}"#] == 3)
        #expect(m["gateway_dead_letters_stored"] == 3)
        // The CLI sees them too (same files), and the admin endpoint replays them onto a route
        // that exists again.
        let list = try runGateway(["deadletter", "list", "--config", gw.configPath])
        #expect(list.output.split(separator: "\n").filter { $0.contains("removed by configuration reload") }.count == 3)
        let good = try RecordingHTTPServer()
        defer { good.stop() }
        try opsConfig(url: good.url + "/flaky", routeName: "flaky").replacing("@DIR@", with: gw.directory.path)
            .writeAtomically(to: gw.configPath)
        #expect(try admin(gw, "POST", "/admin/reload").status == 200)
        let replay = try admin(gw, "POST", "/admin/deadletters/replay?route=flaky")
        #expect(replay.status == 200 && replay.bodyText.contains(#""queued":3"#))
        #expect(good.waitFor(3).count == 3)
        #expect(receivedMsgIDs(good) == ["1", "2", "3"])
    }

    /// `top -H`, `ps -L` and `perf` tell the gateway's threads apart by role.
    @Test func threadsCarryTheirRoleInTheirNames() throws {
        try withOpsGateway { gw, receiver in
            let c = try TestClient(port: gw.port)
            #expect(try c.roundTrip(numbered(1).bytes).status == 200)
            #expect(receiver.waitFor(1).count == 1)
            let names = gw.threadNames
            for expected in ["gw-loop-0", "gw-spool-writer", "gw-compactor", "gw-retry-timer", "gw-r0-main"] {
                #expect(names.contains(expected), "no thread named \(expected) in \(names)")
            }
            #expect(names.allSatisfy { $0.utf8.count <= 15 }, "\(names)")
        }
    }

    @Test func metricsParseAndMoveWithTraffic() throws {
        try withOpsGateway { gw, receiver in
            let before = try MetricsText(admin(gw, "GET", "/metrics").bodyText)
            #expect(before.types["gateway_request_duration_seconds"] == "histogram")
            #expect(before.samples.keys.contains { $0.hasPrefix("gateway_build_info{version=") })

            let c = try TestClient(port: gw.port)
            for i in 1...3 { #expect(try c.roundTrip(numbered(i).bytes).status == 200) }
            #expect(try c.roundTrip(numbered(1).bytes).status == 200)  // a duplicate
            #expect(try c.roundTrip(SignedRequest.payment(key: "wrong-key").bytes).status == 401)
            var unknown = numbered(9)
            unknown.target = "/nowhere"
            #expect(try c.roundTrip(unknown.bytes).status == 404)
            #expect(receiver.waitFor(3).count == 3)

            var after = MetricsText()
            // Deliveries finish after the acknowledgement: wait for the counter rather than assume.
            #expect(eventually {
                after = (try? MetricsText(admin(gw, "GET", "/metrics").bodyText)) ?? MetricsText()
                return after[#"gateway_deliveries_total{route="main",plugin="forward-http",outcome="delivered"}"#] == 3
            })
            let ok = #"gateway_requests_total{source="evo",status="200",event_code="Payment"}"#
            #expect(after[ok] - before[ok] == 4)
            #expect(after[#"gateway_requests_total{source="evo",status="401",event_code=""}"#] == 1)
            #expect(after[#"gateway_requests_total{source="",status="404",event_code=""}"#] == 1)
            #expect(after[#"gateway_signature_failures_total{source="evo",reason="signature_mismatch"}"#] == 1)
            #expect(after[#"gateway_duplicates_total{source="evo"}"#] == 1)
            #expect(after[#"gateway_request_duration_seconds_count{source="evo"}"#] == 5)
            #expect(after[#"gateway_delivery_duration_seconds_count{route="main"}"#] == 3)
            #expect(after[#"gateway_deliveries_pending{route="main"}"#] == 0)
            #expect(after[#"gateway_delivery_oldest_pending_age_seconds{route="main"}"#] == 0)
            #expect(after["gateway_spool_fsync_duration_seconds_count"] >= 1)
            #expect(after["gateway_spool_bytes"] > 0)
            #expect(after[#"gateway_connections_open{listener="public"}"#] >= 1)
            #expect(after["gateway_config_generation"] == 1)
        }
    }

    @Test func adminTokenAndEndpoints() throws {
        try withOpsGateway { gw, receiver in
            // Probes need no token.
            #expect(try admin(gw, "GET", "/healthz", token: nil).status == 200)
            let ready = try admin(gw, "GET", "/readyz", token: nil)
            #expect(ready.status == 200 && ready.bodyText.contains(#""generation":1"#))
            for path in ["/metrics", "/admin/routes", "/admin/deadletters"] {
                let none = try admin(gw, "GET", path, token: nil)
                #expect(none.status == 401 && none.headers["WWW-Authenticate"] == "Bearer")
                #expect(try admin(gw, "GET", path, token: "wrong").status == 401)
                #expect(try admin(gw, "GET", path, token: adminToken + "x").status == 401)
                #expect(try admin(gw, "GET", path).status == 200)
            }
            #expect(try admin(gw, "POST", "/admin/reload", token: "wrong").status == 401)
            #expect(try admin(gw, "GET", "/admin/reload").status == 405)
            #expect(try admin(gw, "GET", "/nope").status == 404)
            let purge = try admin(gw, "POST", "/admin/deadletters/purge?olderThanSeconds=abc")
            #expect(purge.status == 400)
            // No answer ever shows the token.
            #expect(!gw.output.contains { $0.contains(adminToken) })
            // A non-loopback admin listener without a token is refused by `check`.
            let dir = try GatewayProcess.makeTempDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let open = opsConfig(url: receiver.url, token: false).replacing("@DIR@", with: dir.path)
                .replacing("admin:\n  listen: 127.0.0.1:0", with: "admin:\n  listen: 0.0.0.0:0")
            #expect(open.contains("listen: 0.0.0.0:0"))
            let path = dir.appendingPathComponent("open.yaml").path
            try open.writeAtomically(to: path)
            let check = try runGateway(["check", "--config", path])
            #expect(check.status != 0 && check.output.contains("'token' is required"))
        }
    }

    /// A route removed by a reload lets go of its plugin instances (whose destroy closes what
    /// they hold: connections, files), also after the loops have run it: nothing may keep the
    /// old definition alive.
    @Test func aRouteRemovedByAReloadDestroysItsPluginInstance() throws {
        let echo = """
              - name: echo
                events: ["*"]
                handlers:
                  - plugin: c-echo
                    with: { path: "@DIR@/echo.txt" }
            """
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        try withGateway(opsConfig(url: receiver.url + "/in", extraRoutes: echo)) { gw in
            let c = try TestClient(port: gw.port)
            // Several notifications, so that both loops are likely to have run the route.
            for i in 1...6 { #expect(try c.roundTrip(numbered(i).bytes).status == 200) }
            let echoed = gw.directory.appendingPathComponent("echo.txt").path
            #expect(eventually { lines(echoed).count == 6 })
            let marker = echoed + ".destroyed"
            #expect(!FileManager.default.fileExists(atPath: marker))
            try opsConfig(url: receiver.url + "/in").replacing("@DIR@", with: gw.directory.path)
                .writeAtomically(to: gw.configPath)
            #expect(try admin(gw, "POST", "/admin/reload").status == 200)
            // And with traffic going on elsewhere afterwards, or not: the instance goes at once.
            #expect(eventually { FileManager.default.fileExists(atPath: marker) }, "the removed route's c-echo instance was never destroyed")
            #expect(try c.roundTrip(numbered(7).bytes).status == 200)
            #expect(receiver.waitFor(7).count == 7)
        }
    }

    @Test func aReloadChangesTheLogLevel() throws {
        try withOpsGateway { gw, receiver in
            let c = try TestClient(port: gw.port)
            let first = numbered(1)
            #expect(try c.roundTrip(first.bytes).status == 200)
            #expect(gw.waitForLine { $0.contains("notification accepted") && $0.contains(first.msgID) } != nil)
            try (opsConfig(url: receiver.url + "/in") + "\nlog:\n  level: warn\n").replacing("@DIR@", with: gw.directory.path)
                .writeAtomically(to: gw.configPath)
            #expect(try admin(gw, "POST", "/admin/reload").status == 200)
            let second = numbered(2)
            #expect(try c.roundTrip(second.bytes).status == 200)
            #expect(receiver.waitFor(2).count == 2)
            // A warning still gets through, the info line about the second notification does not.
            #expect(try c.roundTrip(SignedRequest.payment(key: "wrong").bytes).status == 401)
            #expect(gw.waitForLine { $0.contains("notification rejected") } != nil)
            #expect(!gw.output.contains { $0.contains(second.msgID) && $0.contains("\"level\":\"info\"") })
        }
    }

    @Test func aStalledRequestDoesNotHoldShutdownBeyondTheGracePeriod() throws {
        // The receiver holds every delivery for 5 s: a running attempt is in progress too.
        let receiver = try RecordingHTTPServer(answer: .init(status: 200, delayMs: 5000))
        defer { receiver.stop() }
        let gw = try GatewayProcess(config: opsConfig(url: receiver.url + "/slow", graceMs: 800))
        defer { gw.stop() }
        try gw.waitUntilListening()
        let c = try TestClient(port: gw.port)
        #expect(try c.roundTrip(numbered(1).bytes).status == 200)
        #expect(receiver.waitFor(1).count == 1)
        // A second request that never finishes: headers only, the body never comes.
        let stalled = try TestClient(port: gw.port)
        var r = numbered(2)
        r.extraHeaders = [("Expect", "100-continue")]
        try stalled.send(r.headAndBody.head)
        #expect(String(decoding: try stalled.connection.readExactly(25), as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
        let start = Date()
        gw.signal(SIGTERM)
        #expect(gw.waitForExit(timeout: 10) == 0)
        // One grace period for both the request and the running delivery, not one each.
        let bound = ProcessInfo.processInfo.environment["GATEWAY_SANITIZER"] == nil ? 1.6 : 4.0  // sanitizers slow everything
        #expect(Date().timeIntervalSince(start) < bound)
        #expect(gw.output.contains { $0.contains("shutdown grace period over with requests still open") })
        #expect(gw.output.contains { $0.contains("delivery attempts still running") })
    }

    @Test func logOutputToAFileIsReopenedOnReload() throws {
        let receiver = try RecordingHTTPServer()
        defer { receiver.stop() }
        let config = opsConfig(url: receiver.url + "/in") + "\nlog:\n  output: @DIR@/gateway.log\n"
        let gw = try GatewayProcess(config: config)
        defer { gw.stop() }
        let logPath = gw.directory.appendingPathComponent("gateway.log").path
        func logText(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        #expect(eventually { logText(logPath).contains("gateway listening") })
        var st = stat()
        #expect(stat(logPath, &st) == 0 && st.st_mode & 0o777 == 0o600)
        // Rotation: move the file away, reload, and new lines go to a new file.
        let rotated = logPath + ".1"
        #expect(rename(logPath, rotated) == 0)
        gw.signal(SIGHUP)
        #expect(eventually { logText(logPath).contains("configuration reloaded") })
        #expect(logText(rotated).contains("gateway listening"))
        #expect(!logText(logPath).contains("gateway listening"))
    }

    @Test func sigtermAnswersRequestsInFlightThenExitsZero() throws {
        try withOpsGateway { gw, receiver in
            // Three requests whose bodies are still arriving when the signal comes.
            // `Expect: 100-continue`: the interim answer proves the gateway has read each head.
            let clients = try (1...3).map { _ in try TestClient(port: gw.port) }
            var bodies: [[UInt8]] = []
            for (i, c) in clients.enumerated() {
                var r = numbered(i + 1)
                r.extraHeaders = [("Expect", "100-continue")]
                let (head, body) = r.headAndBody
                try c.send(head)
                #expect(String(decoding: try c.connection.readExactly(25), as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
                bodies.append(body)
            }
            gw.signal(SIGTERM)
            #expect(gw.waitForLine { $0.contains("shutting down") } != nil)
            // Not ready any more, while the requests in flight are still open.
            #expect(eventually { (try? admin(gw, "GET", "/readyz", token: nil).status) == 503 })
            // A new connection is not served any more.
            #expect((try? TestClient(port: gw.port).roundTrip(numbered(9).bytes)) == nil)
            for (c, b) in zip(clients, bodies) { try c.send(b) }
            for c in clients {
                let answer = try c.read()
                #expect(answer.status == 200)
                #expect(answer.headers["Connection"]?.lowercased() == "close")
            }
            #expect(gw.waitForExit() == 0)
            // Answered 200 means stored: delivered now or on the next start, never lost.
            #expect(receivedMsgIDs(receiver).isSubset(of: ["1", "2", "3"]))
            #expect(gw.output.contains { $0.contains("\"stopped\"") })
        }
    }
}
