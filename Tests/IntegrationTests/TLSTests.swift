import Foundation
import GatewayCore
import GatewayCrypto
import GatewayHTTP
import GatewayTestKit
import Glibc
import Testing

let tlsFixtures = repoRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures/tls")

/// Copies a fixture certificate and key into `dir` (keys 0600: git does not keep modes).
func installCertificate(_ name: String, into dir: URL, as target: String = "server") throws -> (cert: String, key: String) {
    let cert = dir.appendingPathComponent("\(target).pem").path
    let key = dir.appendingPathComponent("\(target).key").path
    for (from, to) in [("\(name).pem", cert), ("\(name).key", key)] {
        try? FileManager.default.removeItem(atPath: to + ".tmp")
        try FileManager.default.copyItem(atPath: tlsFixtures.appendingPathComponent(from).path, toPath: to + ".tmp")
        chmod(to + ".tmp", 0o600)
        #expect(rename(to + ".tmp", to) == 0)
    }
    return (cert, key)
}

func tlsConfig(headerTimeoutMs: Int = 10_000) -> String {
    oneSourceConfig(
        server: "  workers: 2\n  headerTimeoutMs: \(headerTimeoutMs)\n  tls: { cert: @DIR@/server.pem, key: @DIR@/server.key }",
        admin: "admin:\n  listen: 127.0.0.1:0")
}

func curl(_ args: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = ["-sS", "--max-time", "10"] + args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    var data = Data()
    while true {
        let chunk = readChunk(out.fileHandleForReading.fileDescriptor)
        if chunk.isEmpty { break }
        data.append(chunk)
    }
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite("TLS", .serialized)
struct TLSTests {
    let trust: TLSClientContext

    init() throws {
        trust = try TLSClientContext(caFile: tlsFixtures.appendingPathComponent("ca.pem").path)
    }

    /// Starts a gateway on TLS with the `server` certificate installed.
    func startTLSGateway(_ config: String = tlsConfig()) throws -> GatewayProcess {
        let dir = try GatewayProcess.makeTempDirectory()
        _ = try installCertificate("server", into: dir)
        let gw = try GatewayProcess(config: config, directory: dir)
        try gw.waitUntilListening()
        return gw
    }

    @Test func notificationsArriveOverTLSAndPlainTextIsRefused() throws {
        let gw = try startTLSGateway()
        defer { gw.stop() }
        #expect(gw.output.contains { $0.contains("gateway listening") && $0.contains(#""tls":true"#) })
        let c = try TestClient(port: gw.port, tls: trust)
        #expect(c.connection.tlsVersion == "TLSv1.3")
        #expect(c.connection.tlsPeerSubject?.contains("server.test") == true)
        // Keep-alive over TLS: several notifications on one connection.
        for _ in 0..<3 {
            let r = try c.roundTrip(SignedRequest.payment().bytes)
            #expect(r.status == 200 && r.bodyText == "SUCCESS")
        }
        #expect(try c.roundTrip(SignedRequest.payment(key: "wrong").bytes).status == 401)

        // Plain HTTP on the TLS port: no answer is framed, the connection is closed.
        let plain = try TestClient(port: gw.port, timeoutMs: 3000)
        try plain.send(SignedRequest.payment().bytes)
        #expect((try? plain.read()) == nil)
        // A client that does not trust the certificate gives up (and the gateway keeps serving).
        let untrusted = try TLSClientContext(caFile: tlsFixtures.appendingPathComponent("other.pem").path)
        #expect(throws: HTTPClientError.self) { _ = try TestClient(port: gw.port, tls: untrusted) }
        #expect(try TestClient(port: gw.port, tls: trust).roundTrip(SignedRequest.payment().bytes).status == 200)
        // Both failed handshakes are counted.
        let m = try admin(gw, "GET", "/metrics", token: nil).bodyText
        #expect(m.contains(#"gateway_tls_handshake_failures_total{listener="public"} 2"#), "\(m.split(separator: "\n").filter { $0.contains("tls") })")
    }

    @Test func interoperatesWithCurlAndRefusesOldProtocols() throws {
        let gw = try startTLSGateway()
        defer { gw.stop() }
        let url = "https://127.0.0.1:\(gw.port)/webhooks/evo"
        let ca = tlsFixtures.appendingPathComponent("ca.pem").path
        // TLS 1.2 with a modern cipher works (the answer is the gateway's: 405 for GET).
        let v12 = try curl(["--cacert", ca, "--tlsv1.2", "--tls-max", "1.2", "-o", "/dev/null", "-w", "%{http_code}", url])
        #expect(v12.status == 0 && v12.output == "405", "\(v12.output)")
        let v13 = try curl(["--cacert", ca, "--tlsv1.3", "-o", "/dev/null", "-w", "%{http_code}", url])
        #expect(v13.status == 0 && v13.output == "405", "\(v13.output)")
        // TLS 1.1 and a CBC-only cipher list are refused in the handshake.
        let v11 = try curl(["--cacert", ca, "--tlsv1.1", "--tls-max", "1.1", url])
        #expect(v11.status != 0)
        let cbc = try curl(["--cacert", ca, "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-SHA:AES128-SHA", url])
        #expect(cbc.status != 0)
        #expect(try TestClient(port: gw.port, tls: trust).roundTrip(SignedRequest.payment().bytes).status == 200)
    }

    @Test func aStalledHandshakeIsCutOffAfterTheHeaderTimeout() throws {
        let gw = try startTLSGateway(tlsConfig(headerTimeoutMs: 500))
        defer { gw.stop() }
        let idle = try TestClient(port: gw.port)  // TCP only: never says hello
        #expect(idle.closedByServer(waitMs: 5000))
        let half = try TestClient(port: gw.port)
        try half.send([0x16, 0x03, 0x01, 0x00, 0x50])  // the start of a ClientHello, then nothing
        #expect(half.closedByServer(waitMs: 5000))
        #expect(try TestClient(port: gw.port, tls: trust).roundTrip(SignedRequest.payment().bytes).status == 200)
    }

    @Test func aReloadPicksUpARenewedCertificate() throws {
        let gw = try startTLSGateway()
        defer { gw.stop() }
        let before = try TestClient(port: gw.port, tls: trust)
        #expect(before.connection.tlsPeerSubject?.contains("server.test") == true)
        _ = try installCertificate("server2", into: gw.directory)
        gw.signal(SIGHUP)
        #expect(gw.waitForLine { $0.contains("configuration reloaded") } != nil)
        let after = try TestClient(port: gw.port, tls: trust)
        #expect(after.connection.tlsPeerSubject?.contains("server2.test") == true)
        #expect(try after.roundTrip(SignedRequest.payment().bytes).status == 200)
        // The connection opened before the reload keeps working.
        #expect(try before.roundTrip(SignedRequest.payment().bytes).status == 200)
        // A broken key on reload: refused, the current certificate keeps serving.
        try "not a key".writeAtomically(to: gw.directory.appendingPathComponent("server.key").path)
        chmod(gw.directory.appendingPathComponent("server.key").path, 0o600)
        gw.signal(SIGHUP)
        #expect(gw.waitForLine { $0.contains("configuration reload failed") && $0.contains("server.tls") } != nil)
        #expect(try TestClient(port: gw.port, tls: trust).connection.tlsPeerSubject?.contains("server2.test") == true)
    }

    @Test func checkRefusesAKeyOthersCanRead() throws {
        let dir = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, key) = try installCertificate("server", into: dir)
        chmod(key, 0o644)
        let path = dir.appendingPathComponent("gateway.yaml").path
        try tlsConfig().replacing("@DIR@", with: dir.path).writeAtomically(to: path)
        let r = try runGateway(["check", "--config", path])
        #expect(r.status != 0 && r.output.contains("readable by other users"))
        chmod(key, 0o600)
        let ok = try runGateway(["check", "--config", path])
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("tls on"))
        // A certificate that does not match the key.
        try FileManager.default.removeItem(atPath: key)
        try FileManager.default.copyItem(atPath: tlsFixtures.appendingPathComponent("server2.key").path, toPath: key)
        chmod(key, 0o600)
        let mismatch = try runGateway(["check", "--config", path])
        #expect(mismatch.status != 0 && mismatch.output.contains("does not match"))
    }

    @Test func forwardHTTPVerifiesCertificates() throws {
        let certs = try GatewayProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: certs) }
        let (cert, key) = try installCertificate("server", into: certs)
        let receiver = try RecordingHTTPServer(tls: TLSServerContext(certificateChainFile: cert, privateKeyFile: key))
        defer { receiver.stop() }
        let ca = tlsFixtures.appendingPathComponent("ca.pem").path
        let routes = """
            routes:
              - name: trusted
                events: ["*"]
                handlers: [ { plugin: forward-http, with: { url: "\(receiver.url)/trusted", caFile: "\(ca)" } } ]
              - name: system-store
                events: ["*"]
                handlers: [ { plugin: forward-http, with: { url: "\(receiver.url)/system" } } ]
                retry: {maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 10}
              - name: insecure
                events: ["*"]
                handlers: [ { plugin: forward-http, with: { url: "\(receiver.url)/insecure", insecureSkipVerify: true } } ]
            """
        let gw = try GatewayProcess(config: oneSourceConfig(rest: routes))
        defer { gw.stop() }
        try gw.waitUntilListening()
        #expect(gw.output.contains { $0.contains("insecureSkipVerify is on") })
        #expect(try TestClient(port: gw.port).roundTrip(numbered(1).bytes).status == 200)
        #expect(receiver.waitFor(2).count == 2)
        #expect(Set(receiver.received.map(\.target)) == ["/trusted", "/insecure"])
        // The test CA is not in the system store: that delivery fails verification.
        #expect(gw.waitForLine { $0.contains("dead letter") && $0.contains("system-store") && $0.contains("TLS certificate verification failed") } != nil)
        #expect(!receiver.received.contains { $0.target == "/system" })
    }
}

@Suite("Source limits", .serialized)
struct SourceLimitTests {
    func config(_ sourceExtra: String) -> String {
        oneSourceConfig(admin: "admin:\n  listen: 127.0.0.1:0", source: sourceExtra)
    }

    @Test func rateLimitAnswers429WithRetryAfter() throws {
        try withGateway(config("    rateLimit: {perSecond: 1, burst: 3}")) { gw in
            let c = try TestClient(port: gw.port)
            var statuses: [Int] = []
            var retryAfter: String? = nil
            for _ in 0..<5 {
                let r = try c.roundTrip(SignedRequest.payment().bytes)
                statuses.append(r.status)
                if r.status == 429 {
                    retryAfter = r.headers["Retry-After"]
                    #expect(jsonError(r) != nil)
                }
            }
            // The burst passes (within a second at most one more token comes back), then 429.
            #expect(statuses.prefix(3) == [200, 200, 200])
            #expect(statuses.last == 429)
            #expect(retryAfter == "1")
            // The connection stays usable, and once a token is back a notification passes.
            #expect(eventually(timeout: 5) { (try? c.roundTrip(SignedRequest.payment().bytes).status) == 200 })
            let metrics = try admin(gw, "GET", "/metrics", token: nil).bodyText
            #expect(metrics.contains(#"gateway_rate_limited_total{source="evo"}"#))
        }
    }

    @Test func allowFromRefusesOtherAddresses() throws {
        try withGateway(config("    allowFrom: [10.0.0.0/8, '2001:db8::/32']")) { gw in
            let r = try TestClient(port: gw.port).roundTrip(SignedRequest.payment().bytes)
            #expect(r.status == 403 && jsonError(r) == "this address may not send notifications here")
            #expect(gw.waitForLine { $0.contains("outside allowFrom") && $0.contains("127.0.0.1") } != nil)
        }
        try withGateway(config("    allowFrom: [127.0.0.0/8]")) { (gw: GatewayProcess) throws -> Void in
            #expect(try TestClient(port: gw.port).roundTrip(SignedRequest.payment().bytes).status == 200)
        }
    }
}
