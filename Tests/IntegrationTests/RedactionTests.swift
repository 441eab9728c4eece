import Foundation
import GatewayCore
import GatewayHTTP
import GatewayTestKit
import Glibc
import Testing

let leaky = repoRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures/leaky.sh").path

@Suite("Redaction end to end", .serialized)
struct RedactionEndToEndTests {
    static let signKey = "sign-key-Sup3rSecret-0001"
    static let pan = "4111111111111111"
    static let holder = "JANE Q CARDHOLDER"
    static let cryptogram = "CRYPTOGRAM-AbCdEf012345"
    static let tokenValue = "TOKENVALUE-9f8e7d6c5b4a"
    static let first6 = "424242"
    static let urlPassword = "pa55w0rd-in-url"

    /// A TokenUpdate-like notification carrying every kind of sensitive data.
    static var body: String {
        #"{"eventCode":"Payment","metadata":"order 7","payment":{"status":"Success","merchantTransInfo":{"merchantTransID":"MT-R-1"}},"#
            + #""paymentMethod":{"card":{"cardNumber":"\#(pan)","holderName":"\#(holder)","first6No":"\#(first6)","last4No":"4242","#
            + #""tokenCryptogram":"\#(cryptogram)"}},"token":{"value":"\#(tokenValue)","status":"active"}}"#
    }

    @Test func cardDataAndKeysNeverReachLogsMetricsOrAnswers() throws {
        // Every delivery fails: forward-http gets 500s (then a dead letter), the script exits 3.
        let receiver = try RecordingHTTPServer(answer: .init(status: 500))
        defer { receiver.stop() }
        let forwardURL = receiver.url.replacing("http://", with: "http://ops:\(Self.urlPassword)@") + "/in"
        let config = """
            server:
              listen: 127.0.0.1:0
              workers: 2
            admin:
              listen: 127.0.0.1:0
              token: \(adminToken)
            spool:
              dir: @DIR@/spool
            sources:
              - name: evo
                path: /webhooks/evo
                signKey: \(Self.signKey)
            routes:
              - name: forward
                events: ["*"]
                handlers:
                  - plugin: forward-http
                    with: { url: "\(forwardURL)", timeoutMs: 2000 }
                retry: {maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 50}
              - name: legacy
                events: ["*"]
                handlers:
                  - plugin: shell
                    with:
                      command: ["\(leaky)", "{{payment.merchantTransInfo.merchantTransID}}"]
                      env: { TOKEN: "{{token.value}}" }
                retry: {maxAttempts: 1, initialDelayMs: 20, maxDelayMs: 50}
            unmatched: deadletter
            log:
              level: debug
            """
        let gw = try GatewayProcess(config: config)
        defer { gw.stop() }
        try gw.waitUntilListening()
        let c = try TestClient(port: gw.port)
        var answers: [String] = []

        // Accepted (and then failing on both routes).
        let good = SignedRequest(body: Self.body, key: Self.signKey)
        let accepted = try c.roundTrip(good.bytes)
        #expect(accepted.status == 200)
        answers.append(accepted.bodyText)
        // Rejected: wrong key (its Authorization value must not be logged either), a tampered
        // body, bad JSON around card data.
        var wrong = SignedRequest(body: Self.body, key: "another-key-entirely")
        wrong.msgID = "m-wrong"
        let wrongAuth = wrong.authorization
        var tampered = good
        tampered.body = Array(Self.body.replacing("order 7", with: "order 8").utf8)
        tampered.authorizationOverride = good.authorization
        let badJSON = SignedRequest(body: Self.body + "}", key: Self.signKey)
        for r in [wrong, tampered, badJSON] {
            let a = try c.roundTrip(r.bytes)
            #expect(a.status >= 400)
            answers.append(a.bodyText)
        }
        // Both deliveries end as dead letters.
        #expect(gw.waitForLine { $0.contains("\"dead letter\"") && $0.contains("forward") } != nil)
        #expect(gw.waitForLine { $0.contains("\"dead letter\"") && $0.contains("legacy") } != nil)
        #expect(gw.waitForLine { $0.contains("shell hook failed") } != nil)
        #expect(receiver.received.count == 2)

        for path in ["/metrics", "/admin/routes", "/admin/deadletters"] {
            let a = try admin(gw, "GET", path)
            #expect(a.status == 200)
            answers.append(a.bodyText)
        }
        let reload = try admin(gw, "POST", "/admin/reload")
        answers.append(reload.bodyText)
        #expect(gw.waitForLine { $0.contains("configuration reloaded") } != nil)

        let everything = gw.output + answers
        let forbidden = [Self.signKey, Self.pan, Self.holder, Self.cryptogram, Self.tokenValue, Self.first6, Self.urlPassword, adminToken, wrongAuth, good.authorization]
        for secret in forbidden {
            let leaks = everything.filter { $0.contains(secret) }
            #expect(leaks.isEmpty, "\(secret) leaked in: \(leaks.prefix(2))")
        }
        // The lines are still useful: what happened, to which route, with which msgID.
        #expect(gw.output.contains { $0.contains("shell hook failed") && $0.contains("[REDACTED]") && $0.contains("MT-R-1") })
        #expect(gw.output.contains { $0.contains("notification rejected") && $0.contains("m-wrong") })
    }
}
